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
# which three of ten ready refs come back is Ray's choice (not the first three): only count
print(len(ready), len(not_ready), sorted(ray.get(ready + not_ready)) == list(range(10)))
ray.shutdown()
