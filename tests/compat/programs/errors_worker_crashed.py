import os

import ray

ray.init(num_cpus=2)


@ray.remote(max_retries=0)
def die():
    os._exit(1)


try:
    ray.get(die.remote())
except ray.exceptions.WorkerCrashedError as e:
    print(type(e).__name__, isinstance(e, ray.exceptions.RayError))


@ray.remote
def fine():
    return "cluster still works"


print(ray.get(fine.remote()))
ray.shutdown()
