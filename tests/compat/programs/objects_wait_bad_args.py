import ray

ray.init(num_cpus=2)

refs = [ray.put(i) for i in range(3)]
cases = {
    "num_returns too large": lambda: ray.wait(refs, num_returns=4),
    "num_returns zero": lambda: ray.wait(refs, num_returns=0),
    "negative timeout": lambda: ray.wait(refs, timeout=-1),
    "single ref": lambda: ray.wait(refs[0]),
    "non-ref item": lambda: ray.wait([refs[0], 3]),
}
for name, call in cases.items():
    try:
        ready, rest = call()
        print(name, "->", len(ready), len(rest))
    except Exception as e:
        print(name, "->", type(e).__name__)
ray.shutdown()
