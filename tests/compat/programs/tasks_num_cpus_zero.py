import ray

ray.init(num_cpus=2)


@ray.remote(num_cpus=0)
def free(i):
    return i * 2


@ray.remote(num_cpus=2)
def whole_node():
    return ray.get([free.remote(i) for i in range(5)])


# A task holding every CPU can still run zero-CPU tasks.
print(ray.get(whole_node.remote()))
ray.shutdown()
