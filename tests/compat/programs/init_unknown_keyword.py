import ray

try:
    ray.init(num_cpus=2, definitely_not_an_option=True)
    print("accepted")
except Exception as e:
    print(type(e).__name__, "definitely_not_an_option" in str(e))
print(ray.is_initialized())
