import time

import ray

ray.init(num_cpus=2)


@ray.remote(max_restarts=1)
class Phoenix:
    def __init__(self):
        self.calls = 0

    def call(self):
        self.calls += 1
        return self.calls


p = Phoenix.remote()
print(ray.get([p.call.remote() for _ in range(3)]))
ray.kill(p, no_restart=False)
deadline = time.time() + 30
while True:
    try:
        print("after restart:", ray.get(p.call.remote()))
        break
    except ray.exceptions.RayActorError:
        if time.time() > deadline:
            print("never came back")
            break
        time.sleep(0.2)
ray.shutdown()
