"""The failures of the task table: retries, lost processes and nodes, and lineage.

Theory of operation
-------------------
Failures: a task whose process or node dies is retried while it has retries
left (RUNNING -> READY, or WAITING while an argument is missing; a new
`attempt`: deaths and results of older attempts are stale), else it fails
with WorkerCrashedError; a retryable application error is retried the same
way. An error argument fails the task without running it, and the failure
flows on to tasks waiting for its outputs. A task cancelled while it runs is
never retried: its death finishes it with TaskCancelledError
(raylite/head/state/cancel.py).

Lineage: a finished normal task with an output in a node's store is kept in
`lineage` with its arguments pinned; if that node dies and no copy survives,
the task runs again (FINISHED -> WAITING/READY) and the lost outputs wait for
it. A lost object with no lineage (a put) becomes ObjectLostError. The entry
goes when none of its outputs is left (ObjectDirectory's on_freed).

TaskFailures is a part of raylite.head.state.tasks.TaskTable, kept in its own
module; the names it uses of the rest of the table are declared in task_part.py.
"""

from __future__ import annotations

from raylite.failures import Failure
from raylite.head.state.cancel import cancelled_info
from raylite.head.state.model import ACTOR_METHOD, NORMAL, ExecutorDied, ObjectInfo, TaskRecord
from raylite.head.state.states import TaskState
from raylite.head.state.task_part import TaskTablePart
from raylite.ids import object_id, task_of

WAITING, RUNNING = TaskState.WAITING, TaskState.RUNNING


class TaskFailures(TaskTablePart):
    # ---- processes and nodes that die ----------------------------------------------------

    def executor_died(self, ev: ExecutorDied) -> None:
        if ev.actor_id:
            self.actors.process_died(ev)
            return
        task = self.tasks.get(ev.task_id)
        if task is None or (ev.attempt and ev.attempt != task.attempt):
            return
        if task.state is RUNNING and task.node_id == ev.node_id:
            self.executor_lost(task, f"its executor process on node {ev.node_id.hex()[:12]} died ({ev.reason})")

    def executor_lost(self, task: TaskRecord, why: str) -> None:
        """A running task lost its process: retry it or fail it (a cancelled one is not retried)."""
        if task.cancel:
            message = f"{task.name} was cancelled while it ran, and then {why}"
            self.finish(task, [cancelled_info(task, message)] * task.num_returns, f"cancelled: {why}")
            return
        if self.retry(task, why):
            return
        failure = Failure(
            "WorkerCrashedError",
            f"task {task.name} ({task.task_id.hex()}) failed: {why}; no retries left (max_retries={task.max_retries})",
        )
        self.finish(task, [ObjectInfo(b"", is_error=True, failure=failure)], why)

    def retry(self, task: TaskRecord, why: str) -> bool:
        """Queues a running task again if it has retries left (a cancelled task has none)."""
        if task.retries_left == 0 or task.cancel:
            return False
        if self.recovery.awaited_nodes is None and task.client_id not in self.objects.clients:
            gone = [d for d in task.deps if d not in self.objects.objects and task_of(d) not in self.tasks]
            if gone:
                # Adopted by a restarted head from its node, with an argument nobody re-announced,
                # and its client is not connected to bring it: nothing will make it, so waiting for
                # it would be for ever. (A connected client may still put it: the task waits.)
                failure = Failure(
                    "ObjectLostError",
                    f"task {task.name} ({task.task_id.hex()}) could not run again ({why}): its argument "
                    f"{gone[0].hex()} was lost when the head restarted",
                )
                self.finish(task, [ObjectInfo(b"", is_error=True, failure=failure)] * task.num_returns, why)
                return True
        if not task.blocked:
            self.nodes.give_back(task.node_id, task.resources)
        if task.retries_left > 0:
            task.retries_left -= 1
        task.node_id = None
        task.blocked = False
        # Its arguments existed when this head placed it, but not always now: one lost
        # since (being remade), or, for a task adopted from a node that rejoined a
        # restarted head, one this head never had (a value its client did not put again).
        self.wait_for_deps(task, f"retried: {why}")
        return True

    def node_lost(self, node_id: bytes, why: str) -> None:
        """Retries or fails what ran on a dead node (its actors' calls fail with the actors)."""
        for task in [t for t in self.tasks.values() if t.node_id == node_id and t.state is RUNNING]:
            if task.kind != ACTOR_METHOD:
                self.executor_lost(task, why)

    # ---- lineage -------------------------------------------------------------------------

    def objects_lost(self, lost: list[ObjectInfo], where: str) -> None:
        """Rebuilds lost objects from their lineage; the others (puts) become ObjectLostErrors."""
        # Every lost object leaves the directory first, so that rebuilt tasks wait
        # for lost inputs that are themselves being rebuilt.
        for info in lost:
            self.objects.drop_lost(info)
        if lost:
            self._wait_again({info.object_id for info in lost})
        rebuilding: set[bytes] = set()
        for info in lost:
            maker_id = task_of(info.object_id)
            if maker_id in rebuilding:
                continue  # another output of a task already rerun (rebuilding drops its lineage)
            maker = self.lineage.get(maker_id)
            if maker is not None:
                rebuilding.add(maker_id)
                self.rebuild(maker)
                continue
            running = self.tasks.get(maker_id)
            if running is not None and running.generator and running.kind == NORMAL:
                # an item of a generator not done yet: its rerun reports it again, or it is remade after
                self.streams.item_lost(maker_id, info.object_id)
                continue
            failure = Failure(
                "ObjectLostError",
                f"object {info.object_id.hex()} was lost: {where}, and it was made by put(), "
                "so it cannot be rebuilt; put it again",
            )
            self.objects.add(ObjectInfo(info.object_id, is_error=True, failure=failure), owner=None)

    def _wait_again(self, lost: set[bytes]) -> None:
        """WAITING tasks counted these arguments as present: they wait for them again.

        Else a task would become READY while a lost argument is still being remade
        (or fail to learn that it became an ObjectLostError). A READY task keeps its
        place: its executor waits for an argument being remade, or raises its error.
        """
        waiters = self.dep_waiters
        for task in self.tasks.values():
            if task.state is WAITING:
                for dep in task.deps:  # (each occurrence counts, as in wait_for_deps)
                    if dep in lost:
                        task.missing += 1
                        waiters.setdefault(dep, []).append((task.task_id, task.wait))

    def rebuild(self, task: TaskRecord) -> None:
        """Runs a finished task again to remake its lost outputs (lineage reconstruction)."""
        del self.lineage[task.task_id]
        task.node_id = None
        task.blocked = False
        task.cancel = 0  # (a cancelled task that finished first: its value is remade, not cancelled)
        task.retries_left = task.max_retries
        self.tasks[task.task_id] = task
        self.wait_for_deps(task)

    def output_freed(self, oid: bytes) -> None:
        maker = self.lineage.get(task_of(oid))
        if maker is None:
            return
        objects = self.objects.objects
        if not any(object_id(maker.task_id, i) in objects for i in range(maker.num_returns + maker.items)):
            del self.lineage[maker.task_id]  # no output left to remake
            self.release_pins(maker)
