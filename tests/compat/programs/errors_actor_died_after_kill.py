import ray

ray.init(num_cpus=2)


@ray.remote
class A:
    def ping(self):
        return "pong"


a = A.remote()
print(ray.get(a.ping.remote()))
ray.kill(a)
try:
    ray.get(a.ping.remote())
except ray.exceptions.ActorDiedError as e:
    print(type(e).__name__, isinstance(e, ray.exceptions.RayActorError), isinstance(e, ray.exceptions.RayError))
ray.shutdown()
