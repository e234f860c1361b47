import time

import ray

ray.init(num_cpus=2)


@ray.remote
def slow():
    time.sleep(20)


done = ray.put("ready")
print(ray.get(done, timeout=0))
pending = slow.remote()
try:
    ray.get(pending, timeout=0)
except ray.exceptions.GetTimeoutError:
    print("GetTimeoutError with timeout=0")
ray.cancel(pending, force=True)
ray.shutdown()
