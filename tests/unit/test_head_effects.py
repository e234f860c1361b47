"""The head servicer carries out every effect the state can return, each where it belongs."""

from __future__ import annotations

import typing
from typing import Any

from raylite.batching import Outbox
from raylite.head.service import HeadServicer
from raylite.head.state import (
    ActorChanged,
    CancelRefused,
    CancelTask,
    Deliver,
    Dispatch,
    FreeObject,
    GeneratorProgressed,
    KillActor,
    ObjectInfo,
    PromoteObject,
    TaskRecord,
    Warn,
)
from raylite.head.state.model import Effect
from raylite.rpc import common_pb2, head_pb2

CLIENT = b"c" * 8
NODE = b"n" * 16
OID = b"o" * 20
ACTOR = b"a" * 16


class Storage:
    def __init__(self) -> None:
        self.saved: list[Any] = []

    def save_actor(self, actor: Any) -> None:
        self.saved.append(actor)


def test_every_effect_is_carried_out() -> None:
    svc = HeadServicer("test")
    storage = Storage()
    svc.storage = storage  # type: ignore[assignment]
    client, node = Outbox(head_pb2.HeadToClient), Outbox(head_pb2.HeadToNode)
    svc.clients[CLIENT], svc.nodes[NODE], svc.node_functions[NODE] = client, node, set()
    actor = object()
    svc.state.actors[ACTOR] = actor  # type: ignore[assignment]
    value = common_pb2.ObjectValue(object_id=OID, data=b"v", size=1)
    spec = common_pb2.TaskSpec(task_id=b"t" * 16)
    effects = [
        Deliver(CLIENT, ObjectInfo(OID, value=value, size=1)),
        Dispatch(NODE, TaskRecord(b"t" * 16, b"job", CLIENT, "f", spec=spec.SerializeToString(), attempt=2), []),
        FreeObject(NODE, OID),
        KillActor(NODE, ACTOR),
        PromoteObject(NODE, OID),
        ActorChanged(ACTOR),
        CancelTask(NODE, b"t" * 16),
        CancelTask(NODE, b"m" * 16, ACTOR, force=False),
        CancelRefused(CLIENT, OID),
        CancelRefused(CLIENT, b"p" * 20, actor_call=True),
        Warn(CLIENT, "careful"),
        Warn(CLIENT, "again"),
        GeneratorProgressed(CLIENT, b"t" * 16, 3),
    ]
    # a new kind of effect must be carried out, and be added here
    assert {type(e) for e in effects} == set(typing.get_args(Effect))
    svc.state.handle = lambda *events, now=None: effects  # type: ignore[method-assign]
    svc.apply()
    assert list(client.msg.objects) == [value]
    assert [(a.spec.task_id, a.attempt) for a in node.msg.tasks] == [(b"t" * 16, 2)]
    assert list(node.msg.free_objects) == [OID] and list(node.msg.promoted_objects) == [OID]
    assert list(node.msg.kill_actors) == [ACTOR]
    assert storage.saved == [actor]
    assert client.msg.warning == "careful\nagain"
    assert [(c.task_id, c.actor_id, c.force) for c in node.msg.cancel_tasks] == [
        (b"t" * 16, b"", False),
        (b"m" * 16, ACTOR, False),
    ]
    assert [(r.object_id, r.actor_call) for r in client.msg.cancel_refused] == [(OID, False), (b"p" * 20, True)]
    assert [(p.task_id, p.consumed) for p in client.msg.generator_consumed] == [(b"t" * 16, 3)]


def test_effects_for_peers_without_a_stream_are_dropped() -> None:
    svc = HeadServicer("test")
    value = common_pb2.ObjectValue(object_id=OID, data=b"v", size=1)
    svc.state.handle = lambda *events, now=None: [  # type: ignore[method-assign]
        Deliver(CLIENT, ObjectInfo(OID, value=value, size=1)),
        Dispatch(NODE, TaskRecord(b"t" * 16, b"job", CLIENT, "f"), []),
        FreeObject(NODE, OID),
        KillActor(NODE, ACTOR),
        PromoteObject(NODE, OID),
        ActorChanged(ACTOR),  # no storage: nothing to save
        CancelTask(NODE, b"t" * 16),
        CancelRefused(CLIENT, OID),
        Warn(CLIENT, "careful"),
    ]
    svc.apply()
    assert svc.clients == {} and svc.nodes == {}
