import ray

ray.init(num_cpus=2)


@ray.remote(num_returns=2)
def wrong():
    return 1, 2, 3


@ray.remote(num_returns=2)
def not_iterable():
    return 5


for label, fn in (("three for two", wrong), ("int for two", not_iterable)):
    a, b = fn.remote()
    try:
        ray.get(a)
        print(label, "no error")
    except Exception as e:
        print(label, isinstance(e, ray.exceptions.RayTaskError), isinstance(e, (ValueError, TypeError)))
ray.shutdown()
