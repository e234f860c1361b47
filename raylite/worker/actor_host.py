"""What an executor hosting an actor needs beyond running calls: concurrency groups,
retries of methods on exceptions, and the actor's own exit.

Concurrency groups (as Ray's): an actor class may declare named groups, each
with its own number of concurrent calls (`concurrency_groups={"io": 2}`); a
method joins one with `@method(concurrency_group="io")`, a call may choose
one with `.options(concurrency_group=...)`, and the rest run in the default
group, whose size is the actor's max_concurrency. A threaded actor (or one
with groups) runs each group's calls on the group's own threads; an async
actor runs every call on its event loop, each group's under its own
semaphore. A single-threaded actor without groups runs calls on the
executor's main thread, one after another, in the order they arrived.

Exits: exit_actor() (raylite.actor) raises ActorExitRequest in a sync method
and AsyncioActorExit in an async one, and `__ray_terminate__` asks for the
same; the executor then ends its process on purpose and tells its daemon
why first, so that the head does not restart the actor.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import cloudpickle

from raylite import exceptions
from raylite.actor import ActorExitRequest

DEFAULT_GROUP = ""
READY, TERMINATE = "__ray_ready__", "__ray_terminate__"


class UnknownGroup(ValueError):
    pass


def _unknown(group: str, known: dict[str, Any], class_name: str) -> UnknownGroup:
    names = sorted(g for g in known if g != DEFAULT_GROUP)
    return UnknownGroup(
        f"actor {class_name} has no concurrency group {group!r} (it has {names or 'none'} besides the default "
        "group); declare it with @remote(concurrency_groups={...}) or call without concurrency_group"
    )


class ThreadGroups:
    """The threads of a threaded actor: one pool per concurrency group."""

    def __init__(self, default_size: int, groups: dict[str, int], class_name: str) -> None:
        self.class_name = class_name
        self.pools: dict[str, ThreadPoolExecutor] = {
            DEFAULT_GROUP: ThreadPoolExecutor(max(1, default_size), thread_name_prefix="actor")
        }
        for name, size in groups.items():
            self.pools[name] = ThreadPoolExecutor(size, thread_name_prefix=f"actor-{name}")

    def submit(self, group: str, fn: Any, *args: Any) -> Future[Any]:
        pool = self.pools.get(group)
        if pool is None:
            raise _unknown(group, self.pools, self.class_name)
        return pool.submit(fn, *args)


class AsyncGroups:
    """The limits of an async actor's calls: one semaphore per concurrency group (made on its loop)."""

    def __init__(self, default_size: int, groups: dict[str, int], class_name: str) -> None:
        self.class_name = class_name
        self.limits: dict[str, asyncio.Semaphore] = {DEFAULT_GROUP: asyncio.Semaphore(max(1, default_size))}
        for name, size in groups.items():
            self.limits[name] = asyncio.Semaphore(size)

    def limit(self, group: str) -> asyncio.Semaphore:
        semaphore = self.limits.get(group)
        if semaphore is None:
            raise _unknown(group, self.limits, self.class_name)
        return semaphore


def groups_of(meta: Any) -> dict[str, int]:
    """The concurrency groups an actor's handle metadata declares ({} if none, or no metadata)."""
    return dict(getattr(meta, "concurrency_groups", None) or {})


def is_exit(exc: BaseException) -> bool:
    """Whether a call ended by asking to end its actor (exit_actor(), __ray_terminate__)."""
    return isinstance(exc, (ActorExitRequest, exceptions.AsyncioActorExit))


def retry_wanted(retry_exceptions: bytes, retries_left: int, exc: BaseException) -> bool:
    """Whether a method call that raised exc runs again: its retry_exceptions match and it has retries left
    (-1: no limit). An exit request or a runtime error of raylite's own is never retried."""
    if not retry_exceptions or retries_left == 0 or is_exit(exc) or not isinstance(exc, Exception):
        return False
    try:
        wanted = cloudpickle.loads(retry_exceptions)
    except Exception:  # noqa: BLE001 - an unloadable class list retries nothing
        return False
    return wanted is True or isinstance(exc, tuple(wanted))


def exit_reason(method: str, class_name: str) -> str:
    if method == TERMINATE:
        return f"it was terminated by {class_name}.__ray_terminate__ (an intended exit)"
    return f"it exited on purpose: exit_actor() was called in {class_name}.{method}"
