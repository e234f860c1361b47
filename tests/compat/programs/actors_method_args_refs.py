import ray

ray.init(num_cpus=2)


@ray.remote
class Store:
    def __init__(self, initial):
        self.items = [initial]

    def add(self, x, *more, tag=None):
        self.items.extend([x, *more])
        return [type(i).__name__ for i in [x, *more]], tag

    def all(self):
        return self.items


r = ray.put("from-ref")
s = Store.remote(ray.put("ctor-ref"))
print(ray.get(s.add.remote(r, 2, tag="t")))
print(ray.get(s.add.remote([r])))
items = ray.get(s.all.remote())
print(items[:3], type(items[3][0]).__name__)
ray.shutdown()
