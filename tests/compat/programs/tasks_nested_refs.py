import ray

ray.init(num_cpus=2)


@ray.remote
def inspect(container):
    if isinstance(container, dict):
        items = list(container.values())
    else:
        items = list(container)
    kinds = [type(x).__name__ for x in items]
    values = ray.get([x for x in items if isinstance(x, ray.ObjectRef)])
    return kinds, values


a = ray.put(1)
b = ray.put("two")
print(ray.get(inspect.remote([a, b])))
print(ray.get(inspect.remote((a, 3))))
print(ray.get(inspect.remote({"x": a, "y": 5})))
print(ray.get(inspect.remote([[a]])))
ray.shutdown()
