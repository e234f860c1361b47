import ray

ray.init(num_cpus=2)


@ray.remote(num_returns=0)
def side_effect_only():
    return None


print(side_effect_only.remote())
ray.shutdown()
