"""What a client resubmits to a restarted head: its unfinished tasks and the arguments they need."""

from __future__ import annotations

from raylite.ids import task_of
from raylite.rpc import common_pb2, head_pb2


class UnfinishedTasks:
    """The specs a client resubmits to a restarted head.

    A task stays until one of its outputs arrives, and after that for as long
    as a kept task takes one of its outputs as an argument: the head that died
    may have held that output inline, and only rerunning the task remakes it.
    The values of other arguments the client knew when it submitted (its puts)
    stay with the tasks, since the client may drop its own refs to them.
    """

    def __init__(self) -> None:
        self._specs: dict[bytes, common_pb2.TaskSpec] = {}  # in submission order
        self._finished: set[bytes] = set()
        self._needed_by: dict[bytes, int] = {}  # task -> kept tasks taking its outputs
        self._values: dict[bytes, tuple[common_pb2.ObjectValue, int]] = {}  # argument -> (value, kept users)
        self._uses: dict[bytes, tuple[bytes, ...]] = {}  # task -> the arguments it keeps in _values
        self._cancels: dict[bytes, head_pb2.CancelRequest] = {}  # unfinished tasks this client cancelled

    def add(self, spec: common_pb2.TaskSpec, known: dict[bytes, common_pb2.ObjectValue] | None = None) -> None:
        self._specs[spec.task_id] = spec
        for maker in self._makers(spec):
            self._needed_by[maker] = self._needed_by.get(maker, 0) + 1
        if known:
            self._uses[spec.task_id] = tuple(known)
            for oid, value in known.items():
                users = self._values.get(oid, (value, 0))[1]
                self._values[oid] = (value, users + 1)

    def actor_of(self, task_id: bytes) -> bytes:
        """The actor an unfinished actor call was made on (b"" for others)."""
        spec = self._specs.get(task_id)
        return spec.actor_id if spec is not None and spec.kind == common_pb2.ACTOR_METHOD else b""

    def unfinished(self, task_id: bytes) -> common_pb2.TaskSpec | None:
        """The spec of a task this client submitted whose outputs have not arrived."""
        if task_id in self._finished:
            return None
        return self._specs.get(task_id)

    def cancelled(self, task_id: bytes, request: head_pb2.CancelRequest) -> None:
        self._cancels[task_id] = request

    def cancel_of(self, task_id: bytes) -> head_pb2.CancelRequest | None:
        """This client's cancel of an unfinished task, if it made one."""
        return self._cancels.get(task_id)

    def cancels(self) -> list[head_pb2.CancelRequest]:
        return list(self._cancels.values())

    def arguments(self) -> dict[bytes, common_pb2.ObjectValue]:
        return {oid: value for oid, (value, _) in self._values.items()}

    def output_arrived(self, task_id: bytes) -> None:
        if task_id in self._specs and task_id not in self._finished:
            self._finished.add(task_id)
            if self._cancels:
                self._cancels.pop(task_id, None)
            self._drop_if_unneeded(task_id)

    def specs(self) -> list[common_pb2.TaskSpec]:
        return list(self._specs.values())

    def _makers(self, spec: common_pb2.TaskSpec) -> set[bytes]:
        deps = spec.dependencies
        if not deps:
            return set()
        return {task_of(d) for d in deps if task_of(d) in self._specs}

    def _drop_if_unneeded(self, task_id: bytes) -> None:
        stack = [task_id]
        while stack:
            tid = stack.pop()
            if tid not in self._finished or self._needed_by.get(tid, 0) > 0:
                continue
            spec = self._specs.pop(tid)
            self._finished.discard(tid)
            self._needed_by.pop(tid, None)
            for oid in self._uses.pop(tid, ()):
                value, users = self._values[oid]
                if users > 1:
                    self._values[oid] = (value, users - 1)
                else:
                    del self._values[oid]
            for maker in self._makers(spec):
                self._needed_by[maker] -= 1
                stack.append(maker)

    def __len__(self) -> int:
        return len(self._specs)
