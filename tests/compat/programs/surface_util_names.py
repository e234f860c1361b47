import ray.util
import ray.util.placement_group as pgm
import ray.util.scheduling_strategies as ss

for n in (
    "ActorPool",
    "placement_group",
    "remove_placement_group",
    "get_placement_group",
    "placement_group_table",
    "get_current_placement_group",
    "list_named_actors",
    "inspect_serializability",
    "get_node_ip_address",
    "queue",
    "multiprocessing",
    "scheduling_strategies",
    "as_completed",
    "map_unordered",
    "collective",
    "state",
    "metrics",
):
    print("ray.util", n, hasattr(ray.util, n))
for n in (
    "PlacementGroup",
    "placement_group",
    "remove_placement_group",
    "get_placement_group",
    "placement_group_table",
    "get_current_placement_group",
):
    print("placement_group", n, hasattr(pgm, n))
for n in (
    "PlacementGroupSchedulingStrategy",
    "NodeAffinitySchedulingStrategy",
    "NodeLabelSchedulingStrategy",
    "In",
    "NotIn",
    "Exists",
    "DoesNotExist",
):
    print("scheduling_strategies", n, hasattr(ss, n))
