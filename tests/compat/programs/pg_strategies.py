import ray
from ray.util.placement_group import placement_group, remove_placement_group

ray.init(num_cpus=2)

for strategy in ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"):
    pg = placement_group([{"CPU": 0.5}, {"CPU": 0.5}], strategy=strategy)
    print(strategy, pg.wait(timeout_seconds=3))
    remove_placement_group(pg)
ray.shutdown()
