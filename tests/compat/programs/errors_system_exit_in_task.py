import sys

import ray

ray.init(num_cpus=2)


@ray.remote(max_retries=0)
def leave():
    sys.exit(3)


try:
    print(ray.get(leave.remote()))
except Exception as e:
    print(isinstance(e, ray.exceptions.RayError))


@ray.remote
def ok():
    return "ok"


print(ray.get(ok.remote()))
ray.shutdown()
