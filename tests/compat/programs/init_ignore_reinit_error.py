import ray

ray.init(num_cpus=2)
try:
    ray.init(num_cpus=2)
    print("second init accepted")
except RuntimeError as e:
    print("RuntimeError:", "ignore_reinit_error" in str(e))
ctx = ray.init(ignore_reinit_error=True)
print(ctx is not None, ray.is_initialized())
ray.shutdown()
