"""raylite.util: helpers with Ray's names (ray.util).

ActorPool, inspect_serializability and get_node_ip_address are here; the queue, multiprocessing
and joblib helpers are submodules, imported when used (as in Ray):
raylite.util.queue, raylite.util.multiprocessing, raylite.util.joblib.
"""

from raylite.client.named_actors import list_named_actors
from raylite.util import scheduling_strategies
from raylite.util.actor_pool import ActorPool
from raylite.util.check_serialize import inspect_serializability
from raylite.util.node_ip import get_node_ip_address

__all__ = [
    "ActorPool",
    "get_node_ip_address",
    "inspect_serializability",
    "list_named_actors",
    "scheduling_strategies",
]
