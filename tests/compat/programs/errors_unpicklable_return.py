import threading

import ray

ray.init(num_cpus=2)


@ray.remote
def give_lock():
    return threading.Lock()


try:
    ray.get(give_lock.remote())
    print("no error")
except Exception as e:
    print(isinstance(e, ray.exceptions.RayError), isinstance(e, TypeError))
ray.shutdown()
