import time

import ray

ray.init(num_cpus=2)


@ray.remote
def slow():
    time.sleep(30)
    return 1


@ray.remote
def consumer(x):
    return x + 1


s = slow.remote()
c = consumer.remote(s)
ray.cancel(c)
try:
    ray.get(c, timeout=30)
except ray.exceptions.TaskCancelledError:
    print("dependent task cancelled while waiting for its argument")
ray.shutdown()
