import ray
from ray.util import ActorPool

ray.init(num_cpus=2)


@ray.remote(num_cpus=0)
class Doubler:
    def double(self, x):
        return 2 * x


pool = ActorPool([Doubler.remote() for _ in range(3)])
print(list(pool.map(lambda a, v: a.double.remote(v), range(8))))
print(list(pool.map(lambda a, v: a.double.remote(v), [])))
ray.shutdown()
