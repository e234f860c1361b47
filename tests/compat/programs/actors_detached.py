import ray

ray.init(num_cpus=2, namespace="detached-demo")


@ray.remote
class Keeper:
    def __init__(self):
        self.v = "kept"

    def get(self):
        return self.v


k = Keeper.options(name="keeper", lifetime="detached").remote()
print(ray.get(k.get.remote()))
del k
print(ray.get(ray.get_actor("keeper").get.remote()))
ray.kill(ray.get_actor("keeper"))
ray.shutdown()
