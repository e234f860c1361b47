import ray

ray.init(num_cpus=2)


@ray.remote
class Splitter:
    @ray.method(num_returns=2)
    def halves(self, xs):
        mid = len(xs) // 2
        return xs[:mid], xs[mid:]

    def whole(self, xs):
        return xs[:1], xs[1:]


s = Splitter.remote()
a, b = s.halves.remote([1, 2, 3, 4])
print(ray.get(a), ray.get(b))
print(ray.get(s.whole.remote([1, 2])))
p, q = s.whole.options(num_returns=2).remote([7, 8, 9])
print(ray.get(p), ray.get(q))
ray.shutdown()
