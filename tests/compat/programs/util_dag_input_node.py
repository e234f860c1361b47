import ray
from ray.dag import InputNode

ray.init(num_cpus=2)


@ray.remote
def inc(x):
    return x + 1


@ray.remote
def combine(a, b):
    return [a, b]


with InputNode() as inp:
    dag = combine.bind(inc.bind(inp), inc.bind(inc.bind(inp)))

print(ray.get(dag.execute(1)))
print(ray.get(dag.execute(10)))
ray.shutdown()
