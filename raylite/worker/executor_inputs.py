"""What an executor gives a task: its function (cached, fetched from the head when the
assignment did not carry it) and its arguments, read in place from this node's store
where they live here, else through `get` (which fetches them from their node).

TaskInputs is a part of raylite.worker.executor_main.Executor, kept in its own module;
the names it uses of the rest of the executor are declared for the type checker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cloudpickle

from raylite import store
from raylite.client import context
from raylite.client.submit import Dep
from raylite.rpc import common_pb2, head_pb2
from raylite.serialization import deserialize


class TaskInputs:
    if TYPE_CHECKING:  # the rest of the executor (executor_main.py)
        functions: dict[bytes, Any]
        blobs: dict[bytes, bytes]
        node_id: bytes
        store_dir: str

    def _function(self, function_id: bytes) -> Any:
        fn = self.functions.get(function_id)
        if fn is None:
            blob = self.blobs.pop(function_id, None)
            if blob is None:
                blob = context.current().get_function(function_id)
            fn = cloudpickle.loads(blob)
            self.functions[function_id] = fn
        return fn

    def _arguments(self, assignment: head_pb2.TaskAssignment) -> tuple[list[Any], dict[str, Any]]:
        spec = assignment.spec
        payload = spec.payload
        if spec.kind == common_pb2.ACTOR_METHOD:
            payload = payload[payload.index(b"\0") + 1 :]
        args, kwargs = deserialize(payload)
        if not spec.dependencies:
            return args, kwargs
        known = {v.object_id: v for v in assignment.args}
        values: dict[int, Any] = {}

        def resolve(index: int) -> Any:
            if index not in values:
                values[index] = self._dependency(spec.dependencies[index], known)
            return values[index]

        args = [resolve(a.index) if isinstance(a, Dep) else a for a in args]
        kwargs = {k: resolve(v.index) if isinstance(v, Dep) else v for k, v in kwargs.items()}
        return args, kwargs

    def _dependency(self, oid: bytes, known: dict[bytes, common_pb2.ObjectValue]) -> Any:
        value = known.get(oid)
        if value is not None and not value.is_error:
            if not value.in_store:
                return deserialize(value.data)
            if value.node_id == self.node_id:
                try:
                    return store.read(self.store_dir, oid)
                except FileNotFoundError:
                    pass  # spilled: get() below has the daemon restore it
        from raylite.client.api import get
        from raylite.client.object_ref import ObjectRef

        return get(ObjectRef(oid))
