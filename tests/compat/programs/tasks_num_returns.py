import ray

ray.init(num_cpus=2)


@ray.remote(num_returns=3)
def three():
    return "a", "b", "c"


@ray.remote(num_returns=1)
def one_tuple():
    return (1, 2)


refs = three.remote()
print(type(refs).__name__, len(refs))
print(all(isinstance(r, ray.ObjectRef) for r in refs))
print(ray.get(list(refs)))
print(ray.get(refs[1]))
print(ray.get(one_tuple.remote()))
ray.shutdown()
