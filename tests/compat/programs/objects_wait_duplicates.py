import ray

ray.init(num_cpus=2)

r = ray.put(1)
try:
    ray.wait([r, r])
    print("accepted duplicates")
except ValueError as e:
    print("ValueError:", "unique" in str(e))
ray.shutdown()
