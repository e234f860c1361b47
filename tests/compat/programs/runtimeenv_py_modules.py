import os
import tempfile

import ray

root = tempfile.mkdtemp()
pkg = os.path.join(root, "compat_pkg")
os.makedirs(pkg)
with open(os.path.join(pkg, "__init__.py"), "w") as f:
    f.write("VALUE = 'from py_modules'\n\ndef double(x):\n    return 2 * x\n")

ray.init(num_cpus=2, runtime_env={"py_modules": [pkg]})


@ray.remote
def use():
    import compat_pkg

    return compat_pkg.VALUE, compat_pkg.double(21)


print(ray.get(use.remote()))
ray.shutdown()
