import ray

ray.init(num_cpus=2)


@ray.remote
class Broken:
    def __init__(self):
        raise ValueError("constructor failed")

    def ping(self):
        return "pong"


b = Broken.remote()
for _ in range(2):
    try:
        ray.get(b.ping.remote())
    except ray.exceptions.RayActorError as e:
        print(type(e).__name__, isinstance(e, ray.exceptions.ActorDiedError), "constructor failed" in str(e))
ray.shutdown()
