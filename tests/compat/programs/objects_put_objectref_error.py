import ray

ray.init(num_cpus=2)

r = ray.put(1)
try:
    ray.put(r)
    print("put of a ref accepted")
except TypeError:
    print("TypeError")
print(ray.get(ray.put([r]))[0] == r)
ray.shutdown()
