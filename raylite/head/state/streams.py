"""Generator tasks: items published as they are yielded, and kept until their caller takes them.

Theory of operation
-------------------
A task whose function is a generator (TaskRecord.generator) reports each item
it yields as GeneratorItemReported, in order, before its result: item i is the
object task_id + (i + 1), published at once (`task.items` counts them). Index
0 stays the task's own return, published when it finishes.

STREAMING (Ray's ObjectRefGenerator): the caller learns of the items as they
come (each is delivered to it, the task's owner) and makes an ObjectRef for
one only when it takes it out of its generator. Until then nobody holds the
item, so the stream pins it ("unclaimed"); the pin goes when the owner holds
the item, or when the owner drops the generator itself (its ref to return 0):
then every unclaimed item is released at once and later ones are never
pinned, so a stream nobody reads does not fill the store. The caller's ref to
return 0 is what says it still reads, which is why the stream watches that
object id and the unclaimed items' (ObjectDirectory calls `held`/`dropped`
for watched ids only).

An item whose node dies while its task has not finished (a retry is queued,
or the task runs on elsewhere after an earlier attempt stored it there) is
not an ObjectLostError: the task's run reports it again (index below
`task.items`, published again since it is missing), and if the attempt that
finishes never did, TaskTable.finish runs the task again from lineage
(`lost`, `remake_lost`).

When a STREAMING task ends, its return 0 is None; if it failed (its error, a
lost worker with no retries left, a dead actor), the error is published
first as the item after the last one, which is where Ray's caller meets it:
the items before are fine, the next one raises, then the stream ends. Retries
run the generator again from the start: items it yields again (index below
`task.items`) were published already and are published again only if they
were lost and someone still needs them (`ObjectDirectory.add` ignores an
object that exists, and frees at the end of the step one nobody needs).

DYNAMIC (num_returns="dynamic"): the executor holds a ref to each item it
reports and returns them in one DynamicObjectRefGenerator at index 0 (whose
value pins them, `contained`); items need no stream pins here.

A restarted head: a node rejoining with a running task does not know its
caller, so the stream is the caller's only once it resubmits the task
(`resubmitted`: the items published meanwhile are delivered to it then, also
for a task that ended meanwhile, before its return 0); items reported before
the head knows the task at all are kept for it (`early`) until recovery ends.

An item the executor reported in the instant before the head was killed may
have reached neither the caller nor anything that survived (an inline value
lives in the head's memory only). The reconnecting caller says which items it
has (StreamReceivedReported: all below `arrived` but `missing`), and only the
items it lacks that nobody re-announced are owed to it (`owed`): those below
`task.items` when it says so, and those a later item skips past. An owed item
reported again (the executor's client resending, or a retry) is published to
the caller; one still absent when the task ends is remade by running the task
again from lineage, once, and after that it is an ObjectLostError for the
caller, which never waits for ever. Items the caller took (and freed) before
the restart are never owed: nothing runs again for them.

Backpressure: a caller that limits how far a stream may run ahead tells the
head how many items it took (GeneratorConsumed); the head passes it on to the
executor's client stream that reports the items (GeneratorProgressed), and
passes NO_LIMIT once the caller dropped the generator, so that an executor
paused for a caller that is gone goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from raylite.failures import Failure
from raylite.head.state.model import (
    DYNAMIC,
    NO_LIMIT,
    STREAMING,
    Deliver,
    GeneratorConsumed,
    GeneratorItemReported,
    GeneratorProgressed,
    ObjectInfo,
    StreamReceivedReported,
    TaskRecord,
)
from raylite.head.state.objects import ObjectDirectory
from raylite.head.state.sink import Sink
from raylite.head.state.states import TaskState
from raylite.ids import TASK_ID_BYTES, object_id

if TYPE_CHECKING:
    from raylite.head.state.tasks import TaskTable


@dataclass(slots=True)
class Stream:
    """A STREAMING task's items that its caller has not taken yet."""

    owner: bytes  # the caller's client id
    reading: bool  # the owner still holds the generator (its ref to return 0)
    running: bool = True  # the task has not finished
    unclaimed: set[bytes] = field(default_factory=set)  # published items pinned for the owner
    reporter: bytes = b""  # the executor client that reports the items (for backpressure)
    caller: Received | None = None  # what its owner said it had when it reconnected to this head


@dataclass(frozen=True, slots=True)
class Received:
    """The items a reconnecting caller has: every index below `arrived` but `missing`."""

    arrived: int
    missing: frozenset[int]

    def lacks(self, index: int) -> bool:
        return index >= self.arrived or index in self.missing


class Streams:
    def __init__(self, sink: Sink, objects: ObjectDirectory) -> None:
        self.sink = sink
        self.objects = objects
        self.streams: dict[bytes, Stream] = {}  # task id -> its stream, while the caller may take items
        # object id -> task id, for ObjectDirectory: each stream's return 0 while the owner
        # reads, and its unclaimed items
        self.watched: dict[bytes, bytes] = {}
        self.tasks: TaskTable  # wired by HeadState
        # task -> its items lost (their node died) while it had not finished (TaskTable.objects_lost)
        self.lost: dict[bytes, set[bytes]] = {}
        # a restarted head: task -> items reported before the task was resubmitted or adopted
        self.early: dict[bytes, int] = {}
        # task -> indices of items its caller lacks that nobody here has (module docstring)
        self.owed: dict[bytes, set[int]] = {}
        self.reran_for_owed: set[bytes] = set()  # tasks run again from lineage for owed items

    # ---- the task's life ---------------------------------------------------------------

    def submitted(self, task: TaskRecord) -> None:
        """A STREAMING task entered the table: its caller reads it while it holds return 0."""
        if task.task_id in self.streams:
            return
        gen_ref = object_id(task.task_id, 0)
        reading = self.objects.holds(gen_ref, task.client_id)
        stream = self.streams[task.task_id] = Stream(task.client_id, reading)
        if reading:
            self.watched[gen_ref] = task.task_id
        if self.early and task.task_id in self.early:
            self._take_early(task, stream)

    def _take_early(self, task: TaskRecord, stream: Stream) -> None:
        """Items a restarted head kept for a task it did not know yet: they are the task's, for its caller."""
        task.items = max(task.items, self.early.pop(task.task_id))
        objects = self.objects.objects
        for index in range(task.items):
            info = objects.get(object_id(task.task_id, index + 1))
            if info is not None:
                self._publish(task, info, stream, again=True)

    def resubmitted(self, task: TaskRecord) -> None:
        """The caller of a STREAMING task the head adopted from a rejoining node (which knows no
        caller) resubmitted it: it gets the items published meanwhile, kept for it as usual, even
        if the task finished already (then before its return 0, which recovery delivers next).
        (A restarted head frees nothing until its recovery ends, so they are all still here.)"""
        stream = self.streams.get(task.task_id)
        if stream is not None:
            if stream.owner == task.client_id:
                # adopted from its node before the caller was back: the items published meanwhile
                # went to no one (ObjectDirectory.add delivers to connected owners only)
                self._deliver_again(task, stream)
                return
            self._forget(task.task_id, stream)
        if self.early:
            task.items = max(task.items, self.early.pop(task.task_id, 0))
        self.submitted(task)
        stream = self.streams[task.task_id]
        objects = self.objects.objects
        for index in range(task.items):
            info = objects.get(object_id(task.task_id, index + 1))
            if info is not None:
                self._publish(task, info, stream, again=True)
        if task.task_id not in self.tasks.tasks:  # it finished before its caller came back (in lineage)
            stream.running = False
            self._drop_if_done(task.task_id, stream)

    def _deliver_again(self, task: TaskRecord, stream: Stream) -> None:
        """Sends the caller the items it may not have (it ignores the ones it has), pinned for it if
        it reads the stream now (made while it was away, the stream did not know it did)."""
        gen_ref = object_id(task.task_id, 0)
        if not stream.reading and self.objects.holds(gen_ref, stream.owner):
            stream.reading = True
            self.watched[gen_ref] = task.task_id
        objects = self.objects.objects
        for index in range(task.items):
            info = objects.get(object_id(task.task_id, index + 1))
            if info is not None:
                self._publish(task, info, stream, again=True)

    def _forget(self, task_id: bytes, stream: Stream) -> None:
        del self.streams[task_id]
        self.watched.pop(object_id(task_id, 0), None)
        for oid in stream.unclaimed:
            del self.watched[oid]
        if stream.unclaimed:
            self.objects.unpin(tuple(stream.unclaimed))

    def item_reported(self, ev: GeneratorItemReported) -> None:
        task = self.tasks.tasks.get(ev.task_id)
        if task is None and self.objects.holding_frees and ev.task_id not in self.tasks.lineage:
            # a restarted head that has not heard of the task yet (its caller resubmits it,
            # or its node reports it, later): keep the item for it (nothing is freed meanwhile)
            self.early[ev.task_id] = max(self.early.get(ev.task_id, 0), ev.index + 1)
            self.objects.add(ev.info, owner=None)
            return
        if task is None or task.state is not TaskState.RUNNING or task.node_id != ev.node_id:
            return  # a late item of an attempt that was retried or failed, or a task that is done
        if self.early and ev.task_id in self.early:  # (adopted from its node after the items came)
            task.items = max(task.items, self.early.pop(ev.task_id))
        info = ev.info
        if task.generator == DYNAMIC:
            task.items = max(task.items, ev.index + 1)
            self.objects.add(info, owner=None)  # held by the executor until its result holds it
            return
        if ev.index < task.items:
            owed = self.owed.get(ev.task_id)
            if owed and ev.index in owed:  # its caller never had it: published to it now
                owed.discard(ev.index)
                self._publish(task, info, self.streams.get(ev.task_id))
                return
            # yielded again by a retry: published already (remade if it was lost and is needed)
            self.objects.add(info, owner=None)
            return
        stream = self.streams.get(ev.task_id)
        if ev.index > task.items and stream is not None and stream.caller is not None:
            # it skipped items this head never heard of: reported to a head that died
            self._owe(task, stream.caller, task.items, ev.index)
        task.items = ev.index + 1
        if stream is None:
            # a task adopted from a node that rejoined a restarted head, or rerun from lineage
            self.submitted(task)
            stream = self.streams[ev.task_id]
        stream.reporter = ev.client_id
        self._publish(task, info, stream)

    def finishing(self, task: TaskRecord, results: list[ObjectInfo]) -> list[ObjectInfo]:
        """A STREAMING task is done (TaskTable.finish): publishes its error as the item after the
        last, and returns what its return 0 is (None: ObjectInfo with no value)."""
        stream = self.streams.get(task.task_id)
        error = next((r for r in results if r.is_error), None)
        if error is not None:
            oid = object_id(task.task_id, task.items + 1)
            task.items += 1
            self._publish(task, _renamed(error, oid), stream)
        if stream is not None:
            stream.running = False
            self._drop_if_done(task.task_id, stream)
        return [ObjectInfo(object_id(task.task_id, 0))]

    def _publish(self, task: TaskRecord, info: ObjectInfo, stream: Stream | None, again: bool = False) -> None:
        """Publishes an item for the task's owner, pinned for it while it still reads and has no ref
        (again: the item exists; deliver it to the owner, who did not know of it)."""
        oid = info.object_id
        if again:
            self.sink.effects.append(Deliver(task.client_id, info))
        else:
            self.objects.add(info, owner=task.client_id)
        if stream is None or not stream.reading:
            return
        if oid in stream.unclaimed or self.objects.holds(oid, stream.owner):
            return  # (pinned already, or the owner made a ref to it)
        stream.unclaimed.add(oid)
        self.watched[oid] = task.task_id
        self.objects.pin((oid,))

    def caller_received(self, ev: StreamReceivedReported) -> None:
        """A reconnecting caller said which items of a stream it has (after resubmitting the task)."""
        tasks = self.tasks
        task = tasks.tasks.get(ev.task_id) or tasks.lineage.get(ev.task_id)
        if task is None or task.generator != STREAMING or task.client_id != ev.client_id:
            return  # a stream this head cannot serve (not resubmitted, or not the caller's)
        received = Received(ev.arrived, ev.missing)
        stream = self.streams.get(ev.task_id)
        if stream is not None and stream.owner == ev.client_id:
            stream.caller = received
        self._owe(task, received, 0, task.items)

    def _owe(self, task: TaskRecord, received: Received, start: int, end: int) -> None:
        """Items start..end-1 that the caller lacks and nobody here has are owed to it."""
        objects = self.objects.objects
        task_id = task.task_id
        owed = [i for i in range(start, end) if received.lacks(i) and object_id(task_id, i + 1) not in objects]
        if not owed:
            return
        if task_id not in self.tasks.tasks:  # it ended before its caller came back: run it again
            self.reran_for_owed.add(task_id)
            self.tasks.rebuild(task)
        self.owed.setdefault(task_id, set()).update(owed)

    def item_lost(self, task_id: bytes, oid: bytes) -> None:
        self.lost.setdefault(task_id, set()).add(oid)

    def remake_lost(self, task: TaskRecord, failed: bool) -> None:
        """A generator finished (TaskTable.finish): its items lost while it ran that the attempt that
        finished did not report again, and items owed to its caller, are remade by running it
        again from lineage (owed ones once), or, if it failed, are lost for good."""
        task_id, objects = task.task_id, self.objects.objects
        missing = {oid for oid in self.lost.pop(task_id, ()) if oid not in objects}
        owed = {object_id(task_id, i + 1) for i in self.owed.pop(task_id, ())} - objects.keys()
        if not missing and not owed:
            self.reran_for_owed.discard(task_id)
            return
        again = not owed or task_id not in self.reran_for_owed
        if not failed and again and task_id in self.tasks.lineage:
            if owed:
                self.reran_for_owed.add(task_id)
                self.owed[task_id] = {int.from_bytes(oid[TASK_ID_BYTES:], "big") - 1 for oid in owed}
            self.tasks.rebuild(task)
            return
        self.reran_for_owed.discard(task_id)
        for oid in sorted(missing | owed):
            why = "was reported to a head that died" if oid in owed else "was lost with its node"
            failure = Failure(
                "ObjectLostError",
                f"object {oid.hex()}, an item of generator task {task.name}, {why} and its task cannot run "
                "again to remake it",
            )
            # (an owed item goes to the caller, which waits for it)
            self.objects.add(
                ObjectInfo(oid, is_error=True, failure=failure), owner=task.client_id if oid in owed else None
            )

    # ---- the caller's refs (ObjectDirectory calls these for watched ids) ----------------------

    def held(self, oid: bytes, client_id: bytes) -> None:
        """client_id holds a ref to a watched object: an unclaimed item its owner took loses its pin."""
        task_id = self.watched.get(oid)
        stream = self.streams.get(task_id) if task_id is not None else None
        if stream is None or client_id != stream.owner or oid not in stream.unclaimed:
            return
        stream.unclaimed.discard(oid)
        del self.watched[oid]
        self.objects.unpin((oid,))
        self._drop_if_done(task_id, stream)  # type: ignore[arg-type]

    def dropped(self, oid: bytes, client_id: bytes) -> None:
        """client_id's last ref to a watched object went: if it is the owner's generator, stop pinning."""
        task_id = self.watched.get(oid)
        stream = self.streams.get(task_id) if task_id is not None else None
        if stream is None or client_id != stream.owner or oid != object_id(task_id, 0):  # type: ignore[arg-type]
            return
        del self.watched[oid]
        stream.reading = False
        unclaimed, stream.unclaimed = stream.unclaimed, set()
        for item in unclaimed:
            del self.watched[item]
        if unclaimed:
            self.objects.unpin(tuple(unclaimed))
        running = self.tasks.tasks.get(task_id)  # type: ignore[arg-type]
        if stream.reporter and stream.running and running is not None and running.state is TaskState.RUNNING:
            # an executor paused for this caller must not wait for it any more (a task waiting
            # to run again has no executor to tell)
            self.sink.effects.append(GeneratorProgressed(stream.reporter, task_id, NO_LIMIT))  # type: ignore[arg-type]
        self._drop_if_done(task_id, stream)  # type: ignore[arg-type]

    def consumed(self, ev: GeneratorConsumed) -> None:
        stream = self.streams.get(ev.task_id)
        if stream is not None and stream.owner == ev.client_id and stream.reporter and stream.running:
            self.sink.effects.append(GeneratorProgressed(stream.reporter, ev.task_id, ev.consumed))

    def _drop_if_done(self, task_id: bytes, stream: Stream) -> None:
        if stream.running or stream.unclaimed:
            return
        del self.streams[task_id]
        self.watched.pop(object_id(task_id, 0), None)

    # ---- invariants ----------------------------------------------------------------------

    def pinned(self) -> list[bytes]:
        """The objects the streams pin (each once), for ObjectDirectory.validate."""
        return [oid for stream in self.streams.values() for oid in stream.unclaimed]

    def validate(self) -> None:
        for task_id, stream in self.streams.items():
            if stream.running:
                task = self.tasks.tasks.get(task_id)
                assert task is not None and task.generator == STREAMING, f"stream {task_id.hex()} of {task}"
            assert stream.running or stream.unclaimed, f"stream {task_id.hex()} is done and kept"
            gen_ref = object_id(task_id, 0)
            assert (self.watched.get(gen_ref) == task_id) == stream.reading, f"stream {task_id.hex()}: watch"
            assert stream.reading or not stream.unclaimed, f"stream {task_id.hex()} pins items nobody reads"
            for oid in stream.unclaimed:
                assert self.watched.get(oid) == task_id, f"unclaimed {oid.hex()} not watched"
        for oid, task_id in self.watched.items():
            assert task_id in self.streams, f"{oid.hex()} watched for a stream that is gone"
        for task_id in self.lost:
            assert task_id in self.tasks.tasks, f"lost items of {task_id.hex()}, which is not running"
        for task_id in self.owed:
            assert task_id in self.tasks.tasks, f"items owed by {task_id.hex()}, which is not running"
        for task_id in self.reran_for_owed:
            assert task_id in self.tasks.tasks, f"{task_id.hex()} ran again for owed items, and ended"
        assert not self.early or self.objects.holding_frees, "early items kept after recovery ended"


def _renamed(info: ObjectInfo, oid: bytes) -> ObjectInfo:
    return ObjectInfo(oid, info.value, info.node_id, info.size, info.is_error, info.failure, info.contained)
