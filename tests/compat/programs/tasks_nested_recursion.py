import ray

ray.init(num_cpus=2)


@ray.remote
def fib(n):
    if n < 2:
        return n
    return sum(ray.get([fib.remote(n - 1), fib.remote(n - 2)]))


# More blocked tasks than CPUs: a task waiting in get must give its CPU back.
print([ray.get(fib.remote(n)) for n in range(8)])
ray.shutdown()
