import ray

ray.init(num_cpus=2)


@ray.remote
def partial(n):
    for i in range(n):
        if i == 2:
            raise ValueError("broke at 2")
        yield i


gen = partial.remote(5)
results = []
for ref in gen:
    try:
        results.append(ray.get(ref))
    except ValueError as e:
        results.append("error: " + str(e).splitlines()[-1])
print(results)
ray.shutdown()
