import numpy as np
import ray

ray.init(num_cpus=2)


@ray.remote
def arrays(n):
    for i in range(n):
        yield np.full(500_000, i, dtype=np.int16)


print([(a.shape[0], int(a[0]), a.flags.writeable) for a in map(ray.get, arrays.remote(3))])
ray.shutdown()
