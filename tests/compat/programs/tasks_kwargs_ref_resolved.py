import ray

ray.init(num_cpus=2)


@ray.remote
def combine(a, *, b, c=None):
    return [type(a).__name__, type(b).__name__, type(c).__name__, a + b]


x = ray.put(10)
y = ray.put(20)
print(ray.get(combine.remote(x, b=y)))
print(ray.get(combine.remote(1, b=2, c=[y])))
ray.shutdown()
