import ray

ray.init(num_cpus=2)


@ray.remote
def gen(n):
    for i in range(n):  # noqa: UP028
        yield i


g = gen.remote(3)
ready, not_ready = ray.wait([g], timeout=30)
print(len(ready), len(not_ready))
print([ray.get(r) for r in g])
ray.shutdown()
