import time

import ray

ray.init(num_cpus=2)


@ray.remote
class Helper:
    def ping(self):
        return "pong"


@ray.remote
def use_helper():
    h = Helper.remote()
    return ray.get(h.ping.remote())


print(ray.get(use_helper.remote()))
print(ray.get([use_helper.remote() for _ in range(3)]))
# Actors made inside tasks and no longer referenced are cleaned up; the cluster stays usable.
time.sleep(1)
print(ray.get(use_helper.remote()))
ray.shutdown()
