"""How an executor turns what a task raised into the error its callers' `get` raises.

As Ray's: the error is a RayTaskError holding the user's exception as its
`cause` and the remote traceback as its text, headed `ray::<name>() (pid=...,
ip=...)`. The traceback shows only the user's frames: the executor's own
(running the task, reading its arguments, a nested `get`) are left out, and
the user's frames name the user's file and line, since functions travel with
their file name (raylite.serialization's pickler keeps it), so where the file
exists the source lines show too.

An exception that will not pickle (it holds a lock, say) cannot travel: its
type, text and traceback travel instead, as a RayError cause, so `get` still
raises a RayTaskError saying what happened. One that pickles but will not
unpickle at the caller becomes an UnserializableException there
(error_transport.envelope).
"""

from __future__ import annotations

import os
import traceback
from typing import Any

import raylite
from raylite import error_transport, exceptions

_RUNTIME_DIR = os.path.dirname(os.path.abspath(raylite.__file__)) + os.sep

# The most of a constructor's error the head quotes in the ActorDiedError of later calls.
SUMMARY_MAX_CHARS = 2000


def is_runtime_frame(filename: str) -> bool:
    """Whether a traceback frame is raylite's own code rather than the user's."""
    return filename.startswith(_RUNTIME_DIR)


def user_traceback(exc: BaseException) -> str:
    """exc formatted as Python prints it, without raylite's frames (chained exceptions too)."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
    seen: set[int] = set()
    stack = [te]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        t.stack = traceback.StackSummary.from_list([f for f in t.stack if not is_runtime_frame(f.filename)])
        stack.extend(x for x in (t.__cause__, t.__context__) if x is not None)
        stack.extend(getattr(t, "exceptions", None) or ())
    return "".join(te.format())


def task_error(
    name: str,
    exc: BaseException,
    pid: int,
    ip: str,
    *,
    actor: Any = None,
    actor_cls: Any = None,
    actor_id: str | None = None,
) -> exceptions.RayTaskError:
    """The RayTaskError of a task (or actor call) `name` that raised exc.

    A RayTaskError from a nested get or a failed argument passes through, so
    the caller sees the task where the failure began. An actor's calls (and its
    constructor: actor_cls) show the actor's id and repr in the header.
    """
    if isinstance(exc, exceptions.RayTaskError):
        return exc
    return exceptions.RayTaskError(
        name,
        user_traceback(exc),
        exc,
        f"ray::{name}",
        pid,
        ip,
        _actor_repr(actor, actor_cls) if actor_id else None,
        actor_id,
    )


def _actor_repr(actor: Any, actor_cls: Any) -> str | None:
    """The actor's repr for the error's header (its class's default form if the constructor failed)."""
    if actor is None:
        if actor_cls is None:
            return None
        return f"<{getattr(actor_cls, '__module__', '?')}.{getattr(actor_cls, '__qualname__', '?')} object>"
    try:
        return repr(actor)
    except Exception:  # noqa: BLE001 - a __repr__ that fails is not worth another error
        return object.__repr__(actor)


def travelling(err: BaseException) -> Any:
    """What to pickle as the task's error value: err, or its stand-in if err does not pickle."""
    try:
        return error_transport.envelope(err, str(err))
    except Exception as why:  # noqa: BLE001 - whatever pickling raised
        stand_in = _without_unpicklable_cause(err, why)
    return error_transport.envelope(stand_in, str(stand_in))


def _without_unpicklable_cause(err: BaseException, why: BaseException) -> BaseException:
    if not isinstance(err, exceptions.RayTaskError):
        return exceptions.RaySystemError(f"{type(err).__name__}: {err} (the error itself could not be pickled: {why})")
    cause = err.cause
    kind = f"{type(cause).__module__}.{type(cause).__qualname__}" if cause is not None else "?"
    replacement = exceptions.RayError(
        f"The exception {kind} raised by the task could not be pickled to send it back ({why}). "
        f"It was:\n{err.traceback_str}"
    )
    return exceptions.RayTaskError(
        err.function_name,
        err.traceback_str,
        replacement,
        err.proctitle,
        err.pid,
        err.ip,
        err.actor_repr,
        err._actor_id,
    )


def summary(err: BaseException) -> str:
    """The text of err for the head to quote (a constructor's error in later calls' ActorDiedError).

    The start (where) and the end (what) of a long traceback are kept.
    """
    text = str(err) if isinstance(err, exceptions.RayTaskError) else f"{type(err).__name__}: {err}"
    if len(text) <= SUMMARY_MAX_CHARS:
        return text
    half = SUMMARY_MAX_CHARS // 2 - 10
    return f"{text[:half]}\n  ...\n{text[-half:]}"
