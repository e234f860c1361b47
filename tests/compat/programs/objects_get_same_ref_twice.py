import ray

ray.init(num_cpus=2)


class Box:
    def __init__(self, v):
        self.v = v


r = ray.put(Box([1, 2]))
a = ray.get(r)
b = ray.get(r)
a.v.append(3)
print(a.v, b.v, a is b)
print([x.v for x in ray.get([r, r])])
ray.shutdown()
