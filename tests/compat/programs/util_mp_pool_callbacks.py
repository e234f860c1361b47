import threading

from ray.util.multiprocessing import Pool

done = threading.Event()
results = []


def double(x):
    return 2 * x


def on_done(value):
    results.append(value)
    done.set()


with Pool(processes=2) as pool:
    pool.map_async(double, [1, 2, 3], callback=on_done)
    done.wait(30)
    print(results)
