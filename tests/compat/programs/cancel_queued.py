import time

import ray

ray.init(num_cpus=2)


@ray.remote
def occupy():
    time.sleep(3)
    return "occupied"


@ray.remote
def queued():
    return "should not run"


blockers = [occupy.remote() for _ in range(2)]
time.sleep(0.5)
q = queued.remote()
ray.cancel(q)
try:
    ray.get(q, timeout=30)
except ray.exceptions.TaskCancelledError as e:
    print(type(e).__name__, isinstance(e, ray.exceptions.RayError))
print(ray.get(blockers))
ray.shutdown()
