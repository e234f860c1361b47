import os
import tempfile

import ray

workdir = tempfile.mkdtemp()
with open(os.path.join(workdir, "shipped_helper.py"), "w") as f:
    f.write("def shout(s):\n    return s.upper() + '!'\n")
with open(os.path.join(workdir, "data.txt"), "w") as f:
    f.write("file contents\n")

ray.init(num_cpus=2, runtime_env={"working_dir": workdir})


@ray.remote
def use_module():
    import shipped_helper

    with open("data.txt") as f:
        return shipped_helper.shout("hi"), f.read().strip()


print(ray.get(use_module.remote()))
ray.shutdown()
