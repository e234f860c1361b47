import ray

ray.init(num_cpus=2, resources={"slot": 4})


@ray.remote(num_cpus=1)
def one():
    return ray.get_runtime_context().get_assigned_resources()


@ray.remote(num_cpus=0.5, resources={"slot": 2})
def mixed():
    return sorted(ray.get_runtime_context().get_assigned_resources().items())


print(ray.get(one.remote()))
print(ray.get(mixed.remote()))
print(ray.get(one.options(num_cpus=2).remote()))
ray.shutdown()
