import concurrent.futures

import ray

ray.init(num_cpus=2)


@ray.remote
def add(a, b):
    return a + b


@ray.remote
def fail():
    raise KeyError("missing")


fut = add.remote(1, 2).future()
print(isinstance(fut, concurrent.futures.Future))
print(fut.result(timeout=30))
futs = [add.remote(i, i).future() for i in range(4)]
print(sorted(f.result() for f in concurrent.futures.as_completed(futs, timeout=30)))
bad = fail.remote().future()
try:
    bad.result(timeout=30)
except KeyError:
    print("KeyError from future")
ray.shutdown()
