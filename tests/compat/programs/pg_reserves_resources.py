import time

import ray
from ray.util.placement_group import placement_group, remove_placement_group

ray.init(num_cpus=2)


def cpu_available():
    return ray.available_resources().get("CPU", 0.0)


def settle(want):
    deadline = time.time() + 20
    while cpu_available() != want and time.time() < deadline:
        time.sleep(0.1)
    return cpu_available()


print(settle(2.0))
pg = placement_group([{"CPU": 1}, {"CPU": 1}])
ray.get(pg.ready())
print(settle(0.0))
remove_placement_group(pg)
print(settle(2.0))
ray.shutdown()
