"""raylite.actor: the actor types under Ray's module name (ray.actor).

`isinstance(h, ray.actor.ActorHandle)`, `ray.actor.ActorClass` and
`ray.actor.ActorMethod` name the same classes as raylite's client uses.
"""

import asyncio
from typing import NoReturn

from raylite.client.actor import ActorClass, ActorHandle, ActorMethod, method
from raylite.client.object_ref import ObjectRef
from raylite.exceptions import ActorAlreadyExistsError, AsyncioActorExit

# Ray's default number of concurrent calls of an async actor
DEFAULT_MAX_CONCURRENCY_ASYNC = 1000


class ActorExitRequest(SystemExit):
    """Raised by exit_actor() in a method of a threaded or single-threaded actor: the
    executor ends the actor's process once the call unwinds (a SystemExit, so that
    `except Exception` in user code does not swallow it)."""


def exit_actor() -> NoReturn:
    """Ends the calling actor for good, from one of its methods (as Ray's).

    The call that makes it, and every call after, fail with ActorDiedError
    saying the actor exited on purpose; it is not restarted, whatever its
    max_restarts. Outside an actor it is a TypeError.
    """
    from raylite.runtime_context import RuntimeContext

    if RuntimeContext(None).get_actor_id() is None:
        raise TypeError("exit_actor() was called outside an actor; call it from a method of an actor")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise ActorExitRequest(0) from None
    raise AsyncioActorExit("exit_actor() was called")


__all__ = [
    "DEFAULT_MAX_CONCURRENCY_ASYNC",
    "ActorAlreadyExistsError",
    "ActorClass",
    "ActorExitRequest",
    "ActorHandle",
    "ActorMethod",
    "AsyncioActorExit",
    "ObjectRef",
    "exit_actor",
    "method",
]
