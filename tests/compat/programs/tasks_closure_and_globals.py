import ray

ray.init(num_cpus=2)

SCALE = 3
table = {"a": 1, "b": 2}


def helper(x):
    return x * SCALE


def make_task(offset):
    @ray.remote
    def shifted(x):
        return helper(x) + offset + table[x and "b" or "a"]

    return shifted


t = make_task(100)
print(ray.get([t.remote(i) for i in range(3)]))
print(ray.get(make_task(-1).remote(0)))
ray.shutdown()
