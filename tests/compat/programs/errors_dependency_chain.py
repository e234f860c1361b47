import ray

ray.init(num_cpus=2)


@ray.remote
def source():
    raise ValueError("root cause")


@ray.remote
def step(x):
    return x + 1


r = source.remote()
for _ in range(3):
    r = step.remote(r)
try:
    ray.get(r)
except ValueError as e:
    print(type(e).__name__.startswith("RayTaskError"), "root cause" in str(e))
    print(isinstance(e, ray.exceptions.RayTaskError))
ray.shutdown()
