import ray


@ray.remote
def add(a, b):
    return a + b


print(ray.is_initialized())
print(ray.get(add.remote(2, 3)))
print(ray.is_initialized())
