import ray

ray.init(num_cpus=2)


@ray.remote
def split(xs):
    half = len(xs) // 2
    return xs[:half], xs[half:]


whole = split.remote([1, 2, 3, 4])
print(type(whole).__name__, ray.get(whole))
left, right = split.options(num_returns=2).remote([1, 2, 3, 4])
print(ray.get(left), ray.get(right))
print(ray.get(split.remote([5, 6])))
ray.shutdown()
