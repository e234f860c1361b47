from ray.util.multiprocessing import Pool

STATE = {}


def init(prefix):
    STATE["prefix"] = prefix


def tag(x):
    return f"{STATE['prefix']}-{x}"


with Pool(processes=2, initializer=init, initargs=("init",)) as pool:
    print(pool.map(tag, range(4)))
