import ray

ray.init(num_cpus=2)


@ray.remote
def make(i):
    return i


refs = [make.remote(i) for i in range(4)]
ready, not_ready = ray.wait(refs, num_returns=4, fetch_local=False)
print(len(ready), len(not_ready))
ready, not_ready = ray.wait(refs, num_returns=2, timeout=10, fetch_local=True)
print(len(ready), len(not_ready))
print(ray.get(refs))
ray.shutdown()
