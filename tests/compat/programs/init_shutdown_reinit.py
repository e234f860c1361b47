import ray


@ray.remote
def value(x):
    return x


print(ray.is_initialized())
ray.init(num_cpus=2)
print(ray.is_initialized(), ray.get(value.remote(1)))
ray.shutdown()
print(ray.is_initialized())
ray.shutdown()  # a second shutdown is harmless
ray.init(num_cpus=1)
print(ray.is_initialized(), ray.get(value.remote(2)), ray.cluster_resources()["CPU"])
ray.shutdown()
print(ray.is_initialized())
