"""raylite.actor: the actor types under Ray's module name (ray.actor).

`isinstance(h, ray.actor.ActorHandle)`, `ray.actor.ActorClass` and
`ray.actor.ActorMethod` name the same classes as raylite's client uses.
"""

from raylite.client.actor import ActorClass, ActorHandle, ActorMethod, method
from raylite.client.object_ref import ObjectRef
from raylite.exceptions import ActorAlreadyExistsError, AsyncioActorExit

# Ray's default number of concurrent calls of an async actor
DEFAULT_MAX_CONCURRENCY_ASYNC = 1000

__all__ = [
    "DEFAULT_MAX_CONCURRENCY_ASYNC",
    "ActorAlreadyExistsError",
    "ActorClass",
    "ActorHandle",
    "ActorMethod",
    "AsyncioActorExit",
    "ObjectRef",
    "method",
]
