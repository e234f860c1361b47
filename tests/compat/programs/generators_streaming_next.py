import ray

ray.init(num_cpus=2)


@ray.remote
def count(n):
    for i in range(n):
        yield i * 10


gen = count.remote(3)
print(type(gen).__name__)
first = next(gen)
print(type(first).__name__, ray.get(first))
print(ray.get(next(gen)), ray.get(next(gen)))
try:
    next(gen)
except StopIteration:
    print("StopIteration")
ray.shutdown()
