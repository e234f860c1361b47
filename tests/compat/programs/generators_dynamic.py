import ray

ray.init(num_cpus=2)


@ray.remote(num_returns="dynamic")
def split(n):
    for i in range(n):
        yield i * 2


ref = split.remote(4)
print(type(ref).__name__)
gen = ray.get(ref)
refs = list(gen)
print(len(refs), all(isinstance(r, ray.ObjectRef) for r in refs))
print(ray.get(refs))
ray.shutdown()
