import os

import ray

ray.init(num_cpus=2)


@ray.remote
def read(name):
    return os.environ.get(name)


print(ray.get(read.options(runtime_env={"env_vars": {"GREETING": "hello"}}).remote("GREETING")))
print(ray.get(read.remote("GREETING")))


@ray.remote(runtime_env={"env_vars": {"MODE": "decorated"}})
def mode():
    return os.environ["MODE"]


print(ray.get(mode.remote()))
ray.shutdown()
