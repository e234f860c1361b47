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


# How a node says an actor's runtime environment could not be set up, in its creation's error:
# the head then fails the actor's calls with RuntimeEnvSetupError (with the text from here on), as Ray does.
RUNTIME_ENV_ACTOR_FAILED = "Could not create the actor because its associated runtime env failed to be created."


# How the head says no node can ever host an actor (its hard node affinity names a node that is gone or
# too small), in its death: its creation and calls then fail with ActorUnschedulableError, as Ray's do.
ACTOR_UNSCHEDULABLE = "no node can ever host it: "


def actor_death_failure(why: str, default: Failure) -> Failure:
    """The error of a dead actor's calls: `default`, unless its death was a runtime environment's set-up
    or no node could host it."""
    at = why.find(RUNTIME_ENV_ACTOR_FAILED)
    if at >= 0:
        return Failure("RuntimeEnvSetupError", why[at:])
    at = why.find(ACTOR_UNSCHEDULABLE)
    if at >= 0:
        return Failure("ActorUnschedulableError", why[at + len(ACTOR_UNSCHEDULABLE) :])
    return default


def failure_bytes(failure: Failure) -> bytes:
    """The serialized exception a `get` of the failed object raises."""
    return dumps(error_transport.system_error(failure.kind, failure.message))
