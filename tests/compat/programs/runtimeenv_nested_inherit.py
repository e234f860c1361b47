import os

import ray

ray.init(num_cpus=2)


@ray.remote
def child():
    return os.environ.get("INHERITED")


@ray.remote
def parent():
    return os.environ.get("INHERITED"), ray.get(child.remote())


print(ray.get(parent.options(runtime_env={"env_vars": {"INHERITED": "yes"}}).remote()))
ray.shutdown()
