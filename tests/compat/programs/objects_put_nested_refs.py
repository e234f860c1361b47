import ray

ray.init(num_cpus=2)

inner = ray.put("inner")
outer = ray.put([inner, {"k": inner}])
got = ray.get(outer)
print(type(got[0]).__name__, type(got["k"] if isinstance(got, dict) else got[1]["k"]).__name__)
print(ray.get(got[0]), ray.get(got[1]["k"]))
print(got[0] == inner)
del inner
print(ray.get(got[0]))
ray.shutdown()
