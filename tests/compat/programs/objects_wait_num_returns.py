import time

import ray

ray.init(num_cpus=2)


@ray.remote
def sleepy(t, v):
    time.sleep(t)
    return v


fast = sleepy.remote(0, "fast")
slow = sleepy.remote(15, "slow")
ready, not_ready = ray.wait([slow, fast], num_returns=1)
print(len(ready), len(not_ready), ray.get(ready), not_ready == [slow])
ready, not_ready = ray.wait([slow, fast], num_returns=1, timeout=None)
print(ray.get(ready))
ray.cancel(slow, force=True)
ray.shutdown()
