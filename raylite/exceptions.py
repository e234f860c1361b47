"""Errors a raylite user can see.

Names, base classes, constructor arguments and the attributes user code reads
follow Ray's `ray.exceptions`, so `except ray.exceptions.ActorDiedError as e:
e.actor_id` works unchanged. The texts are raylite's own.

Errors the runtime makes itself (the head decides a worker crashed, an actor
died, an object is lost) are built by `system_error(kind, message)`: they
carry raylite's explanation of what happened as their text, and the fields
Ray's constructors fill in are filled where the client knows them (the object
id of a lost object, the id of a dead actor).
"""

from __future__ import annotations

import os
import traceback
from typing import Any


class RayError(Exception):
    """Base of every raylite error."""


class RaySerializationError(RayError, TypeError):
    """A value could not be pickled or unpickled (raylite's; Ray raises a plain TypeError)."""


class TaskCancelledError(RayError):
    """The task was cancelled (ray.cancel)."""

    def __init__(self, task_id: Any = None, error_message: str | None = None) -> None:
        self.task_id = task_id
        self.error_message = error_message

    def __str__(self) -> str:
        parts = []
        if self.task_id:
            parts.append(f"Task {self.task_id} was cancelled.")
        if self.error_message:
            parts.append(self.error_message)
        return " ".join(parts)


class RayTaskError(RayError):
    """A task or actor method raised. `cause` is the original exception.

    `get` raises `as_instanceof_cause()`: an instance of both RayTaskError and
    the cause's class, so `except ValueError` around `get` catches a remote
    ValueError, and the cause's attributes read through it (`e.status` of a
    user's HttpError), as in Ray. Its text is the remote traceback, headed by
    `ray::<name>() (pid=..., ip=...)` where Python prints "Traceback (most
    recent call last):", and only the frames of the user's own code.
    """

    def __init__(
        self,
        function_name: str,
        traceback_str: str,
        cause: BaseException | None,
        proctitle: str | None = None,
        pid: int | None = None,
        ip: str | None = None,
        actor_repr: str | None = None,
        actor_id: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.traceback_str = traceback_str
        self.cause = cause
        self.proctitle = proctitle or f"ray::{function_name}"
        self.pid = pid or os.getpid()
        self.ip = ip or ""
        self.actor_repr = actor_repr
        self._actor_id = actor_id
        self.args = (function_name, traceback_str, cause, proctitle, pid, ip)

    def __str__(self) -> str:
        header = f"{self.proctitle}() (pid={self.pid}, ip={self.ip}"
        header += f", actor_id={self._actor_id}, repr={self.actor_repr})" if self.actor_repr else ")"
        lines = [header if line.startswith("Traceback ") else line for line in self.traceback_str.strip().split("\n")]
        return "\n".join(lines)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            RayTaskError,
            (
                self.function_name,
                self.traceback_str,
                self.cause,
                self.proctitle,
                self.pid,
                self.ip,
                self.actor_repr,
                self._actor_id,
            ),
        )

    def as_instanceof_cause(self) -> RayTaskError:
        """This error as an instance of both RayTaskError and the cause's class.

        Returned as is when the cause's class is already a RayTaskError base
        (a RayError, say) or cannot be subclassed (a class marked final, one
        with an incompatible layout).
        """
        cause = self.cause
        if cause is None or isinstance(self, type(cause)):
            return self
        dual_cls = _dual_class(type(cause))
        if dual_cls is None:
            return self
        try:
            dual: RayTaskError = RayTaskError.__new__(dual_cls)
            dual.__dict__.update(self.__dict__)
            dual.args = (cause,)
        except Exception:  # noqa: BLE001 - a cause class that will not be made this way
            return self
        return dual

    @classmethod
    def from_exception(
        cls,
        function_name: str,
        exc: BaseException,
        pid: int = 0,
        ip: str = "",
        *,
        traceback_str: str | None = None,
        proctitle: str | None = None,
        actor_repr: str | None = None,
        actor_id: str | None = None,
    ) -> RayTaskError:
        """The error of a task that raised exc (an error from a dependency passes through)."""
        if isinstance(exc, RayTaskError):
            return exc
        if traceback_str is None:
            traceback_str = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(function_name, traceback_str, exc, proctitle, pid, ip, actor_repr, actor_id)


_DUAL_CLASSES: dict[type, type | None] = {}


def _dual_class(cause_cls: type) -> type | None:
    """The class `RayTaskError(<cause class>)`, made once per cause class; None if impossible."""
    if cause_cls in _DUAL_CLASSES:
        return _DUAL_CLASSES[cause_cls]
    name = f"RayTaskError({cause_cls.__name__})"
    namespace = {
        "__reduce__": RayTaskError.__reduce__,  # travels as a plain RayTaskError
        "__str__": RayTaskError.__str__,
        "__repr__": _dual_repr,
        "__getattr__": _read_through_cause,
        "__qualname__": name,
    }
    try:
        dual: type | None = type(name, (RayTaskError, cause_cls), namespace)
    except TypeError:
        dual = None
    _DUAL_CLASSES[cause_cls] = dual
    return dual


def _dual_repr(self: RayTaskError) -> str:
    return f"{type(self).__name__}({self.cause!r})"


def _read_through_cause(self: RayTaskError, name: str) -> Any:
    # only attributes the dual instance itself lacks: the user's exception's own
    cause = self.__dict__.get("cause")
    if cause is None or name.startswith("__"):
        raise AttributeError(name)
    return getattr(cause, name)


class WorkerCrashedError(RayError):
    """The process running a task died, and its retries are used up."""

    def __init__(self, message: str = "") -> None:
        super().__init__(*([message] if message else []))
        self.message = message

    def __str__(self) -> str:
        return self.message or "The worker process died while running this task (see the node's logs)."


# The words by which the runtime says an actor died because its constructor raised (the
# head's ActorDiedError texts use them): the client sets actor_init_failed from them.
CONSTRUCTOR_FAILED = "its constructor raised"


class RayActorError(RayError):
    """An actor cannot run the call: it is dead (ActorDiedError) or unreachable for now (ActorUnavailableError).

    `actor_id` is the actor's id as a hex string (None when not known),
    `error_msg` the full text, `actor_init_failed` whether its constructor raised.
    """

    BASE_ERROR_MSG = "The actor failed before it could finish this call."

    def __init__(
        self,
        actor_id: str | None = None,
        error_msg: str = BASE_ERROR_MSG,
        actor_init_failed: bool = False,
        preempted: bool = False,
    ) -> None:
        super().__init__(error_msg)
        self.actor_id = actor_id
        self.error_msg = error_msg
        self._actor_init_failed = actor_init_failed
        self._preempted = preempted

    def __str__(self) -> str:
        return self.error_msg

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__))

    @property
    def actor_init_failed(self) -> bool:
        return self._actor_init_failed

    @property
    def preempted(self) -> bool:
        return self._preempted


class ActorDiedError(RayActorError):
    """The actor is dead: its constructor raised, its process exited, its node died, or it was killed.

    As Ray's, it is made from a cause: the RayTaskError of a constructor that
    raised (`actor_init_failed` is then True and the text includes that
    error), or nothing. raylite's runtime also makes it from its own text.
    """

    BASE_ERROR_MSG = "The actor died before it could finish this call."

    def __init__(self, cause: RayTaskError | str | None = None, *, actor_id: str | None = None) -> None:
        init_failed = False
        if isinstance(cause, RayTaskError):
            init_failed = True
            actor_id = actor_id or cause._actor_id
            message = f"The actor died because {CONSTRUCTOR_FAILED} an error: {cause}"
        elif isinstance(cause, str) and cause:
            message = cause
        else:
            message = ActorDiedError.BASE_ERROR_MSG
        super().__init__(actor_id, message, init_failed, False)

    @staticmethod
    def from_task_error(task_error: RayTaskError) -> ActorDiedError:
        return ActorDiedError(task_error)


class ActorUnavailableError(RayActorError):
    """The actor cannot be reached for now (its node is unreachable, it is restarting); it may come back.

    The call may or may not have run.
    """

    def __init__(self, error_message: str, actor_id: bytes | str | None) -> None:
        hex_id = actor_id.hex() if isinstance(actor_id, bytes) else actor_id
        actor = f"The actor {hex_id}" if hex_id is not None else "The actor"
        super().__init__(
            hex_id,
            f"{actor} cannot be reached now: {error_message}. The call may or may not have run.",
        )


class RaySystemError(RayError):
    """The runtime itself failed (a daemon vanished, a protocol mismatch)."""

    def __init__(self, client_exc: Any, traceback_str: str | None = None) -> None:
        super().__init__(client_exc)
        self.client_exc = client_exc
        self.traceback_str = traceback_str

    def __str__(self) -> str:
        text = f"System error: {self.client_exc}"
        if self.traceback_str:
            text += f"\ntraceback: {self.traceback_str}"
        return text


class AuthenticationError(RayError, ConnectionError):
    """The cluster refused this process's token (missing or wrong)."""


class ObjectStoreFullError(RayError):
    """The object does not fit in the node's store."""


class OutOfMemoryError(RayError):
    """The node ran low on memory and the task or actor was ended to free some."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NodeDiedError(RayError):
    """The node is dead or unreachable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ObjectLostError(RayError):
    """Every copy of an object is gone and it cannot be rebuilt.

    `object_ref_hex` is the object's id in hex.
    """

    def __init__(self, object_ref_hex: str = "", owner_address: Any = None, call_site: str = "") -> None:
        super().__init__(object_ref_hex)
        self.object_ref_hex = object_ref_hex
        self.owner_address = owner_address
        self.call_site = call_site
        self._message = ""

    def _explanation(self) -> str:
        return "All copies of it are lost (its node died) and it cannot be rebuilt."

    def __str__(self) -> str:
        if self._message:
            return self._message
        text = f"Cannot get object {self.object_ref_hex}."
        if self.call_site:
            text += f" Its ObjectRef was made at: {self.call_site}."
        return f"{text}\n\n{self._explanation()}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__))


class OwnerDiedError(ObjectLostError):
    """The process that made the object (its owner) exited while references to it remained."""

    def _explanation(self) -> str:
        return "The process that made it (its owner) has exited."


class GetTimeoutError(RayError, TimeoutError):
    """`get` ran out of time before the values were ready."""


class AsyncioActorExit(RayError):
    """Raised to end an async actor that called exit_actor()."""


class RuntimeEnvSetupError(RayError):
    """A runtime environment could not be set up."""

    def __init__(self, error_message: str | None = None) -> None:
        super().__init__(*([error_message] if error_message else []))
        self.error_message = error_message

    def __str__(self) -> str:
        text = "The runtime environment could not be set up."
        return f"{text}\n{self.error_message}" if self.error_message else text


class TaskPlacementGroupRemoved(RayError):
    """The placement group of the task was removed."""

    _message = ""

    def __str__(self) -> str:
        return self._message or "The placement group this task was to run in was removed."


class ActorPlacementGroupRemoved(RayError):
    """The placement group of the actor was removed."""

    def __str__(self) -> str:
        return "The placement group this actor was to run in was removed."


class PendingCallsLimitExceeded(RayError):
    """More calls are pending on the actor than its max_pending_calls allows."""


class TaskUnschedulableError(RayError):
    """No node can ever run the task (for example an unknown node in a hard affinity)."""

    def __init__(self, error_message: str) -> None:
        super().__init__(error_message)
        self.error_message = error_message

    def __str__(self) -> str:
        return f"The task cannot be scheduled: {self.error_message}"


class UnserializableException(RayError):
    """The error a task raised could not be unpickled here; its text and traceback are kept.

    Raised by `get` when, say, the exception's class takes arguments its
    pickle does not give back, or its module cannot be imported in this process.
    """

    def __init__(self, original_stack_trace: str) -> None:
        super().__init__(original_stack_trace)
        self._original_stack_trace = original_stack_trace

    def __str__(self) -> str:
        return (
            "The exception raised remotely could not be unpickled in this process (give it a "
            "__reduce__ that rebuilds it from its args). The original exception:\n"
            f"{self._original_stack_trace}"
        )


class ActorAlreadyExistsError(ValueError, RayError):
    """A live actor already has that name (in that namespace)."""

    def __init__(self, error_message: str) -> None:
        super().__init__(error_message)
        self.error_message = error_message

    def __str__(self) -> str:
        return self.error_message


# Ray's classes the runtime never raises itself live beside this module (raylite/exceptions_more.py),
# imported here, after the bases they extend, so that raylite.exceptions has them all.
from raylite import exceptions_more as _more  # noqa: E402

ActorHandleNotFoundError = _more.ActorHandleNotFoundError
ActorUnschedulableError = _more.ActorUnschedulableError
CrossLanguageError = _more.CrossLanguageError
LocalRayletDiedError = _more.LocalRayletDiedError
ObjectFetchTimedOutError = _more.ObjectFetchTimedOutError
ObjectFreedError = _more.ObjectFreedError
ObjectReconstructionFailedError = _more.ObjectReconstructionFailedError
ObjectRefStreamEndOfStreamError = _more.ObjectRefStreamEndOfStreamError
OufOfBandObjectRefSerializationException = _more.OufOfBandObjectRefSerializationException
OutOfDiskError = _more.OutOfDiskError
PlasmaObjectNotAvailable = _more.PlasmaObjectNotAvailable
RayCgraphCapacityExceeded = _more.RayCgraphCapacityExceeded
RayChannelError = _more.RayChannelError
RayChannelTimeoutError = _more.RayChannelTimeoutError
RayDirectTransportError = _more.RayDirectTransportError
ReferenceCountingAssertionError = _more.ReferenceCountingAssertionError
RpcError = _more.RpcError
StreamingGeneratorReplayInconsistentError = _more.StreamingGeneratorReplayInconsistentError
UserCodeException = _more.UserCodeException


RAY_EXCEPTION_TYPES = [
    PlasmaObjectNotAvailable,
    RayError,
    RayTaskError,
    WorkerCrashedError,
    RayActorError,
    ObjectStoreFullError,
    ObjectLostError,
    ObjectFetchTimedOutError,
    ReferenceCountingAssertionError,
    ObjectReconstructionFailedError,
    OwnerDiedError,
    GetTimeoutError,
    AsyncioActorExit,
    RuntimeEnvSetupError,
    TaskPlacementGroupRemoved,
    ActorPlacementGroupRemoved,
    PendingCallsLimitExceeded,
    LocalRayletDiedError,
    TaskUnschedulableError,
    ActorDiedError,
    ActorUnschedulableError,
    ActorUnavailableError,
    RayChannelError,
    RayChannelTimeoutError,
    OufOfBandObjectRefSerializationException,
    RayCgraphCapacityExceeded,
    UnserializableException,
    ActorAlreadyExistsError,
    ActorHandleNotFoundError,
]


def _rebuild(cls: type[BaseException], state: dict[str, Any]) -> BaseException:
    """Unpickles an error whose constructor does not take its own text back (Ray's signatures)."""
    err: BaseException = cls.__new__(cls)
    err.__dict__.update(state)
    err.args = (str(err),)
    return err
