import ray

ray.init(num_cpus=2)


@ray.remote(num_cpus=1)
class Holder:
    def __init__(self, v):
        self.v = v

    def get(self):
        return self.v


a = Holder.options(num_cpus=0, name="opt-a").remote("a")
b = Holder.options(max_concurrency=4, max_restarts=1).remote("b")
c = Holder.options(num_cpus=0.5).remote("c")
print(ray.get([a.get.remote(), b.get.remote(), c.get.remote()]))
print(ray.get(ray.get_actor("opt-a").get.remote()))
ray.shutdown()
