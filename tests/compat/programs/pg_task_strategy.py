import ray
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

ray.init(num_cpus=2)


@ray.remote(num_cpus=1)
def inside():
    pg = ray.util.get_current_placement_group()
    return pg is not None


pg = placement_group([{"CPU": 1}, {"CPU": 1}])
ray.get(pg.ready())
strategy = PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=1)
print(ray.get([inside.options(scheduling_strategy=strategy).remote() for _ in range(3)]))
any_bundle = PlacementGroupSchedulingStrategy(placement_group=pg)
print(ray.get(inside.options(scheduling_strategy=any_bundle).remote()))
print(ray.get(inside.options(num_cpus=0).remote()))  # the group holds every CPU
ray.shutdown()
