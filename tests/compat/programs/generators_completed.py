import ray

ray.init(num_cpus=2)


@ray.remote
def items():
    for i in range(3):  # noqa: UP028
        yield i


gen = items.remote()
done = gen.completed()
print(type(done).__name__)
ray.get(done)
print("generator finished")
print([ray.get(r) for r in gen])
ray.shutdown()
