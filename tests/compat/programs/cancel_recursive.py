import time

import ray

ray.init(num_cpus=2)


@ray.remote
class Flags:
    def __init__(self):
        self.flags = []

    def set(self, f):
        self.flags.append(f)

    def get(self):
        return sorted(self.flags)


@ray.remote
def child(flags):
    time.sleep(4)
    ray.get(flags.set.remote("child finished"))


@ray.remote
def parent(flags):
    c = child.remote(flags)
    ray.get(c)
    ray.get(flags.set.remote("parent finished"))


flags = Flags.remote()
p = parent.remote(flags)
time.sleep(1.5)
ray.cancel(p, recursive=True)
try:
    ray.get(p, timeout=30)
except ray.exceptions.TaskCancelledError:
    print("parent cancelled")
time.sleep(5)
print(ray.get(flags.get.remote()))
ray.shutdown()
