"""Errors the runtime makes itself (not raised by user code), as values.

The head and the worker daemons decide that a task failed for a reason of
their own (its process died, its node died, its actor is gone). They carry
that decision as a `Failure` and turn it into the bytes of the exception the
user's `get` raises only when it leaves for the wire.
"""

from __future__ import annotations

from dataclasses import dataclass

from raylite import error_transport
from raylite.serialization import dumps


@dataclass(slots=True, frozen=True)
class Failure:
    """An error the runtime creates: raylite.exceptions.<kind>, with message as its text."""

    kind: str
    message: str


def failure_bytes(failure: Failure) -> bytes:
    """The serialized exception a `get` of the failed object raises."""
    return dumps(error_transport.system_error(failure.kind, failure.message))
