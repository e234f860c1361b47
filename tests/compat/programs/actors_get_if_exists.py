import ray

ray.init(num_cpus=2)


@ray.remote
class Counter:
    def __init__(self):
        self.n = 0

    def incr(self):
        self.n += 1
        return self.n


a = Counter.options(name="shared", get_if_exists=True).remote()
print(ray.get(a.incr.remote()))
b = Counter.options(name="shared", get_if_exists=True).remote()
print(ray.get(b.incr.remote()))
print(ray.get(a.incr.remote()))
ray.shutdown()
