import ray
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

ray.init(num_cpus=2)


@ray.remote(num_cpus=0.5)
def child():
    return ray.util.get_current_placement_group() is not None


@ray.remote(num_cpus=0.5)
def parent():
    return ray.get(child.remote())


pg = placement_group([{"CPU": 1}])
ray.get(pg.ready())
captured = PlacementGroupSchedulingStrategy(pg, placement_group_capture_child_tasks=True)
not_captured = PlacementGroupSchedulingStrategy(pg)
print(ray.get(parent.options(scheduling_strategy=captured).remote()))
print(ray.get(parent.options(scheduling_strategy=not_captured).remote()))
ray.shutdown()
