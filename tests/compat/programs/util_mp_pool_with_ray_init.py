import ray
from ray.util.multiprocessing import Pool

ray.init(num_cpus=2)


def where(x):
    return ray.is_initialized(), x


with Pool() as pool:
    print(pool.map(where, range(3)))
print(ray.is_initialized())
ray.shutdown()
