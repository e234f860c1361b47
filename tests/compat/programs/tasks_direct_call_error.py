import ray

ray.init(num_cpus=2)


@ray.remote
def f(x):
    return x


try:
    f(1)
except TypeError as e:
    print("TypeError:", ".remote()" in str(e))
print(ray.get(f.remote(1)))
ray.shutdown()
