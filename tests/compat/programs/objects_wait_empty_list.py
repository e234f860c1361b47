import ray

ray.init(num_cpus=2)

try:
    print(ray.wait([]))
except Exception as e:
    print(type(e).__name__)
try:
    print(ray.wait([], num_returns=0))
except Exception as e:
    print(type(e).__name__)
ray.shutdown()
