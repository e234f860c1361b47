import os

import ray

os.environ["RAY_ADDRESS"] = "local"
ray.init(num_cpus=2)


@ray.remote
def f():
    return "started a local cluster"


print(ray.get(f.remote()))
ray.shutdown()
