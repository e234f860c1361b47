import ray

ray.init(num_cpus=2)


@ray.remote
def ident(i):
    return i


refs = [ident.remote(i) for i in range(10)]
ray.get(refs)
shuffled = refs[5:] + refs[:5]
ready, not_ready = ray.wait(shuffled, num_returns=len(shuffled))
print(ready == shuffled, not_ready)
ready, not_ready = ray.wait(shuffled, num_returns=3)
print(ray.get(ready), len(not_ready))
print(ray.get(not_ready) == ray.get(shuffled[3:]))
ray.shutdown()
