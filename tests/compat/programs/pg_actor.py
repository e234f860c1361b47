import ray
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

ray.init(num_cpus=2)


@ray.remote(num_cpus=1)
class Member:
    def where(self):
        return ray.get_runtime_context().get_node_id() is not None


pg = placement_group([{"CPU": 1}] * 2, strategy="STRICT_PACK")
ray.get(pg.ready())
members = [
    Member.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=i)).remote()
    for i in range(2)
]
print(ray.get([m.where.remote() for m in members]))
# a third actor does not fit in the two bundles
extra = Member.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg)).remote()
ready, _ = ray.wait([extra.where.remote()], timeout=2)
print("third member placed:", bool(ready))
ray.shutdown()
