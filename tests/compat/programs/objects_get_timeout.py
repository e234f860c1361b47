import time

import ray

ray.init(num_cpus=2)


@ray.remote
def slow():
    time.sleep(20)
    return "late"


ref = slow.remote()
try:
    ray.get(ref, timeout=0.5)
except ray.exceptions.GetTimeoutError as e:
    print(type(e).__name__, isinstance(e, TimeoutError), isinstance(e, ray.exceptions.RayError))
try:
    ray.get([ray.put(1), ref], timeout=0.2)
except TimeoutError:
    print("list get timed out too")
ray.cancel(ref, force=True)
ray.shutdown()
