"""Named actors and namespaces, as a caller sees them: get_actor, list_named_actors,
and the name checks of an actor's creation (taken names, get_if_exists).

A name is unique within a namespace. A driver's namespace is the one init()
was given, or an anonymous one of its own (a fresh uuid, as Ray's); tasks and
actors run in their job's namespace. `options(namespace=...)` names an actor in
another namespace. The head keeps the directory of live named actors
(raylite/head/state/actors.py); these functions ask it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cloudpickle

from raylite.client import context

if TYPE_CHECKING:
    from raylite.client.actor import ActorHandle
    from raylite.client.core import Client


def current_namespace(client: Client) -> str:
    """The namespace of the calling driver, or of the job of the calling task or actor."""
    if client.namespace is not None:
        return client.namespace
    from raylite.runtime_context import RuntimeContext

    return RuntimeContext(None).namespace or ""


def lookup(client: Client, name: str, namespace: str) -> ActorHandle | None:
    """The live actor named `name` in `namespace`, or None. Everything this process
    sent before is applied first, so an actor it just created is found."""
    from raylite.client.actor import ActorHandle

    client.flush()
    reply = client.get_actor(name, namespace)
    if not reply.found:
        return None
    return ActorHandle(reply.actor_id, cloudpickle.loads(reply.actor_meta))


def get_actor(name: str, namespace: str | None = None) -> ActorHandle:
    """The handle of the live actor named `name` (in the caller's namespace unless told)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"get_actor() needs a non-empty actor name, got {name!r}")
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        raise ValueError(f"get_actor(): namespace must be a non-empty string, got {namespace!r}")
    client = context.current()
    where = namespace if namespace is not None else current_namespace(client)
    handle = lookup(client, name, where)
    if handle is None:
        raise ValueError(
            f"Failed to look up actor with name {name!r}: no live actor named {name!r} in namespace {where!r}. "
            "Check that it was created (and not killed or ended), and pass namespace= if it was created in "
            "another namespace than this job's."
        )
    return handle


def taken_message(name: str, namespace: str) -> str:
    return (
        f"The name {name} (namespace={namespace}) is already taken by a live actor. Use a different name, "
        f"get the existing actor with get_actor({name!r}, namespace={namespace!r}), or pass get_if_exists=True."
    )


def list_named_actors(all_namespaces: bool = False) -> list[Any]:
    """The names of the live named actors of this namespace; with all_namespaces=True,
    {"name": ..., "namespace": ...} of every live named actor of the cluster."""
    client = context.current()
    namespace = current_namespace(client)
    client.flush()
    named = client.list_named_actors("" if all_namespaces else namespace, all_namespaces)
    if all_namespaces:
        return [{"name": a.name, "namespace": a.namespace} for a in named]
    return [a.name for a in named]
