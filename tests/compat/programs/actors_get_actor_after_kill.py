import time

import ray

ray.init(num_cpus=2)


@ray.remote
class Named:
    def ping(self):
        return "pong"


n = Named.options(name="temp").remote()
print(ray.get(ray.get_actor("temp").ping.remote()))
ray.kill(n)
deadline = time.time() + 20
while time.time() < deadline:
    try:
        ray.get_actor("temp")
        time.sleep(0.1)
    except ValueError:
        print("name released after kill")
        break
again = Named.options(name="temp").remote()
print(ray.get(again.ping.remote()))
ray.shutdown()
