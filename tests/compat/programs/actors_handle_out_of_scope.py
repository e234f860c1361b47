import ray

ray.init(num_cpus=2)


@ray.remote(num_cpus=1)
class Hog:
    def ping(self):
        return "pong"


for i in range(4):
    h = Hog.remote()
    print(i, ray.get(h.ping.remote(), timeout=60))
    del h  # the actor ends and gives its CPU back, so the next one can start
ray.shutdown()
