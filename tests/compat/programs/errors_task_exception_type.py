import ray

ray.init(num_cpus=2)


@ray.remote
def bad(kind):
    raise kind("user message")


for kind in (ValueError, KeyError, ZeroDivisionError, RuntimeError):
    try:
        ray.get(bad.remote(kind))
    except kind as e:
        print(kind.__name__, type(e).__name__, isinstance(e, ray.exceptions.RayTaskError))
try:
    ray.get(bad.remote(ValueError))
except ray.exceptions.RayTaskError as e:
    print("caught as RayTaskError too", isinstance(e, ValueError))
ray.shutdown()
