import numpy as np
import ray

ray.init(num_cpus=2)

arr = np.arange(1_000_000, dtype=np.int64)
ref = ray.put(arr)
got = ray.get(ref)
print(type(got).__name__, got.dtype, got.shape, int(got.sum()))
print("writeable:", got.flags.writeable)
try:
    got[0] = 5
except ValueError as e:
    print("ValueError:", "read-only" in str(e))
copy = got.copy()
copy[0] = 5
print(copy[0], got[0])
small = ray.get(ray.put(np.zeros(3)))
print(small.tolist())
ray.shutdown()
