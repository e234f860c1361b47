"""raylite.util: helpers with Ray's names (ray.util).

ActorPool is here; the queue, multiprocessing and joblib helpers are
submodules, imported when used (as in Ray): raylite.util.queue,
raylite.util.multiprocessing, raylite.util.joblib.
"""

from raylite.util.actor_pool import ActorPool

__all__ = ["ActorPool"]
