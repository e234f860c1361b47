import ray
from ray.util.placement_group import placement_group, placement_group_table

ray.init(num_cpus=2)

pg = placement_group([{"CPU": 1}, {"CPU": 0.5}], strategy="SPREAD", name="tabled")
ray.get(pg.ready())
t = placement_group_table(pg)
print(sorted(k for k in ("placement_group_id", "name", "bundles", "strategy", "state", "stats") if k in t))
print(t["name"], t["strategy"], t["state"])
print(t["bundles"])
print(t["placement_group_id"] == pg.id.hex())
everything = placement_group_table()
print(type(everything).__name__, pg.id.hex() in everything)
ray.shutdown()
