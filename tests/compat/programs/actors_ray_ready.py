import ray

ray.init(num_cpus=2)


@ray.remote
class Slow:
    def __init__(self):
        import time

        time.sleep(0.5)
        self.ok = True


s = Slow.remote()
print(ray.get(s.__ray_ready__.remote()))
ready, _ = ray.wait([Slow.remote().__ray_ready__.remote()], timeout=30)
print(len(ready))
ray.shutdown()
