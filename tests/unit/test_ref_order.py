"""The head must hear of a ref before the object or task it names.

A put (or a task's return) that reaches the head before any process holds a
ref to it is freed on arrival. The API therefore makes the ObjectRef first;
this checks the order of what a client is told, with a recording client.
Within one batch the head applies held refs before puts and tasks whatever
order they were added in (raylite/message_order.py, tests/unit/test_message_order.py);
this order matters when they leave in different batches.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import raylite as ray
from raylite.client import context
from raylite.ids import IdSource


class RecordingClient:
    def __init__(self) -> None:
        self.log: list[tuple[str, bytes]] = []
        self.n = 0
        self.ids = IdSource()
        self.job_id = b"job-0000"
        self.is_driver = False
        self.runtime_env: dict[str, object] = {}  # raylite/client/runtime_env.py reads these
        self.runtime_env_key = ""
        self.runtime_env_packages: dict[str, bytes] = {}
        self.runtime_env_cache: dict[str, object] = {}

    def add_ref(self, oid: bytes) -> None:
        self.log.append(("held", oid))

    def remove_ref(self, oid: bytes) -> None:
        self.log.append(("released", oid))

    def new_put_id(self) -> bytes:
        self.n += 1
        return bytes([self.n]) * 20

    def put_serialized(self, s, oid: bytes) -> None:
        self.log.append(("put", oid))

    def export(self, function_id: bytes, blob: bytes) -> None:
        pass

    def submit(self, spec) -> None:
        for i in range(spec.num_returns):
            self.log.append(("task", spec.task_id + i.to_bytes(4, "big")))


@pytest.fixture
def recording() -> Iterator[RecordingClient]:
    client = RecordingClient()
    context.install(client)  # type: ignore[arg-type]
    try:
        yield client
    finally:
        context.install(None)


def first(log: list[tuple[str, bytes]], kind: str, oid: bytes) -> int:
    return log.index((kind, oid))


def test_put_ref_is_held_before_the_put(recording: RecordingClient) -> None:
    ref = ray.put(b"value")
    assert first(recording.log, "held", ref.binary()) < first(recording.log, "put", ref.binary())


@ray.remote
def two():
    return 1, 2


@ray.remote
class Actor:
    def method(self):
        return 1


def test_task_returns_are_held_before_the_task(recording: RecordingClient) -> None:
    refs = two.options(num_returns=2).remote()
    for ref in refs:
        assert first(recording.log, "held", ref.binary()) < first(recording.log, "task", ref.binary())


def test_actor_handle_and_call_returns_are_held_before_their_tasks(recording: RecordingClient) -> None:
    handle = Actor.remote()
    creation_result = handle._ref.binary()
    assert first(recording.log, "held", creation_result) < first(recording.log, "task", creation_result)
    ref = handle.method.remote()
    assert first(recording.log, "held", ref.binary()) < first(recording.log, "task", ref.binary())
