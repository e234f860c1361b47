import ray

ray.init(num_cpus=2)


@ray.remote(scheduling_strategy="SPREAD")
def square(x):
    return x * x


@ray.remote
def cube(x):
    return x**3


print(ray.get([square.remote(i) for i in range(6)]))
print(ray.get([cube.options(scheduling_strategy="SPREAD").remote(i) for i in range(4)]))
print(ray.get(cube.options(scheduling_strategy="DEFAULT").remote(3)))
ray.shutdown()
