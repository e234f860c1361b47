"""The rest of Ray's exception classes: names a Ray program may import or catch that the
runtime itself does not raise (compiled graphs, cross-language calls, older or internal
errors), each with Ray's bases and constructor. They are reached as raylite.exceptions.X,
which re-exports them, and name that module as theirs (tracebacks, pickles)."""

from __future__ import annotations

from typing import Any

from raylite.exceptions import (
    ObjectLostError,
    RayError,
    RaySystemError,
)


class CrossLanguageError(RayError):
    """An error raised by code in another language (raylite runs Python only)."""

    def __init__(self, ray_exception: Any = None) -> None:
        super().__init__(f"an error from another language: {ray_exception}")


class LocalRayletDiedError(RayError):
    """The node daemon of the task died."""

    def __str__(self) -> str:
        return "The node daemon of this task died; see its log for why."


class UserCodeException(RayError):
    """Wraps an error raised by user code inside a library built on raylite."""


class OutOfDiskError(RayError):
    """The object does not fit in the node's store and the disk it spills to is full."""


class ObjectFetchTimedOutError(ObjectLostError):
    """No node could be found to fetch the object from in time."""

    def _explanation(self) -> str:
        return "Fetching it timed out: no node holding it could be found."


class ReferenceCountingAssertionError(ObjectLostError, AssertionError):
    """The object was freed while a reference to it was still held (a bug in reference counting)."""

    def _explanation(self) -> str:
        return "It was freed while a reference to it was still held; this is a bug."


class ObjectFreedError(ObjectLostError):
    """The object was freed explicitly before this get."""

    def _explanation(self) -> str:
        return "It was freed explicitly; free objects only once nobody needs them."


class ObjectReconstructionFailedError(ObjectLostError):
    """The object was lost and running its task again to remake it failed or was not allowed."""

    def __init__(
        self,
        object_ref_hex: str = "",
        reason: Any = None,
        reason_message: str | None = None,
        owner_address: Any = None,
        call_site: str = "",
    ) -> None:
        super().__init__(object_ref_hex, owner_address, call_site)
        self.reason = reason
        self.reason_message = reason_message

    def _explanation(self) -> str:
        return self.reason_message or "It was lost and could not be rebuilt from its lineage."


class RpcError(RayError):
    """A call between raylite processes failed."""

    def __init__(self, message: str, rpc_code: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.rpc_code = rpc_code

    def __str__(self) -> str:
        return self.message


class PlasmaObjectNotAvailable(RayError):
    """An object was not available in time (kept for Ray's name)."""


class ActorUnschedulableError(RayError):
    """No node can ever host the actor (for example an unknown node in a hard affinity)."""

    def __init__(self, error_message: str) -> None:
        super().__init__(error_message)
        self.error_message = error_message

    def __str__(self) -> str:
        return f"The actor cannot be scheduled: {self.error_message}"


class ObjectRefStreamEndOfStreamError(RayError):
    """A streaming generator has no more items."""


class StreamingGeneratorReplayInconsistentError(RaySystemError):
    """A retried streaming generator yielded a different number of items than its first run."""


class OufOfBandObjectRefSerializationException(RayError):
    """An ObjectRef was pickled outside of raylite's serialization (Ray's name, spelling included)."""


class RayChannelError(RaySystemError):
    """A channel of a compiled graph failed (raylite has no compiled graphs)."""


class RayChannelTimeoutError(RayChannelError, TimeoutError):
    """A channel operation of a compiled graph timed out."""


class RayCgraphCapacityExceeded(RaySystemError):
    """A channel of a compiled graph is full."""


class RayDirectTransportError(RaySystemError):
    """A direct transfer between actors failed."""


class ActorHandleNotFoundError(ValueError, RayError):
    """The actor handle is not known to this session (made before a shutdown and init, say)."""

    def __init__(self, error_message: str) -> None:
        super().__init__(error_message)
        self.error_message = error_message

    def __str__(self) -> str:
        return self.error_message


for _cls in (
    CrossLanguageError,
    LocalRayletDiedError,
    UserCodeException,
    OutOfDiskError,
    ObjectFetchTimedOutError,
    ReferenceCountingAssertionError,
    ObjectFreedError,
    ObjectReconstructionFailedError,
    RpcError,
    PlasmaObjectNotAvailable,
    ObjectRefStreamEndOfStreamError,
    StreamingGeneratorReplayInconsistentError,
    OufOfBandObjectRefSerializationException,
    RayChannelError,
    RayChannelTimeoutError,
    RayCgraphCapacityExceeded,
    RayDirectTransportError,
    ActorHandleNotFoundError,
    ActorUnschedulableError,
):
    _cls.__module__ = "raylite.exceptions"
