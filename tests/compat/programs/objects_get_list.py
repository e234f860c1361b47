import ray

ray.init(num_cpus=2)

refs = [ray.put(i) for i in range(5)]
print(ray.get(refs))
print(ray.get([]))
print(ray.get([refs[0]]))
print(ray.get(refs[0]))
print(ray.get(refs + refs[:2]))
for bad in (tuple(refs), 5, "x", [refs[0], 5]):
    try:
        print(type(bad).__name__, ray.get(bad))
    except Exception as e:
        print(type(bad).__name__, "->", type(e).__name__)
ray.shutdown()
