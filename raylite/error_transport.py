"""How the runtime carries errors: the ones it makes itself, by name, and a task's own.

raylite/exceptions.py is the catalogue a user sees (Ray's classes); this module
is what the head, the worker daemons and the executors use to send errors:
`system_error` rebuilds an error the head or a daemon named (no pickle of it
crosses the wire), and `envelope` wraps a task's exception so that it still
arrives as an error where it cannot be unpickled.
"""

from __future__ import annotations

import pickle
from typing import Any

from raylite.exceptions import (
    ActorDiedError,
    ActorUnavailableError,
    ActorUnschedulableError,
    ObjectLostError,
    RayError,
    RaySystemError,
    RuntimeEnvSetupError,
    TaskCancelledError,
    TaskPlacementGroupRemoved,
    TaskUnschedulableError,
    UnserializableException,
    WorkerCrashedError,
)

# Errors the head and the worker daemons make themselves, by name, so they need no pickles of them.
SYSTEM_ERRORS: dict[str, type[RayError]] = {
    cls.__name__: cls
    for cls in (
        WorkerCrashedError,
        ActorDiedError,
        ActorUnavailableError,
        ObjectLostError,
        TaskUnschedulableError,
        ActorUnschedulableError,
        TaskCancelledError,
        RuntimeEnvSetupError,
        TaskPlacementGroupRemoved,
        RaySystemError,
    )
}


def system_error(kind: str, message: str) -> RayError:
    """The error named `kind` (a SYSTEM_ERRORS name) with raylite's explanation `message` as its text."""
    cls = SYSTEM_ERRORS.get(kind, RaySystemError)
    if cls is ActorDiedError:
        return ActorDiedError(message)
    if cls is ActorUnavailableError:
        return ActorUnavailableError(message, None)
    if issubclass(cls, ObjectLostError):
        lost = cls()
        lost._message = message
        lost.args = (message,)
        return lost
    if cls is TaskUnschedulableError:
        return TaskUnschedulableError(message)
    if cls is ActorUnschedulableError:
        return ActorUnschedulableError(message)
    if cls is TaskCancelledError:
        return TaskCancelledError(None, message)
    if cls is WorkerCrashedError:
        return WorkerCrashedError(message)
    if cls is RuntimeEnvSetupError:
        return RuntimeEnvSetupError(message)
    if cls is TaskPlacementGroupRemoved:
        removed = TaskPlacementGroupRemoved(message)
        removed._message = message
        return removed
    return RaySystemError(message)


# ---- errors of tasks, as executors send them ---------------------------------------------


def envelope(err: BaseException, text: str) -> Any:
    """A task's error, ready to pickle: it unpickles to err, or to UnserializableException(text)
    where err cannot be rebuilt.

    A user's exception may pickle in the executor and yet not unpickle at the
    caller (its __init__ takes other arguments than its args, its module is
    missing there); `get` then still raises, naming the original error.
    Raises what pickling err raises when err does not pickle at all.
    """
    from raylite.serialization import pickle_dumps

    return _Envelope(pickle_dumps(err), text)


class _Envelope:
    __slots__ = ("inner", "text")

    def __init__(self, inner: bytes, text: str) -> None:
        self.inner = inner
        self.text = text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_open_envelope, (self.inner, self.text))


def _open_envelope(inner: bytes, text: str) -> BaseException:
    try:
        err = pickle.loads(inner)
    except Exception:  # noqa: BLE001 - any failure to rebuild the user's exception
        return UnserializableException(text)
    if not isinstance(err, BaseException):
        return UnserializableException(text)
    return err
