import ray

ray.init(num_cpus=2)


@ray.remote
class Log:
    def __init__(self):
        self.entries = []

    def append(self, x):
        self.entries.append(x)
        return len(self.entries)

    def read(self):
        return self.entries


log = Log.remote()
refs = [log.append.remote(i) for i in range(100)]
print(ray.get(refs) == list(range(1, 101)))
print(ray.get(log.read.remote()) == list(range(100)))
# calls with an unresolved argument still run in submission order
slow_arg = ray.put("late")
log2 = Log.remote()
log2.append.remote(slow_arg)
log2.append.remote("next")
print(ray.get(log2.read.remote()))
ray.shutdown()
