from ray.util.multiprocessing import Pool


def power(base, exp):
    return base**exp


with Pool(processes=2) as pool:
    print(pool.starmap(power, [(2, 3), (3, 2), (10, 0)]))
    print(pool.starmap_async(power, [(5, 2)]).get(timeout=30))
