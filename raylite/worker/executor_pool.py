"""The daemon's executor processes: start them, feed them tasks, notice them die.

Normal tasks go to an idle pooled executor, one task at a time; an actor gets
an executor of its own for its whole life. The pool keeps `size` executors
for normal tasks prestarted and starts more on demand (a task blocked in
`get` keeps its executor while its CPU goes to another task).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

from raylite.failures import Failure, failure_bytes
from raylite.ids import object_id
from raylite.rpc import common_pb2, head_pb2
from raylite.worker import protocol

log = logging.getLogger("raylite.worker")


class Executor:
    """One executor process, as the daemon sees it."""

    def __init__(self, pool: ExecutorPool, proc: asyncio.subprocess.Process, sock: socket.socket) -> None:
        self.pool = pool
        self.proc = proc
        self.sock = sock
        self.writer: asyncio.StreamWriter | None = None
        self.ready = False
        self.backlog: list[bytes] = []  # frames queued before the executor said hello
        self.task_id = b""  # the normal task it runs now
        self.assignment: head_pb2.TaskAssignment | None = None  # ... and how it came
        self.actor_id = b""  # the actor it hosts, if any
        self.attempt = 0  # of that task, or of the actor's creation
        self.killed = False  # by request: its death needs no report
        # the last task it reported itself (DONE): if it dies before its client's
        # stream delivered that result, the head must hear of the death (it ignores
        # the report if the result did arrive)
        self.last_done: tuple[bytes, int] | None = None
        self.functions: set[bytes] = set()  # function ids it has been sent

    def send_task(self, assignment: head_pb2.TaskAssignment) -> None:
        fid = assignment.spec.function_id
        if fid and fid not in self.functions:
            blob = self.pool.functions.get(fid)
            if blob is not None and not assignment.function.blob:
                assignment.function.function_id = fid
                assignment.function.blob = blob
            self.functions.add(fid)
        elif assignment.function.blob:
            assignment.ClearField("function")
        self._send(protocol.pack(protocol.TASK, assignment.SerializeToString()))

    def _send(self, frame: bytes) -> None:
        if self.ready and self.writer is not None:
            self.writer.write(frame)
        else:
            self.backlog.append(frame)

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass


class ExecutorPool:
    def __init__(
        self,
        size: int,
        executor_env: dict[str, Any],
        on_result: Callable[[head_pb2.TaskResult], None],
        on_death: Callable[[head_pb2.ExecutorDied], None],
        output_fds: tuple[int, int] | None = None,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        self.size = size
        self.executor_env = executor_env
        self.on_result = on_result
        self.on_death = on_death
        self.on_exit = on_exit  # with the pid of every executor that exited
        # where executors print: the driver's terminal for an embedded cluster, else our log
        self.stdout: int | None = output_fds[0] if output_fds else None
        self.stderr: int | None = output_fds[1] if output_fds else None
        self.functions: dict[bytes, bytes] = {}
        self.executors: set[Executor] = set()
        self.idle: deque[Executor] = deque()
        self.starting = 0  # pooled executors not ready yet
        self.waiting: deque[head_pb2.TaskAssignment] = deque()
        self.actors: dict[bytes, Executor] = {}
        self.closing = False

    async def start(self) -> None:
        for _ in range(self.size):
            self._spawn_pooled()

    def _pooled_count(self) -> int:
        return sum(1 for e in self.executors if not e.actor_id)

    def _spawn_pooled(self) -> Executor:
        self.starting += 1
        return self._spawn()

    def _spawn(self) -> Executor:
        parent, child = socket.socketpair()
        env = dict(os.environ)
        env["RAYLITE_EXECUTOR"] = json.dumps({**self.executor_env, "fd": child.fileno()})
        placeholder = Executor(self, None, parent)  # type: ignore[arg-type]
        self.executors.add(placeholder)
        asyncio.get_running_loop().create_task(self._run(placeholder, child, env))
        return placeholder

    async def _run(self, ex: Executor, child: socket.socket, env: dict[str, str]) -> None:
        try:
            ex.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "raylite.worker.executor_main",
                pass_fds=(child.fileno(),),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=self.stdout,
                stderr=self.stderr,
            )
        finally:
            child.close()
        reader, ex.writer = await asyncio.open_unix_connection(sock=ex.sock)
        try:
            while True:
                header = await reader.readexactly(protocol.HEADER.size)
                length, kind = protocol.HEADER.unpack(header)
                body = await reader.readexactly(length)
                self._on_frame(ex, kind, body)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        code = await ex.proc.wait()
        self._on_exit(ex, code)

    def _on_frame(self, ex: Executor, kind: int, body: bytes) -> None:
        if kind == protocol.HELLO:
            ex.ready = True
            for frame in ex.backlog:
                ex.writer.write(frame)  # type: ignore[union-attr]
            ex.backlog.clear()
            if not ex.actor_id:
                self.starting -= 1
                self._became_idle(ex)
        elif kind in (protocol.RESULT, protocol.DONE):
            if not ex.actor_id:
                if kind == protocol.DONE:
                    ex.last_done = (ex.task_id, ex.attempt)
                ex.task_id = b""
                ex.assignment = None
                self._became_idle(ex)
            if kind == protocol.RESULT:
                self.on_result(head_pb2.TaskResult.FromString(body))

    def _on_exit(self, ex: Executor, code: int) -> None:
        self.executors.discard(ex)
        if ex in self.idle:
            self.idle.remove(ex)
        if not ex.ready and not ex.actor_id:
            self.starting -= 1
        if self.closing:
            return
        if self.on_exit is not None:
            self.on_exit(ex.proc.pid)
        reason = _describe_exit(code, ex.proc.pid)
        if ex.actor_id:
            if self.actors.get(ex.actor_id) is ex:
                del self.actors[ex.actor_id]
            if not ex.killed:
                self.on_death(head_pb2.ExecutorDied(actor_id=ex.actor_id, reason=reason, attempt=ex.attempt))
        elif ex.task_id:
            self.on_death(head_pb2.ExecutorDied(task_id=ex.task_id, reason=reason, attempt=ex.attempt))
        if ex.last_done is not None and not ex.actor_id:
            task_id, attempt = ex.last_done
            self.on_death(head_pb2.ExecutorDied(task_id=task_id, reason=reason, attempt=attempt))
        elif not ex.actor_id and not ex.task_id:
            log.warning("idle executor pid %d exited: %s", ex.proc.pid, reason)
        # tasks waiting for an executor need one starting each: the one that died
        # may have been started for them (before it said hello)
        if self._pooled_count() < self.size or len(self.waiting) > self.starting:
            self._spawn_pooled()

    def _became_idle(self, ex: Executor) -> None:
        if self.waiting:
            self._give(ex, self.waiting.popleft())
        else:
            self.idle.append(ex)

    def _give(self, ex: Executor, assignment: head_pb2.TaskAssignment) -> None:
        ex.assignment = assignment
        ex.task_id = assignment.spec.task_id
        ex.attempt = assignment.attempt
        ex.send_task(assignment)

    # ---- what the daemon calls -------------------------------------------------

    def submit(self, assignment: head_pb2.TaskAssignment) -> None:
        if assignment.function.blob:
            self.functions[assignment.function.function_id] = assignment.function.blob
        kind = assignment.spec.kind
        if kind == common_pb2.ACTOR_METHOD:
            ex = self.actors.get(assignment.spec.actor_id)
            if ex is None:
                self.on_result(_actor_gone(assignment))
                return
            ex.send_task(assignment)
        elif kind == common_pb2.ACTOR_CREATION:
            ex = self.idle.popleft() if self.idle else self._spawn()
            ex.actor_id = assignment.spec.actor_id
            ex.attempt = assignment.attempt
            self.actors[ex.actor_id] = ex
            ex.send_task(assignment)
            if self._pooled_count() < self.size:
                self._spawn_pooled()
        elif self.idle:
            self._give(self.idle.popleft(), assignment)
        else:
            self.waiting.append(assignment)
            if len(self.waiting) > self.starting:
                self._spawn_pooled()

    def kill_actor(self, actor_id: bytes) -> None:
        ex = self.actors.pop(actor_id, None)
        if ex is not None:
            ex.killed = True  # the head asked for it and already knows
            ex.kill()

    def running(self) -> list[head_pb2.TaskAssignment]:
        """Normal tasks given to this node and not finished: running or waiting for an executor."""
        started = [e.assignment for e in self.executors if e.assignment is not None]
        return started + list(self.waiting)

    def live_actors(self) -> list[tuple[bytes, int]]:
        return [(actor_id, ex.attempt) for actor_id, ex in self.actors.items()]

    async def stop(self) -> None:
        self.closing = True
        procs = [e.proc for e in self.executors if e.proc is not None]
        for e in list(self.executors):
            e.kill()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), timeout=5)
            except asyncio.TimeoutError:
                log.error("executor pid %d did not exit after SIGKILL", proc.pid)


def _describe_exit(code: int, pid: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"pid {pid} was killed by {name}"
    return f"pid {pid} exited with code {code}"


def _actor_gone(assignment: head_pb2.TaskAssignment) -> head_pb2.TaskResult:
    """A bounce for a call whose actor has no process here (the head waits for the death report)."""
    data = failure_bytes(
        Failure("ActorDiedError", f"actor {assignment.spec.actor_id.hex()[:12]} has no process on this node")
    )
    result = head_pb2.TaskResult(task_id=assignment.spec.task_id, retryable=True)
    for i in range(max(1, assignment.spec.num_returns)):
        result.results.add(object_id=object_id(assignment.spec.task_id, i), data=data, size=len(data), is_error=True)
    return result
