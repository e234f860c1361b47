import ray

ray.init(num_cpus=2)


@ray.remote
class Attempts:
    def __init__(self):
        self.n = 0

    def bump(self):
        self.n += 1
        return self.n


@ray.remote
def fails(counter):
    ray.get(counter.bump.remote())
    raise RuntimeError("application error")


c = Attempts.remote()
try:
    ray.get(fails.remote(c))
except RuntimeError as e:
    print("RuntimeError:", "application error" in str(e))
# By default an exception raised by the task is not retried.
print("attempts:", ray.get(c.bump.remote()) - 1)
ray.shutdown()
