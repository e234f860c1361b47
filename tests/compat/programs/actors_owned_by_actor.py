import time

import ray

ray.init(num_cpus=2)


@ray.remote
class Child:
    def ping(self):
        return "child alive"


@ray.remote
class Parent:
    def spawn(self):
        self.child = Child.remote()
        return [self.child]


parent = Parent.remote()
child = ray.get(parent.spawn.remote())[0]
print(ray.get(child.ping.remote()))
ray.kill(parent)
# The child's owner is gone: the child dies with it.
deadline = time.time() + 30
while time.time() < deadline:
    try:
        ray.get(child.ping.remote(), timeout=10)
        time.sleep(0.2)
    except ray.exceptions.RayActorError:
        print("child died with its owner")
        break
else:
    print("child outlived its owner")
ray.shutdown()
