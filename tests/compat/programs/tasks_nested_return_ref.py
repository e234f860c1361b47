import ray

ray.init(num_cpus=2)


@ray.remote
def inner():
    return "inner value"


@ray.remote
def outer():
    return inner.remote()


r = ray.get(outer.remote())
print(type(r).__name__)
print(ray.get(r))


@ray.remote
def returns_list_of_refs(n):
    return [ray.put(i * i) for i in range(n)]


refs = ray.get(returns_list_of_refs.remote(4))
print([type(x).__name__ for x in refs], ray.get(refs))
ray.shutdown()
