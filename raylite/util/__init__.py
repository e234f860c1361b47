"""raylite.util: helpers with Ray's names (ray.util).

ActorPool and inspect_serializability are here; the queue, multiprocessing
and joblib helpers are submodules, imported when used (as in Ray):
raylite.util.queue, raylite.util.multiprocessing, raylite.util.joblib.
"""

from raylite.util.actor_pool import ActorPool
from raylite.util.check_serialize import inspect_serializability

__all__ = ["ActorPool", "inspect_serializability"]
