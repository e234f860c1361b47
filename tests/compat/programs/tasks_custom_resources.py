import ray

ray.init(num_cpus=2, resources={"widget": 3})


@ray.remote(resources={"widget": 1})
def use_widget(i):
    return i + 100


@ray.remote
def plain():
    return "plain"


print(ray.cluster_resources().get("widget"))
print(ray.get([use_widget.remote(i) for i in range(5)]))
print(ray.get(use_widget.options(resources={"widget": 3}).remote(0)))
print(ray.get(plain.options(num_cpus=0.5).remote()))
ray.shutdown()
