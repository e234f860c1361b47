from ray.util.multiprocessing import Pool


def square(x):
    return x * x


pool = Pool(processes=2)
print(pool.map(square, range(10)))
print(pool.map(square, range(10), chunksize=3))
print(pool.map(len, ["a", "bb", "ccc"]))
pool.close()
pool.join()
