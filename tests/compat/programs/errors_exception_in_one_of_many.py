import ray

ray.init(num_cpus=2)


@ray.remote
def maybe_fail(i):
    if i % 3 == 0:
        raise ValueError(f"item {i}")
    return i


refs = [maybe_fail.remote(i) for i in range(7)]
results = []
for r in refs:
    try:
        results.append(ray.get(r))
    except ValueError as e:
        results.append("error:" + str(e).splitlines()[-1])
print(results)
ready, _ = ray.wait(refs, num_returns=len(refs))
print(len(ready))
ray.shutdown()
