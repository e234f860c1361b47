import os
import tempfile

import ray

ray.init(num_cpus=2)
marker = os.path.join(tempfile.mkdtemp(), "crashed-once")


@ray.remote(max_retries=1)
def crash_once(path):
    if not os.path.exists(path):
        open(path, "w").close()
        os._exit(1)
    return "second attempt succeeded"


print(ray.get(crash_once.remote(marker)))
ray.shutdown()
