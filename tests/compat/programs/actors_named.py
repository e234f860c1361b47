import ray

ray.init(num_cpus=2)


@ray.remote
class Registry:
    def __init__(self):
        self.d = {}

    def set(self, k, v):
        self.d[k] = v

    def get(self, k):
        return self.d.get(k)


r = Registry.options(name="registry").remote()
ray.get(r.set.remote("a", 1))
same = ray.get_actor("registry")
print(ray.get(same.get.remote("a")))


@ray.remote
def from_task():
    h = ray.get_actor("registry")
    ray.get(h.set.remote("b", 2))
    return ray.get(h.get.remote("b"))


print(ray.get(from_task.remote()), ray.get(r.get.remote("b")))
ray.shutdown()
