import time

import ray

ray.init(num_cpus=2)


@ray.remote(num_cpus=1)
def hold():
    time.sleep(4)


def cpu():
    return ray.available_resources().get("CPU", 0.0)


def settle(want):
    deadline = time.time() + 15
    while cpu() != want and time.time() < deadline:
        time.sleep(0.05)
    return cpu()


print(settle(2.0))
r = hold.remote()
print(settle(1.0))
ray.get(r)
print(settle(2.0))
print(sorted(k for k in ray.available_resources() if not k.startswith("node:")))
ray.shutdown()
