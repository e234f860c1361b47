import ray

ray.init(num_cpus=2)


@ray.remote
class Attempts:
    def __init__(self):
        self.n = 0

    def bump(self):
        self.n += 1
        return self.n


@ray.remote(max_retries=2, retry_exceptions=[KeyError])
def raises(counter, exc_type):
    ray.get(counter.bump.remote())
    raise exc_type("nope")


for exc_type in (KeyError, TypeError):
    c = Attempts.remote()
    try:
        ray.get(raises.remote(c, exc_type))
    except exc_type:
        print(exc_type.__name__, "raised after", ray.get(c.bump.remote()) - 1, "attempts")
ray.shutdown()
