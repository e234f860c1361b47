"""The task table and the scheduler: from submission to results, and lineage.

Theory of operation
-------------------
A task enters as TaskSubmitted (NEW). The table counts its dependencies that
do not exist yet (`missing`, WAITING); each missing object remembers the
tasks waiting on it (`dep_waiters`), each entry stamped with the wait that
made it: a task can leave WAITING with its entries still there (dropped with
its job, failed by another argument, adopted running from a node) and wait
again, even as a new record with the same id (resubmitted), so an entry of an
older wait is stale and ignored. When the count reaches zero the task is
READY and joins the queue of its scheduling class (its resource request and
strategy). After every step, one scheduling pass walks each class queue from
the front and places tasks until a placement fails: tasks of a class are
interchangeable, so the first failure means the rest would fail too. Queues
hold task ids and are cleaned lazily: an entry whose task is no longer READY
is skipped. Placement takes the task's resources on the node (NodeTable) and
emits Dispatch (RUNNING); TaskFinished gives them back and publishes the
results under the task's return ids (FINISHED, out of the table).

Actor creation tasks are scheduled like any task, with `placement` as the
request; the actor then holds `resources` until it dies (ActorDirectory).
Method calls skip the queues: ActorDirectory routes them to the actor's node
in submission order (raylite/head/state/actors.py).

A task blocked in `get` gives its resources back to the node (TaskBlockChanged)
and takes them again when it resumes, possibly overcommitting the node
briefly: this is what keeps nested tasks from deadlocking a full cluster.

Failures and lineage (retries, lost processes, nodes and objects) are in
raylite/head/state/task_failures.py.

A driver's tasks go with it. When a driver disconnects, at the end of that
step (a driver whose stream was replaced reconnects within the same step and
loses nothing), every normal task of its job that has not started (WAITING or
READY) finishes with ObjectLostError, releasing its pins; whatever waits for
its outputs (subscribers, dependent tasks of any job) learns why. Its job is
then gone: normal tasks submitted later under it (nested tasks of its still
running tasks) fail the same way at once, until a driver of that job connects
again. What already runs keeps running and reports as usual, as it did
before. Nested tasks are covered because an executor submits under the job
of the task it runs (raylite/worker/executor_main.py). Actor creations and
calls are left to the actor directory: non-detached actors of the job die
with their driver (and their calls fail); a detached actor outlives it, and
calls to it are never dropped, whoever made them. After a head restart, a
job whose driver did not reconnect by RecoveryEnded is gone the same way.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from raylite.failures import Failure
from raylite.head.state.history import TaskHistory
from raylite.head.state.model import (
    ACTOR_CREATION,
    ACTOR_METHOD,
    NORMAL,
    STREAMING,
    ObjectInfo,
    TaskBlockChanged,
    TaskFinished,
    TaskRecord,
    TaskSubmitted,
)
from raylite.head.state.nodes import NodeTable
from raylite.head.state.objects import ObjectDirectory
from raylite.head.state.scheduling_pass import SchedulingPass, class_key
from raylite.head.state.sink import Sink
from raylite.head.state.states import ActorState, TaskState, last_state
from raylite.head.state.task_failures import TaskFailures
from raylite.ids import object_id

if TYPE_CHECKING:
    from raylite.head.state.actors import ActorDirectory
    from raylite.head.state.cancel import Cancellation
    from raylite.head.state.placement import PlacementGroups
    from raylite.head.state.recovery import Recovery
    from raylite.head.state.streams import Streams

NEW, WAITING, READY = TaskState.NEW, TaskState.WAITING, TaskState.READY
RUNNING, FINISHED = TaskState.RUNNING, TaskState.FINISHED


class TaskTable(SchedulingPass, TaskFailures):
    def __init__(self, sink: Sink, nodes: NodeTable, objects: ObjectDirectory) -> None:
        self.sink = sink
        self.nodes = nodes
        self.objects = objects
        self.tasks: dict[bytes, TaskRecord] = {}
        # finished tasks whose outputs live in a node store: rerun if the node dies
        self.lineage: dict[bytes, TaskRecord] = {}
        self.gone_jobs: set[bytes] = set()  # jobs whose driver left (see the module docstring)
        self.leaving_jobs: dict[bytes, None] = {}  # drivers that left during this step
        # object id -> (task id, wait) for each task waiting for it (module docstring)
        self.dep_waiters: dict[bytes, list[tuple[bytes, int]]] = {}
        self._waits = 0  # the last wait's number
        self._queues: dict[tuple, deque[bytes]] = {}  # scheduling class -> READY task ids, in order
        self._readied = 0  # tasks made READY so far (their ready_seq)
        self._capacities: tuple[dict, dict] = ({}, {})  # (node totals, request key -> capacity): the pass's cache
        self._warned_infeasible: set[tuple] = set()
        self._spread_cursor = 0
        self.history = TaskHistory()  # finished tasks, for the state API and the dashboard (history.py)
        # wired by HeadState
        self.actors: ActorDirectory
        self.recovery: Recovery
        self.cancels: Cancellation
        self.placement: PlacementGroups
        self.streams: Streams

    # ---- submission ----------------------------------------------------------------------

    def on_submitted(self, ev: TaskSubmitted) -> None:
        self.submit(ev.task)

    def submit(self, task: TaskRecord) -> None:
        known = self.tasks.get(task.task_id)
        if known is not None:
            # a resubmission (a client reconnecting to a restarted head): the task may
            # have been adopted from a node, which does not know who submitted it
            known.client_id = task.client_id
            if known.generator == STREAMING:
                self.streams.resubmitted(known)
            return
        if task.generator == STREAMING and task.task_id in self.lineage:
            finished = self.lineage[task.task_id]  # its items first, then done_before its return 0
            finished.client_id = task.client_id
            self.streams.resubmitted(finished)
        if self.recovery.done_before(task) or task.task_id in self.lineage:
            return  # (in lineage: a replay of a finished task kept to remake its outputs)
        self.sink.enter(task, NEW, "submitted")
        task.retries_left = task.max_retries
        if task.parent_id:  # (its scheduling class names its depth: scheduling_pass.py)
            parent = self.tasks.get(task.parent_id)
            task.depth = parent.depth + 1 if parent is not None else 1
        self.tasks[task.task_id] = task
        self.pin_arguments(task)
        if task.generator == STREAMING:
            self.streams.submitted(task)
        early = self.recovery.early_results.pop(task.task_id, None) if self.recovery.early_results else None
        kind = task.kind
        if early is not None and kind == NORMAL:
            self.finish(task, early.results, "it finished while the head was down")
            return
        if task.parent_id and self.cancels.child_submitted(task):
            return
        if kind == ACTOR_CREATION:
            if not self.actors.created(task):
                return  # refused (its name is taken): it finished failed
        elif kind == ACTOR_METHOD:
            self.actors.route_call(task)
            return
        elif self.gone_jobs and task.job_id in self.gone_jobs:
            self.finish(task, [_driver_gone(task, "was submitted after")] * task.num_returns, "its driver had left")
            return
        failed = self._failed_dependency(task) if task.deps else None
        if failed is not None:
            self.finish(task, [failed] * task.num_returns, "an argument is an error")
            return
        self.wait_for_deps(task)

    def _failed_dependency(self, task: TaskRecord) -> ObjectInfo | None:
        objects = self.objects.objects
        for dep in task.deps:
            info = objects.get(dep)
            if info is not None and info.is_error:
                return info
        return None

    def pin_arguments(self, task: TaskRecord) -> None:
        """The task's arguments (top-level and nested) live while it may run."""
        task.pinned = True
        if task.deps:
            self.objects.pin(task.deps)
        if task.borrowed:
            self.objects.pin(task.borrowed)

    def release_pins(self, task: TaskRecord) -> None:
        if task.pinned:
            task.pinned = False
            if task.deps:
                self.objects.unpin(task.deps)
            if task.borrowed:
                self.objects.unpin(task.borrowed)

    def wait_for_deps(self, task: TaskRecord, why: str = "") -> None:
        """Queues the task once its missing arguments exist (at once if none is missing)."""
        objects = self.objects.objects
        missing = [d for d in task.deps if d not in objects]
        task.missing = len(missing)
        if not missing:
            self.make_ready(task, why or "every argument exists")
            return
        self.sink.transition(
            task, WAITING, f"{why}; an argument does not exist" if why else "an argument does not exist yet"
        )
        self._waits += 1
        entry = (task.task_id, self._waits)
        task.wait = self._waits
        waiters = self.dep_waiters
        for dep in missing:
            waiters.setdefault(dep, []).append(entry)

    def object_ready(self, info: ObjectInfo) -> None:
        """An object exists: the tasks waiting for it move on (or fail, if it is an error)."""
        waiting = self.dep_waiters.pop(info.object_id, None)
        if not waiting:
            return
        for task_id, wait in waiting:
            task = self.tasks.get(task_id)
            if task is None or task.state is not WAITING or task.wait != wait:
                continue  # (an entry of an earlier wait: the task left it and may wait again)
            if info.is_error:
                self.finish(task, [info] * task.num_returns, "an argument failed")
                continue
            task.missing -= 1
            if task.missing == 0:
                self.make_ready(task, "its last argument exists")

    def make_ready(self, task: TaskRecord, cause: str) -> None:
        self.sink.transition(task, READY, cause)
        self._readied += 1
        task.ready_seq = self._readied
        key = class_key(task)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        queue.append(task.task_id)
        self.sink.needs_pass = True

    # ---- results and failures --------------------------------------------------------------

    def task_finished(self, ev: TaskFinished) -> None:
        task = self.tasks.get(ev.task_id)
        if task is None and self.recovery.keep_early_result(ev):
            return
        if task is None or task.state is not RUNNING or task.node_id != ev.node_id:
            return  # late report of a task already retried or failed, or from a node it left
        if ev.retryable and task.kind == NORMAL and self.retry(task, "it raised a retryable error"):
            return
        if ev.retryable and task.kind == ACTOR_METHOD:
            # bounced: the actor's process had died when the call arrived. The
            # death report (ExecutorDied) retries or fails the call; this is no result.
            return
        if task.kind == ACTOR_CREATION:
            self.actors.constructor_returned(task, ev)
        self.finish(
            task,
            ev.results,
            "its results arrived after a cancel" if task.cancel else "its results arrived",
            ev.error_summary,
        )

    def waiting_classes(self, now: float, patience: float) -> list[bytes]:
        """Scheduling classes whose first READY task has waited `patience` seconds or more and
        that some node could run: leases of other classes are revoked for them (leases.py)."""
        out = []
        for key, queue in self._queues.items():
            if queue and key not in self._warned_infeasible:
                task = self.tasks.get(queue[0])
                if task is not None and task.story and now - task.story[-4] >= patience:
                    out.append(repr(key).encode())
        return out

    def recorded(self, task: TaskRecord, results: list[ObjectInfo], node_id: bytes, attempt: int, error: str) -> None:
        """A task that ran on a lease (raylite/head/state/leases.py), reported by its submitter
        once answered: it enters the table run already and leaves it finished in the same step,
        holding no resources of its own (its lease held them), kept in lineage if an output is in
        a store (a lost one is remade through the scheduler, not on a lease). Its results go to
        subscribers and waiting tasks, not to its submitter, which has them."""
        if task.task_id in self.tasks or task.task_id in self.lineage or task.kind != NORMAL:
            return  # a replay, or it went through the head meanwhile (bounced): that run counts
        if task.generator:
            return  # never leased (raylite/client/leases.py): a peer's mistake, ignored
        resources, task.resources = task.resources, {}
        self.sink.enter(task, NEW, "ran on a lease")
        task.retries_left = task.max_retries
        task.node_id = node_id
        task.attempt = attempt
        self.pin_arguments(task)
        self.sink.transition(task, RUNNING, "ran on a lease")
        self.finish(task, results, "its lease's answer was recorded", error, deliver=False)
        task.resources = resources  # what a rerun from lineage takes

    def finish(
        self, task: TaskRecord, results: list[ObjectInfo], cause: str, error: str = "", deliver: bool = True
    ) -> None:
        """Removes a task from the table and publishes its results under its return ids;
        `error`: the "ExcType: message" its node reported, for the history; `deliver`: False
        when its submitter has the results already."""
        was_running = task.state is RUNNING
        self.tasks.pop(task.task_id, None)
        if task.parent_id or self.cancels.children:
            self.cancels.task_left(task)
        failed = any(r.is_error for r in results)  # (before a stream's results become its return 0)
        if task.generator == STREAMING:
            results = self.streams.finishing(task, results)
        kind = task.kind
        actor = self.actors.actors.get(task.actor_id) if kind == ACTOR_CREATION else None
        if kind == NORMAL and (task.items or any(r.node_id is not None and not r.is_error for r in results)):
            # its outputs live on one node: keep the recipe (and its inputs) to remake them
            self.lineage[task.task_id] = task
        elif actor is None or actor.state is ActorState.DEAD:
            self.release_pins(task)  # an actor's constructor arguments live as long as it may restart
        if was_running and kind != ACTOR_CREATION and not task.blocked:
            self.nodes.give_back(task.node_id, task.resources)
        self.sink.transition(task, FINISHED, cause)
        self.history.add(task, results, error)
        if kind != NORMAL:
            self.actors.task_finished(task)
        add = self.objects.add
        owner = task.client_id if deliver else None
        for index in range(task.num_returns):
            src = results[index] if index < len(results) else results[-1]
            oid = object_id(task.task_id, index)
            add(src if src.object_id == oid else renamed(src, oid), owner)
        if task.generator and (self.streams.lost or self.streams.owed):
            # a failed, cancelled or dropped generator's lost items are lost for good, not remade
            self.streams.remake_lost(task, failed)

    def block_changed(self, ev: TaskBlockChanged) -> None:
        task = self.tasks.get(ev.task_id)
        if task is None or task.state is not RUNNING or task.blocked == ev.blocked:
            return
        if task.kind == ACTOR_CREATION or task.node_id is None or not self.nodes.alive(task.node_id):
            return
        task.blocked = ev.blocked
        if ev.blocked:
            self.nodes.give_back(task.node_id, task.resources)
        else:
            self.nodes.take(task.node_id, task.resources)

    # ---- drivers that leave ---------------------------------------------------------------

    def driver_left(self, job_id: bytes) -> None:
        """Its job's queued tasks go at the end of the step, unless a driver of the job is back by then."""
        self.leaving_jobs[job_id] = None

    def driver_back(self, job_id: bytes) -> None:
        self.gone_jobs.discard(job_id)

    def drop_left_jobs(self, drivers: set[bytes]) -> None:
        """End of step: the tasks of the jobs whose driver left in it, and has no driver now, go."""
        leaving, self.leaving_jobs = self.leaving_jobs, {}
        for job_id in leaving:
            if job_id not in drivers:
                self.drop_job(job_id)

    def drop_jobs_without_driver(self, drivers: set[bytes]) -> None:
        """After a head restart: the jobs whose driver did not reconnect are gone."""
        jobs = {t.job_id for t in self.tasks.values() if t.kind == NORMAL and t.job_id not in drivers}
        for job_id in sorted(jobs):
            self.drop_job(job_id)

    def drop_job(self, job_id: bytes) -> None:
        self.gone_jobs.add(job_id)
        doomed = [
            t for t in self.tasks.values() if t.job_id == job_id and t.kind == NORMAL and t.state in (WAITING, READY)
        ]
        for task in doomed:
            if task.state is WAITING or task.state is READY:  # (an earlier drop may have failed it already)
                error = _driver_gone(task, "was dropped before it ran, as")
                self.finish(task, [error] * task.num_returns, "its driver left")

    # ---- invariants --------------------------------------------------------------------------

    def validate(self) -> None:
        objects = self.objects.objects
        queued = {tid for queue in self._queues.values() for tid in queue}
        assert all(self._queues.values()), "an empty class queue is kept (the pass drops them)"
        counted: dict[tuple, int] = {}
        for task in self.tasks.values():
            if task.running_class is not None:
                assert task.state is RUNNING, f"{task.name} is {task.state} but counted as running in its class"
                counted[task.running_class] = counted.get(task.running_class, 0) + 1
        assert counted == self.sink.running_by_class, f"running by class {self.sink.running_by_class} != {counted}"
        for task in self.tasks.values():
            state = task.state
            assert state in (WAITING, READY, RUNNING, TaskState.WAITING_FOR_ACTOR), (
                f"{task.name} is {state} in the table"
            )
            assert task.story is None or last_state(task.story) == state, f"{task.name}: story {task.story}"
            if state is WAITING:
                missing = sum(1 for d in task.deps if d not in objects)
                assert missing == task.missing, f"task {task.name}: missing {task.missing} != {missing}"
                assert task.kind != ACTOR_METHOD
            elif state is READY:
                assert task.task_id in queued, f"{task.name} is READY but in no queue"
                assert task.node_id is None and task.kind != ACTOR_METHOD
            elif state is RUNNING:
                assert task.node_id is not None, f"{task.name} runs nowhere"
            if task.kind == NORMAL:
                assert task.pinned, f"{task.name} does not pin its arguments"
        for oid in self.dep_waiters:
            assert oid not in objects, f"object {oid.hex()} is ready but still has waiters"
        for task in self.lineage.values():
            assert task.state is FINISHED and task.task_id not in self.tasks and task.pinned


def renamed(info: ObjectInfo, oid: bytes) -> ObjectInfo:
    return ObjectInfo(oid, info.value, info.node_id, info.size, info.is_error, info.failure, info.contained)


def _driver_gone(task: TaskRecord, what: str) -> ObjectInfo:
    failure = Failure(
        "ObjectLostError",
        f"task {task.name} ({task.task_id.hex()}) {what} the driver of its job {task.job_id.hex()} "
        "exited: a job's work goes with its driver (detached actors excepted)",
    )
    return ObjectInfo(b"", is_error=True, failure=failure)
