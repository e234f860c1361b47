import ray
from ray.util.placement_group import placement_group, placement_group_table

ray.init(num_cpus=2)

pg = placement_group([{"CPU": 16}])
ready, not_ready = ray.wait([pg.ready()], timeout=2)
print(len(ready), len(not_ready))
print(placement_group_table(pg)["state"])
pg2 = placement_group([{"GPU": 1}])
print(pg2.wait(timeout_seconds=1))
ray.shutdown()
