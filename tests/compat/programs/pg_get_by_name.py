import ray
from ray.util.placement_group import get_placement_group, placement_group

ray.init(num_cpus=2)

pg = placement_group([{"CPU": 1}], name="my-group")
ray.get(pg.ready())
found = get_placement_group("my-group")
print(found.id == pg.id, found.bundle_specs)
try:
    get_placement_group("no-such-group")
except ValueError:
    print("ValueError for an unknown name")
ray.shutdown()
