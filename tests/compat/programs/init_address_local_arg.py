import ray

ray.init(address="local", num_cpus=2)
print(ray.cluster_resources()["CPU"])
ray.shutdown()
