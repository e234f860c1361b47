import threading

import ray

ray.init(num_cpus=2)


@ray.remote
def use(x):
    return "used"


try:
    use.remote(threading.Lock())
    print("submitted")
except TypeError:
    print("TypeError at .remote()")
try:
    ray.put(threading.Lock())
    print("put")
except TypeError:
    print("TypeError at put()")
ray.shutdown()
