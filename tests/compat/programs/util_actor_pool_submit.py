import ray
from ray.util import ActorPool

ray.init(num_cpus=2)


@ray.remote(num_cpus=0)
class Echo:
    def echo(self, x):
        return f"echo {x}"


pool = ActorPool([Echo.remote(), Echo.remote()])
print(pool.has_next())
for i in range(4):
    pool.submit(lambda a, v: a.echo.remote(v), i)
print(pool.has_next())
out = []
while pool.has_next():
    out.append(pool.get_next())
print(out)
try:
    pool.get_next()
except StopIteration:
    print("StopIteration when empty")
ray.shutdown()
