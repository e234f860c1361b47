import ray
import ray.actor

for n in ("ActorHandle", "ActorClass", "ActorMethod", "exit_actor", "method"):
    print(n, hasattr(ray.actor, n))
ray.init(num_cpus=2)


@ray.remote
class A:
    def m(self):
        return 1


h = A.remote()
print(isinstance(h, ray.actor.ActorHandle))
print(isinstance(A, ray.actor.ActorClass))
print(isinstance(h.m, ray.actor.ActorMethod))
print(type(h).__name__, type(h.m).__name__)
ray.shutdown()
