import ray

try:
    ray.init(address="auto")
    print("connected")
except ConnectionError:
    print("ConnectionError")
print(ray.is_initialized())
