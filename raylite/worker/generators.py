"""Running a generator task in an executor: each item stored and reported as it is yielded.

A task whose spec says it is a generator (TaskSpec.generator; see
raylite/head/state/streams.py and raylite/client/generator.py) is run by
iterating what its function returned: item i (from 0) is stored as object
task_id + (i + 1), inline or in the node's store like any result, and reported
to the head as a GeneratorItem on this executor's client stream, so that it
arrives after everything the task sent before it (its submissions, puts and
refs) and before the task's result. The stream is made at the first item if
the task made none yet: an item and the result must travel on one stream.

An exception raised by the generator is the task's error, as for any task:
the head publishes it as the item after the last one once no retry is left.

STREAMING: the task's own value is None. With backpressure N, after each item
the executor waits until fewer than N of the items so far are not taken yet.
DYNAMIC: the executor holds a ref to each item (the head hears of the ref
before the item) and returns them all in a DynamicObjectRefGenerator.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from typing import TYPE_CHECKING, Any

from raylite import ids
from raylite.client import context
from raylite.client.generator import DynamicObjectRefGenerator
from raylite.client.object_ref import ObjectRef
from raylite.rpc import common_pb2, head_pb2

if TYPE_CHECKING:
    from raylite.worker.executor_main import Executor

# How long a paused generator waits between complaints that its caller takes nothing.
BACKPRESSURE_NOTE_S = 60.0


def _not_a_generator(spec: common_pb2.TaskSpec, value: Any) -> TypeError:
    return TypeError(
        f"{spec.name} was called as a generator task but returned a {type(value).__name__}, not a generator; "
        "use 'yield' in it, or call it with num_returns=1"
    )


class ItemReporter:
    """Stores and reports the items of one generator task."""

    def __init__(self, executor: Executor, spec: common_pb2.TaskSpec) -> None:
        self.executor = executor
        self.spec = spec
        self.refs: list[ObjectRef] = []
        self.count = 0

    def add(self, item: Any) -> None:
        spec = self.spec
        oid = ids.object_id(spec.task_id, self.count + 1)
        value = self.executor._store_result(oid, item, spec.name)
        client = context.current()
        if spec.generator == common_pb2.DYNAMIC:
            self.refs.append(ObjectRef(oid))  # its RefChange goes before the item
        client.report_item(
            head_pb2.GeneratorItem(task_id=spec.task_id, index=self.count, value=value, node_id=self.executor.node_id)
        )
        self.count += 1
        if spec.generator_backpressure:
            self._pause(client)

    def _pause(self, client: Any) -> None:
        # at most `backpressure` items the caller did not take exist when the generator goes on
        needed = self.count - self.spec.generator_backpressure + 1
        while needed > 0 and not client.wait_consumed(self.spec.task_id, needed, BACKPRESSURE_NOTE_S):
            print(
                f"raylite: generator task {self.spec.name} is paused: {self.spec.generator_backpressure} items are "
                "waiting for its caller to take them (_generator_backpressure_num_objects)",
                file=sys.stderr,
                flush=True,
            )

    def value(self) -> Any:
        if self.spec.generator_backpressure:
            context.current().forget_progress(self.spec.task_id)
        if self.spec.generator == common_pb2.DYNAMIC:
            return DynamicObjectRefGenerator(self.refs)
        return None


def fixed_returns(spec: common_pb2.TaskSpec, value: Any, n: int) -> list[Any]:
    """The num_returns=n values of a generator that is not a generator task.

    As Ray's: fewer items than n is the task's error; more is reported on
    stderr, and the first n are its values.
    """
    values: list[Any] = []
    for item in value:
        if len(values) == n:
            print(
                f"raylite: {spec.name} yielded more than num_returns={n} values; the first {n} are its results",
                file=sys.stderr,
                flush=True,
            )
            value.close()
            break
        values.append(item)
    if len(values) < n:
        raise ValueError(f"{spec.name} declared num_returns={n} but yielded only {len(values)} values")
    return values


def drain(executor: Executor, spec: common_pb2.TaskSpec, value: Any) -> Any:
    """Runs a generator task's generator to its end; returns the task's own value."""
    if inspect.isasyncgen(value):  # an async generator function as a task: on a loop of its own
        return asyncio.run(drain_async(executor, spec, value))
    if not inspect.isgenerator(value):
        raise _not_a_generator(spec, value)
    reporter = ItemReporter(executor, spec)
    for item in value:
        reporter.add(item)
    return reporter.value()


async def drain_async(executor: Executor, spec: common_pb2.TaskSpec, value: Any) -> Any:
    """As drain, for a method of an async actor (an async generator, or a plain one)."""
    if inspect.isgenerator(value):
        return drain(executor, spec, value)
    if not inspect.isasyncgen(value):
        raise _not_a_generator(spec, value)
    reporter = ItemReporter(executor, spec)
    async for item in value:
        if spec.generator_backpressure:
            # the pause blocks: not on the actor's event loop, where other calls run
            await asyncio.get_running_loop().run_in_executor(None, reporter.add, item)
        else:
            reporter.add(item)
    return reporter.value()
