import ray
from ray.util.placement_group import placement_group

ray.init(num_cpus=2)

pg = placement_group([{"CPU": 1}])
print(pg.wait(timeout_seconds=30))
too_big = placement_group([{"CPU": 3}])
print(too_big.wait(timeout_seconds=1))
ray.shutdown()
