import os

import ray

ray.init(num_cpus=2, runtime_env={"env_vars": {"JOB_LEVEL": "from-init", "SHARED": "job"}})


@ray.remote
def read():
    return os.environ.get("JOB_LEVEL"), os.environ.get("SHARED")


@ray.remote
class Reader:
    def read(self):
        return os.environ.get("JOB_LEVEL")


print(ray.get(read.remote()))
print(ray.get(read.options(runtime_env={"env_vars": {"SHARED": "task"}}).remote()))
print(ray.get(Reader.remote().read.remote()))
print(os.environ.get("JOB_LEVEL"))
ray.shutdown()
