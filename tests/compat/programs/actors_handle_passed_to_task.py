import ray

ray.init(num_cpus=2)


@ray.remote
class Tally:
    def __init__(self):
        self.items = []

    def add(self, x):
        self.items.append(x)

    def items_sorted(self):
        return sorted(self.items)


@ray.remote
def worker(tally, i):
    ray.get(tally.add.remote(i))
    return i


t = Tally.remote()
ray.get([worker.remote(t, i) for i in range(6)])
print(ray.get(t.items_sorted.remote()))


@ray.remote
def in_list(handles):
    return ray.get(handles[0].items_sorted.remote())


print(ray.get(in_list.remote([t])))
ray.shutdown()
