import ray

ray.init(num_cpus=2)


@ray.remote
def describe(a, b=10, *args, c="c", **kwargs):
    return (a, b, args, c, sorted(kwargs.items()))


print(ray.get(describe.remote(1)))
print(ray.get(describe.remote(1, 2)))
print(ray.get(describe.remote(1, 2, 3, 4, c="x", z=5, y=6)))
print(ray.get(describe.remote(a="only-kw")))
print(ray.get(describe.remote(None, b=[1, 2], c={"k": "v"})))
try:
    describe.remote()
except TypeError as e:
    print("TypeError at .remote():", "missing" in str(e))
ray.shutdown()
