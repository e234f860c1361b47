import threading

import ray

ray.init(num_cpus=2)


class LockedError(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.lock = threading.Lock()


@ray.remote
def bad():
    raise LockedError("cannot travel")


try:
    ray.get(bad.remote())
except Exception as e:
    print(isinstance(e, ray.exceptions.RayError), isinstance(e, LockedError))
    print("cannot travel" in str(e))
ray.shutdown()
