import ray

ray.init(num_cpus=2)


@ray.remote
def inner():
    raise ZeroDivisionError("inner failure")


@ray.remote
def outer():
    return ray.get(inner.remote())


try:
    ray.get(outer.remote())
except ZeroDivisionError as e:
    print(type(e).__name__.startswith("RayTaskError"), "inner failure" in str(e))
ray.shutdown()
