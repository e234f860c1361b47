import time

import ray

ray.init(num_cpus=2)


@ray.remote
def sleepy():
    time.sleep(20)


p = sleepy.remote()
d = ray.put("x")
ready, not_ready = ray.wait([p, d], num_returns=1, timeout=0)
print(ready == [d], not_ready == [p])
ready, not_ready = ray.wait([p], timeout=0)
print(ready, len(not_ready))
ray.cancel(p, force=True)
ray.shutdown()
