import ray

ray.init(num_cpus=2)


@ray.remote
def kind(x):
    return type(x).__name__, x


@ray.remote
def make(n):
    return list(range(n))


ref = ray.put({"a": 1})
print(ray.get(kind.remote(ref)))
print(ray.get(kind.remote(make.remote(3))))
print(ray.get(kind.remote(x=ray.put(7))))
# A chain: the result of one task feeds the next without a get in between.
r = make.remote(2)
for _ in range(3):
    r = kind.remote(r)
print(ray.get(r))
ray.shutdown()
