import ray

ray.init(num_cpus=2, namespace="team-a")
print(ray.get_runtime_context().namespace)


@ray.remote
def ns():
    return ray.get_runtime_context().namespace


print(ray.get(ns.remote()))
ray.shutdown()
