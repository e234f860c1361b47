import os

from ray.util.multiprocessing import Pool


def init(prefix):
    # the initializer runs once in each pool process; the environment is per process
    os.environ["POOL_PREFIX"] = prefix


def tag(x):
    return f"{os.environ['POOL_PREFIX']}-{x}"


with Pool(processes=2, initializer=init, initargs=("init",)) as pool:
    print(pool.map(tag, range(4)))
