import time

import ray
from ray.util.placement_group import placement_group, placement_group_table, remove_placement_group

ray.init(num_cpus=2)

pg = placement_group([{"CPU": 2}])
ray.get(pg.ready())
print(placement_group_table(pg)["state"])
remove_placement_group(pg)
deadline = time.time() + 20
while placement_group_table(pg)["state"] != "REMOVED" and time.time() < deadline:
    time.sleep(0.1)
print(placement_group_table(pg)["state"])
# the reserved CPUs are free again
pg2 = placement_group([{"CPU": 2}])
print(pg2.wait(timeout_seconds=30))
ray.shutdown()
