import ray

ray.init(num_cpus=2)


@ray.remote
class Source:
    def __init__(self):
        self.base = 100

    def stream(self, n):
        for i in range(n):
            yield self.base + i


s = Source.remote()
print([ray.get(r) for r in s.stream.remote(4)])
g = s.stream.remote(2)
print(type(g).__name__, ray.get(next(g)))
ray.shutdown()
