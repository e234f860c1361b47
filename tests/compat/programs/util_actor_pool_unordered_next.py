import ray
from ray.util import ActorPool

ray.init(num_cpus=2)


@ray.remote(num_cpus=0)
class Inc:
    def inc(self, x):
        return x + 1


actors = [Inc.remote(), Inc.remote()]
pool = ActorPool(actors)
for i in range(5):
    pool.submit(lambda a, v: a.inc.remote(v), i)
got = [pool.get_next_unordered(timeout=30) for _ in range(5)]
print(sorted(got))
print(pool.has_free())
idle = pool.pop_idle()
print(idle is not None, pool.has_free())
pool.push(idle)
print(list(pool.map(lambda a, v: a.inc.remote(v), [10, 20])))
ray.shutdown()
