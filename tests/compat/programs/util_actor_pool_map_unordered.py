import ray
from ray.util import ActorPool

ray.init(num_cpus=2)


@ray.remote(num_cpus=0)
class Squarer:
    def square(self, x):
        return x * x


pool = ActorPool([Squarer.remote(), Squarer.remote()])
results = list(pool.map_unordered(lambda a, v: a.square.remote(v), range(10)))
print(sorted(results))
ray.shutdown()
