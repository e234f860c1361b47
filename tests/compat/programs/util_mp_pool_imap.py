from ray.util.multiprocessing import Pool


def cube(x):
    return x**3


with Pool(processes=2) as pool:
    print(list(pool.imap(cube, range(6))))
    print(sorted(pool.imap_unordered(cube, range(6))))
    print(list(pool.imap(cube, range(5), chunksize=2)))
