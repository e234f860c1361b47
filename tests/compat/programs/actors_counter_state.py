import ray

ray.init(num_cpus=2)


@ray.remote
class Counter:
    def __init__(self, start=0):
        self.value = start

    def incr(self, by=1):
        self.value += by
        return self.value

    def get(self):
        return self.value


a = Counter.remote()
b = Counter.remote(100)
print(ray.get([a.incr.remote() for _ in range(5)]))
print(ray.get(b.incr.remote(by=10)), ray.get(a.get.remote()), ray.get(b.get.remote()))
ray.shutdown()
