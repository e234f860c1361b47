import time

import ray

ray.init(num_cpus=2)


@ray.remote
def sleepy():
    time.sleep(20)


pending = [sleepy.remote() for _ in range(2)]
ready, not_ready = ray.wait(pending, num_returns=2, timeout=0.5)
print(len(ready), len(not_ready))
done = ray.put(1)
ready, not_ready = ray.wait([pending[0], done], num_returns=2, timeout=0.5)
print(ready == [done], not_ready == [pending[0]])
for r in pending:
    ray.cancel(r, force=True)
ray.shutdown()
