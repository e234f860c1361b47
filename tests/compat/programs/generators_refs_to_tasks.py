import ray

ray.init(num_cpus=2)


@ray.remote
def chunks(n):
    for i in range(n):
        yield list(range(i + 1))


@ray.remote
def total(chunk):
    return sum(chunk)


print(ray.get([total.remote(r) for r in chunks.remote(5)]))
ray.shutdown()
