import ray
from ray.util.placement_group import placement_group

ray.init(num_cpus=2)

pg = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="PACK")
print(type(pg).__name__)
print(ray.get(pg.ready(), timeout=30) == pg)
print(pg.bundle_count, pg.bundle_specs)
ray.shutdown()
