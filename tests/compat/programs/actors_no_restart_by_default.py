import os

import ray

ray.init(num_cpus=2)


@ray.remote
class Once:
    def die(self):
        os._exit(0)

    def ping(self):
        return "pong"


o = Once.remote()
print(ray.get(o.ping.remote()))
try:
    ray.get(o.die.remote())
except ray.exceptions.RayActorError as e:
    print("die:", type(e).__name__)
try:
    ray.get(o.ping.remote())
except ray.exceptions.RayActorError as e:
    print("ping:", type(e).__name__)
ray.shutdown()
