# compat: expect-exit
import time

import ray

ray.init(num_cpus=2)


@ray.remote
def slow():
    time.sleep(30)


print("before")
ray.get(slow.remote(), timeout=0.5)
