import ray

ray.init(num_cpus=2)
for bad in (123, "ref", None):
    try:
        ray.cancel(bad)
        print(type(bad).__name__, "accepted")
    except TypeError:
        print(type(bad).__name__, "TypeError")
ray.shutdown()
