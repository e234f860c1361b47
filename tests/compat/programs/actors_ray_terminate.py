import ray

ray.init(num_cpus=2)


@ray.remote
class Polite:
    def ping(self):
        return "pong"


p = Polite.remote()
print(ray.get(p.ping.remote()))
first = p.ping.remote()
p.__ray_terminate__.remote()
print(ray.get(first))  # queued before the terminate call: still answered
try:
    ray.get(p.ping.remote())
except ray.exceptions.RayActorError as e:
    print(type(e).__name__)
ray.shutdown()
