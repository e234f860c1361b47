import ray

ray.init(num_cpus=2)


def plain(x):
    return x + 1


as_function = ray.remote(plain)
with_options = ray.remote(num_cpus=1, max_retries=0)(plain)


@ray.remote(num_cpus=1, num_returns=2)
def pair():
    return "left", "right"


print(ray.get(as_function.remote(1)), ray.get(with_options.remote(2)))
print(ray.get(list(pair.remote())))
print(plain(5))  # the undecorated function is untouched
ray.shutdown()
