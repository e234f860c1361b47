import ray

ray.init(num_cpus=2)


@ray.remote
class Sleeper:
    def nap(self):
        import time

        time.sleep(30)

    def ping(self):
        return "pong"


s = Sleeper.remote()
print(ray.get(s.ping.remote()))
running = s.nap.remote()
ray.kill(s)
for ref in (running, s.ping.remote()):
    try:
        ray.get(ref, timeout=30)
    except ray.exceptions.RayActorError as e:
        print(type(e).__name__)
ray.shutdown()
