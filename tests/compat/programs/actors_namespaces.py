import ray

ray.init(num_cpus=2, namespace="alpha")


@ray.remote
class Tag:
    def __init__(self, t):
        self.t = t

    def tag(self):
        return self.t


a = Tag.options(name="same").remote("in alpha")
b = Tag.options(name="same", namespace="beta").remote("in beta")
print(ray.get(ray.get_actor("same").tag.remote()))
print(ray.get(ray.get_actor("same", namespace="beta").tag.remote()))
print(ray.get(ray.get_actor("same", namespace="alpha").tag.remote()))
try:
    ray.get_actor("same", namespace="gamma")
except ValueError:
    print("not in gamma")
print(ray.get_runtime_context().namespace)
ray.shutdown()
