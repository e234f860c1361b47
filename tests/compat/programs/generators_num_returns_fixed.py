import ray

ray.init(num_cpus=2)


@ray.remote(num_returns=3)
def three():
    for x in ("a", "b", "c"):  # noqa: UP028
        yield x


refs = three.remote()
print(len(refs), ray.get(list(refs)))


@ray.remote(num_returns=3)
def too_few():
    yield 1
    yield 2


a, b, c = too_few.remote()
try:
    ray.get([a, b, c])
    print("no error")
except Exception as e:
    print(isinstance(e, ray.exceptions.RayTaskError))
ray.shutdown()
