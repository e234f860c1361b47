from ray.util.multiprocessing import Pool


def add(a, b=0):
    return a + b


def fail():
    raise ValueError("apply failure")


with Pool(processes=2) as pool:
    print(pool.apply(add, (1, 2)))
    print(pool.apply(add, (1,), {"b": 5}))
    r = pool.apply_async(add, (3, 4))
    print(r.get(timeout=30), r.ready(), r.successful())
    bad = pool.apply_async(fail)
    bad.wait(timeout=30)
    print(bad.ready(), bad.successful())
    try:
        bad.get()
    except ValueError as e:
        print("ValueError", "apply failure" in str(e))
    results = pool.map_async(add, [1, 2, 3])
    print(results.get(timeout=30))
