"""raylite.util: helpers with Ray's names (ray.util).

ActorPool, as_completed and map_unordered (results as tasks finish), inspect_serializability,
get_node_ip_address, progress (results as they complete, with a tqdm bar) and the placement
group functions are here; the queue, multiprocessing
and joblib helpers are submodules, imported when used (as in Ray):
raylite.util.queue, raylite.util.multiprocessing, raylite.util.joblib.
"""

from raylite.client.named_actors import list_named_actors
from raylite.util import scheduling_strategies
from raylite.util.actor_pool import ActorPool
from raylite.util.check_serialize import inspect_serializability
from raylite.util.helpers import as_completed, map_unordered
from raylite.util.node_ip import get_node_ip_address

# (these names shadow the submodule, as in Ray: `import ray.util.placement_group as m` gives the function)
from raylite.util.placement_group import (
    get_current_placement_group,
    get_placement_group,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from raylite.util.progress_bar import progress

__all__ = [
    "ActorPool",
    "as_completed",
    "get_current_placement_group",
    "get_node_ip_address",
    "get_placement_group",
    "inspect_serializability",
    "list_named_actors",
    "map_unordered",
    "placement_group",
    "placement_group_table",
    "progress",
    "remove_placement_group",
    "scheduling_strategies",
]
