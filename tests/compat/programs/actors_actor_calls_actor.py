import ray

ray.init(num_cpus=2)


@ray.remote
class Backend:
    def lookup(self, k):
        return k.upper()


@ray.remote
class Frontend:
    def __init__(self, backend):
        self.backend = backend

    def handle(self, k):
        return "front:" + ray.get(self.backend.lookup.remote(k))


@ray.remote
class Creator:
    def __init__(self):
        self.inner = Backend.remote()

    def use(self):
        return ray.get(self.inner.lookup.remote("made inside"))


f = Frontend.remote(Backend.remote())
print(ray.get([f.handle.remote(k) for k in ("a", "b")]))
print(ray.get(Creator.remote().use.remote()))
ray.shutdown()
