import numpy as np
import ray

ray.init(num_cpus=2)


@ray.remote
def try_write(arr):
    try:
        arr[0] = 1
        return "wrote"
    except ValueError:
        return "read-only"


@ray.remote
def make():
    return np.ones((200, 1000))


print(ray.get(try_write.remote(np.zeros(500_000))))
print(ray.get(try_write.remote(np.zeros(3))))
m = ray.get(make.remote())
print(m.shape, float(m.sum()), m.flags.writeable)
print(ray.get(try_write.remote(make.remote())))
ray.shutdown()
