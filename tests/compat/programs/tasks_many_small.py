import ray

ray.init(num_cpus=2)


@ray.remote
def inc(x):
    return x + 1


refs = [inc.remote(i) for i in range(500)]
print(sum(ray.get(refs)))
print(ray.get(refs[:5]), ray.get(refs[-1]))
ray.shutdown()
