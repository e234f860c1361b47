import time

import ray

ray.init(num_cpus=2)


@ray.remote
def slow():
    time.sleep(25)
    return 1


@ray.remote
def fails():
    raise IndexError("early failure")


s = slow.remote()
start = time.time()
try:
    ray.get([s, fails.remote()])
except IndexError:
    print("IndexError before the slow task finished:", time.time() - start < 15)
ray.cancel(s, force=True)
ray.shutdown()
