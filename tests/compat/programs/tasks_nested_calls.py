import ray

ray.init(num_cpus=2)


@ray.remote
def leaf(x):
    return x * 10


@ray.remote
def middle(x):
    return sum(ray.get([leaf.remote(x), leaf.remote(x + 1)]))


@ray.remote
def top(n):
    return ray.get([middle.remote(i) for i in range(n)])


print(ray.get(top.remote(4)))
ray.shutdown()
