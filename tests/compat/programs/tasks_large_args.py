import numpy as np
import ray

ray.init(num_cpus=2)


@ray.remote
def stats(arr):
    return arr.shape, arr.dtype.str, float(arr.sum()), arr.flags.writeable


big = np.arange(2_000_000, dtype=np.float64)
print(ray.get(stats.remote(big)))
print(ray.get(stats.remote(ray.put(big))))
blob = b"x" * (5 * 1024 * 1024)


@ray.remote
def length(b):
    return len(b), b[:3]


print(ray.get(length.remote(blob)))
ray.shutdown()
