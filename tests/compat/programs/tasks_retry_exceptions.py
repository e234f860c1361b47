import ray

ray.init(num_cpus=2)


@ray.remote
class Attempts:
    def __init__(self):
        self.n = 0

    def bump(self):
        self.n += 1
        return self.n


@ray.remote(max_retries=3, retry_exceptions=True)
def flaky(counter):
    n = ray.get(counter.bump.remote())
    if n < 3:
        raise ValueError(f"attempt {n} fails")
    return f"succeeded on attempt {n}"


c = Attempts.remote()
print(ray.get(flaky.remote(c)))

c2 = Attempts.remote()
try:
    ray.get(flaky.options(max_retries=1).remote(c2))
except ValueError as e:
    print("gave up:", "attempt 2 fails" in str(e))
print("attempts made:", ray.get(c2.bump.remote()) - 1)
ray.shutdown()
