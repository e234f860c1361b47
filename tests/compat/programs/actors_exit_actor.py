import ray

ray.init(num_cpus=2)


@ray.remote
class Quitter:
    def quit(self):
        ray.actor.exit_actor()

    def ping(self):
        return "pong"


q = Quitter.remote()
print(ray.get(q.ping.remote()))
try:
    print("quit returned", ray.get(q.quit.remote()))
except ray.exceptions.RayActorError as e:
    print("quit raised", type(e).__name__)
try:
    ray.get(q.ping.remote())
except ray.exceptions.RayActorError as e:
    print("after exit:", type(e).__name__)
ray.shutdown()
