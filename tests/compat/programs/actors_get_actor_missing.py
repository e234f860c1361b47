import ray

ray.init(num_cpus=2)
try:
    ray.get_actor("never-created")
except ValueError as e:
    print("ValueError:", "never-created" in str(e))
ray.shutdown()
