import ray

ray.init(num_cpus=2)


@ray.remote(num_cpus=1)
class Heavy:
    def ping(self):
        return "pong"


a = Heavy.remote()
b = Heavy.remote()
print(ray.get([a.ping.remote(), b.ping.remote()]))
c = Heavy.remote()
ready, _ = ray.wait([c.ping.remote()], timeout=2)
print("third actor placed while two hold the CPUs:", len(ready) == 1)
ray.kill(a)
print(ray.get(c.ping.remote(), timeout=30))
ray.shutdown()
