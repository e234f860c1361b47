"""Errors a raylite user can see. Names and base classes follow Ray's, so
`except ray.exceptions.GetTimeoutError` works unchanged."""

from __future__ import annotations

import traceback
from typing import Any


class RayError(Exception):
    """Base of every raylite error."""


class RaySystemError(RayError):
    """The runtime itself failed (a daemon vanished, a protocol mismatch)."""


class RayTaskError(RayError):
    """A task or actor method raised. `cause` is the original exception.

    `get` raises `as_instanceof_cause()`, which is also an instance of the
    cause's class, so `except ValueError` around `get` catches a remote
    ValueError as Ray's does.
    """

    def __init__(
        self,
        function_name: str,
        traceback_str: str,
        cause: BaseException | None,
        pid: int = 0,
        ip: str = "",
    ) -> None:
        self.function_name = function_name
        self.traceback_str = traceback_str
        self.cause = cause
        self.pid = pid
        self.ip = ip
        super().__init__(self._message())

    def _message(self) -> str:
        return f"{self.function_name} failed (pid={self.pid}, ip={self.ip})\n{self.traceback_str.rstrip()}"

    def __str__(self) -> str:
        return self._message()

    def __reduce__(self) -> tuple[Any, ...]:
        return (RayTaskError, (self.function_name, self.traceback_str, self.cause, self.pid, self.ip))

    def as_instanceof_cause(self) -> RayTaskError:
        """This error as an instance of both RayTaskError and the cause's class."""
        cause_cls = type(self.cause) if self.cause is not None else None
        if cause_cls is None or isinstance(self, cause_cls) or not _subclassable(cause_cls):
            return self
        dual = _dual_class(cause_cls)
        err: RayTaskError = RayTaskError.__new__(dual)
        err.__dict__.update(self.__dict__)
        err.args = (self._message(),)
        return err

    @classmethod
    def from_exception(cls, function_name: str, exc: BaseException, pid: int, ip: str) -> RayTaskError:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if isinstance(exc, RayTaskError):
            return exc  # an error from a dependency passes through unchanged
        return cls(function_name, tb, exc, pid, ip)


_DUAL_CLASSES: dict[type, type] = {}


def _subclassable(cls: type) -> bool:
    try:
        type("probe", (RayTaskError, cls), {})
    except TypeError:
        return False
    return True


def _dual_class(cause_cls: type) -> type:
    dual = _DUAL_CLASSES.get(cause_cls)
    if dual is None:
        name = f"RayTaskError({cause_cls.__name__})"

        def __reduce__(self: RayTaskError) -> tuple[Any, ...]:
            return RayTaskError.__reduce__(self)

        dual = type(name, (RayTaskError, cause_cls), {"__reduce__": __reduce__, "__str__": RayTaskError.__str__})
        _DUAL_CLASSES[cause_cls] = dual
    return dual


class WorkerCrashedError(RayError):
    """The process running a task died, and its retries are used up."""


class RayActorError(RayError):
    """An actor cannot run the call."""


class ActorDiedError(RayActorError):
    """The actor is dead: its constructor raised, its process exited, or it was killed."""


class GetTimeoutError(RayError, TimeoutError):
    """`get` or `wait` ran out of time before the values were ready."""


class ObjectLostError(RayError):
    """Every copy of an object is gone and it cannot be rebuilt."""


class TaskUnschedulableError(RayError):
    """No node can ever run the task (for example an unknown node in a hard affinity)."""


class ObjectStoreFullError(RayError):
    """The object does not fit in the node's store."""


class AuthenticationError(RayError, ConnectionError):
    """The cluster refused this process's token (missing or wrong)."""


class RuntimeEnvSetupError(RayError):
    """Kept for API compatibility; raylite has no runtime environments."""


class RaySerializationError(RayError, TypeError):
    """A value could not be pickled or unpickled."""


# Errors the head creates itself, by name, so the head needs no pickles of them.
SYSTEM_ERRORS: dict[str, type[RayError]] = {
    cls.__name__: cls
    for cls in (
        WorkerCrashedError,
        ActorDiedError,
        ObjectLostError,
        TaskUnschedulableError,
        RaySystemError,
    )
}
