import ray

ray.init(num_cpus=2)


@ray.remote
def gpus():
    return ray.get_gpu_ids()


print(ray.get_gpu_ids())
print(ray.get(gpus.remote()))
print(ray.cluster_resources().get("GPU", 0))
ray.shutdown()
