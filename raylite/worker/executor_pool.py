"""The daemon's executor processes: the I/O around PoolState (raylite/worker/state/pool.py).

PoolState decides which executor to start, which one runs a task, which to
kill and what the head hears of a death; this shell spawns the processes,
speaks the frames of raylite/worker/protocol.py on a socketpair with each,
turns what they say (and their exits) into events, and carries out the
instructions that come back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from typing import Any

from raylite import config
from raylite.failures import Failure, failure_bytes
from raylite.ids import object_id
from raylite.rpc import common_pb2, head_pb2
from raylite.worker import protocol, runtime_env
from raylite.worker.executor_logs import ExecutorLogs
from raylite.worker.fork_server import ForkedProcess, ForkServer, ForkServerGone
from raylite.worker.state import pool
from raylite.worker.state.pool import PoolState

log = logging.getLogger("raylite.worker")


class _Process:
    """One executor's process and sockets, once spawned."""

    __slots__ = ("proc", "sock", "transport", "control")

    def __init__(self, sock: socket.socket, control: socket.socket) -> None:
        self.proc: asyncio.subprocess.Process | ForkedProcess | None = None
        self.sock = sock
        self.transport: asyncio.Transport | None = None
        # cancels (raylite/worker/protocol.py): written as they come, even before the
        # process exists; a few bytes each, they wait in the socket's buffer until read
        self.control = control


class _Frames(asyncio.Protocol):
    """The daemon's end of an executor's task socket: whole frames handed on as they arrive.

    Every frame the socket holds at a wake-up is cut out of the bytes and handed
    to on_frame at once, in order, without a coroutine switch per frame (a
    StreamReader's two readexactly per frame cost more than the frame's handling).
    """

    def __init__(self, on_frame: Callable[[int, bytes], None], process: _Process | None = None) -> None:
        self.on_frame = on_frame
        self.process = process
        self.buffer = bytearray()
        self.need = 0  # bytes the buffer must hold before its first frame is whole
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # set here, not when create_unix_connection returns: the executor's hello may be read
        # first (a forked executor greets at once), and the pool answers it with a write
        if self.process is not None:
            self.process.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        if buffer:
            buffer += data
            if len(buffer) < self.need:  # a large frame still coming: no copy until it is whole
                return
            data = bytes(buffer)
            buffer.clear()
        header_size, unpack, total, at = protocol.HEADER.size, protocol.HEADER.unpack_from, len(data), 0
        while total - at >= header_size:
            length, kind = unpack(data, at)
            end = at + header_size + length
            if end > total:
                self.need = end - at
                break
            self.on_frame(kind, data[at + header_size : end])
            at = end
        else:
            self.need = header_size
        if at < total:
            buffer += memoryview(data)[at:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class ExecutorPool:
    def __init__(
        self,
        size: int,
        settings: dict[str, Any],
        on_result: Callable[[head_pb2.TaskResult], None],
        on_death: Callable[[head_pb2.ExecutorDied], None],
        logs: ExecutorLogs | None = None,
        on_exit: Callable[[int], None] | None = None,
        environ: Mapping[str, str] | None = None,
        forward_result: Callable[[bytes], None] | None = None,
    ) -> None:
        """settings: what executors are told in RAYLITE_EXECUTOR; environ: variables
        the executors get on top of the daemon's own environment (the cluster token,
        TLS files), passed here rather than set in the daemon's os.environ;
        forward_result: takes an executor's serialized TaskResult as it came (else
        on_result gets it parsed)."""
        self.state = PoolState(size)
        self.settings = settings
        self.environ = dict(environ or {})
        self.on_result = on_result
        self.forward_result = forward_result or (lambda body: on_result(head_pb2.TaskResult.FromString(body)))
        self.on_death = on_death
        self.on_exit = on_exit  # with the pid of every executor that exited
        # executors print into pipes it reads (their log files, and their drivers); None: our own stderr
        self.logs = logs
        self.processes: dict[int, _Process] = {}
        self._idle_timer: asyncio.TimerHandle | None = None  # IdleTicks while the pool is past its size
        # executors without a runtime environment are forked from here once it has started
        self.forks: ForkServer | None = ForkServer() if config.FORK_SERVER else None
        self._forks_started: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.forks is not None:  # in the background: the first executors wait for it, the daemon does not
            self._forks_started = asyncio.get_running_loop().create_task(self.forks.start(self._environment()))
        self._carry_out(self.state.handle(pool.PoolStarted()))

    def _environment(self) -> dict[str, str]:
        return {**os.environ, **self.environ}

    # ---- what the daemon calls -------------------------------------------------

    def submit(self, assignment: head_pb2.TaskAssignment) -> None:
        spec = assignment.spec
        kind = spec.kind
        event: pool.Event
        env = spec.runtime_env
        setup = runtime_env.Setup.of(spec) if env else None
        if kind == common_pb2.ACTOR_METHOD:
            event = pool.ActorCallAssigned(spec.actor_id, spec.function_id, assignment.function.blob, assignment)
        elif kind == common_pb2.ACTOR_CREATION:
            event = pool.ActorCreationAssigned(
                spec.actor_id, assignment.attempt, spec.function_id, assignment.function.blob, assignment, env, setup
            )
        else:
            event = pool.TaskAssigned(
                spec.task_id,
                assignment.attempt,
                spec.function_id,
                assignment.function.blob,
                assignment,
                env,
                setup,
                spec.max_calls,
            )
        self._carry_out(self.state.handle(event))

    def kill_actor(self, actor_id: bytes) -> None:
        self._carry_out(self.state.handle(pool.ActorKillRequested(actor_id)))

    def cancel(self, request: head_pb2.CancelTask) -> None:
        self._carry_out(self.state.handle(pool.CancelRequested(request.task_id, request.actor_id, request.force)))

    def running(self) -> list[head_pb2.TaskAssignment]:
        """Normal tasks given to this node and not finished: running or waiting for an executor."""
        return self.state.running()

    def live_actors(self) -> list[tuple[bytes, int]]:
        return self.state.live_actors()

    def call_ports(self) -> dict[bytes, str]:
        return self.state.call_ports()

    async def stop(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._carry_out(self.state.handle(pool.PoolStopping()))
        for proc in [p.proc for p in self.processes.values() if p.proc is not None]:
            try:
                await asyncio.wait_for(proc.wait(), timeout=config.EXECUTOR_EXIT_WAIT_S)
            except asyncio.TimeoutError:
                log.error("executor pid %d did not exit after SIGKILL", proc.pid)
        if self.forks is not None:
            if self._forks_started is not None and not self._forks_started.done():
                self._forks_started.cancel()
            await self.forks.stop()

    def _idle_tick(self) -> None:
        self._idle_timer = None
        self._carry_out(self.state.handle(pool.IdleTick()))  # (which starts the next, if still past size)

    # ---- instructions ------------------------------------------------------------

    def _carry_out(self, instructions: list[pool.Instruction]) -> None:
        if self._idle_timer is None and self.state.over_size():
            self._idle_timer = asyncio.get_running_loop().call_later(config.IDLE_TICK_S, self._idle_tick)
        for ins in instructions:
            if isinstance(ins, pool.Send):
                self._send(ins)
            elif isinstance(ins, pool.ForwardResult):
                self.forward_result(ins.result)
            elif isinstance(ins, pool.Spawn):
                self._spawn(ins.executor, ins.setup)
            elif isinstance(ins, pool.Retire):
                self._retire(ins.executor)
            elif isinstance(ins, pool.FailSetup):
                self.on_result(runtime_env.setup_failed_result(ins.payload, ins.message, ins.actor))
            elif isinstance(ins, pool.ReportDeath):
                self.on_death(
                    head_pb2.ExecutorDied(
                        task_id=ins.task_id,
                        actor_id=ins.actor_id,
                        reason=ins.reason,
                        attempt=ins.attempt,
                        intentional=ins.intentional,
                    )
                )
            elif isinstance(ins, pool.ReleaseReservations):
                if self.on_exit is not None:
                    self.on_exit(ins.pid)
            elif isinstance(ins, pool.Kill):
                self._kill(ins.executor)
            elif isinstance(ins, pool.BounceActorCall):
                self.on_result(_actor_gone(ins.payload))
            elif isinstance(ins, pool.Interrupt):
                self._interrupt(ins.executor, ins.task_id)
            elif isinstance(ins, pool.AnswerCancelled):
                self.on_result(_cancelled(ins.payload))
            elif isinstance(ins, pool.Warn):
                log.warning("%s", ins.message)
            else:  # pragma: no cover - a new instruction nobody carries out
                raise AssertionError(f"unknown instruction {ins!r}")

    def _send(self, ins: pool.Send) -> None:
        assignment: head_pb2.TaskAssignment = ins.payload
        if ins.function is None:
            if assignment.function.blob:
                assignment.ClearField("function")
        elif not assignment.function.blob:
            assignment.function.function_id = assignment.spec.function_id
            assignment.function.blob = ins.function
        transport = self.processes[ins.executor].transport
        assert transport is not None  # PoolState sends only after the hello, read on this connection
        if transport.is_closing():
            # the executor hung up and its exit is on its way: the pool then reports the task's
            # death (a closed transport raises on write under uvloop; it must not end the daemon)
            return
        transport.write(protocol.pack(protocol.TASK, assignment.SerializeToString()))

    def _retire(self, executor: int) -> None:
        transport = self.processes[executor].transport
        if transport is not None and not transport.is_closing():
            transport.write(protocol.pack(protocol.EXIT, b""))

    def _interrupt(self, executor: int, task_id: bytes) -> None:
        process = self.processes.get(executor)
        if process is None:
            return
        try:
            process.control.send(protocol.pack(protocol.CANCEL, task_id))
        except (BlockingIOError, OSError) as exc:  # a full buffer, or the process is gone
            log.warning("could not pass a cancel of task %s to its executor: %s", task_id.hex(), exc)

    def _kill(self, executor: int) -> None:
        process = self.processes.get(executor)
        if process is None or process.proc is None:
            return  # not started yet
        try:
            process.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _spawn(self, executor: int, setup: runtime_env.Setup | None) -> None:
        parent, child = socket.socketpair()
        control, control_child = socket.socketpair()
        control.setblocking(False)
        settings = {**self.settings, "fd": child.fileno(), "control_fd": control_child.fileno()}
        env = self._environment()
        if setup is not None:
            settings["runtime_env"] = setup.settings()
            env.update(setup.env_vars())
        env["RAYLITE_EXECUTOR"] = json.dumps(settings)
        self.processes[executor] = _Process(parent, control)
        asyncio.get_running_loop().create_task(self._run(executor, child, control_child, env, setup is None))

    # ---- events ------------------------------------------------------------------

    async def _run(
        self, executor: int, child: socket.socket, control_child: socket.socket, env: dict[str, str], forkable: bool
    ) -> None:
        process = self.processes[executor]
        out_r, out_w = os.pipe() if self.logs is not None else (-1, -1)
        err_r, err_w = os.pipe() if self.logs is not None else (-1, -1)
        try:
            forked = (
                await self._forked(env, [child.fileno(), control_child.fileno(), out_w, err_w]) if forkable else None
            )
            proc: asyncio.subprocess.Process | ForkedProcess
            if forked is not None:
                proc = forked
            else:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "raylite.worker.executor_main",
                    pass_fds=(child.fileno(), control_child.fileno()),
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out_w if out_w >= 0 else None,
                    stderr=err_w if err_w >= 0 else None,
                )
            process.proc = proc
        except BaseException:
            for fd in (out_r, err_r):
                if fd >= 0:
                    os.close(fd)
            raise
        finally:
            child.close()
            control_child.close()
            for fd in (out_w, err_w):
                if fd >= 0:
                    os.close(fd)
        if self.logs is not None:
            self.logs.attach(proc.pid, out_r, err_r)
        handle, carry_out = self.state.handle, self._carry_out
        carry_out(handle(pool.ExecutorStarted(executor, proc.pid)))
        logs = self.logs
        pid = proc.pid

        def on_frame(kind: int, body: bytes) -> None:
            if kind == protocol.DONE:
                carry_out(handle(pool.DoneReported(executor)))
            elif kind == protocol.RESULT:
                if logs is not None:  # the task's lines go to the head before its result
                    logs.drain(pid)
                carry_out(handle(pool.ResultReported(executor, body)))
            elif kind == protocol.HELLO:
                carry_out(handle(pool.ExecutorSaidHello(executor)))
            elif kind == protocol.SETUP_FAILED:
                carry_out(handle(pool.ExecutorSetupFailed(executor, body.decode(errors="replace"))))
            elif kind == protocol.CALL_PORT:
                carry_out(handle(pool.CallPortOpened(executor, body.decode(errors="replace")[:300])))
            elif kind == protocol.EXITING:
                carry_out(handle(pool.ExitAnnounced(executor, body.decode(errors="replace")[:2000])))

        frames = _Frames(on_frame, process)
        await asyncio.get_running_loop().create_unix_connection(lambda: frames, sock=process.sock)
        await frames.closed
        code = await proc.wait()
        del self.processes[executor]
        if process.transport is not None:
            process.transport.close()
        process.control.close()
        carry_out(handle(pool.ExecutorExited(executor, _describe_exit(code, proc.pid))))

    async def _forked(self, env: dict[str, str], fds: list[int]) -> ForkedProcess | None:
        """An executor from the fork server, or None when there is none (the caller execs one)."""
        if self.forks is None or self._forks_started is None:
            return None
        try:
            await asyncio.shield(self._forks_started)
            if not self.forks.alive:
                return None  # (it said why when it went)
            return await self.forks.spawn(env, fds)
        except (ForkServerGone, OSError) as exc:
            log.warning("no executor from the fork server (%s): starting one from a fresh interpreter", exc)
            return None


def _describe_exit(code: int, pid: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"pid {pid} was killed by {name}"
    return f"pid {pid} exited with code {code}"


def _cancelled(assignment: head_pb2.TaskAssignment) -> head_pb2.TaskResult:
    """The answer to a task cancelled while it waited here for an executor: it never ran."""
    spec = assignment.spec
    data = failure_bytes(Failure("TaskCancelledError", f"{spec.name} was cancelled before it started"))
    result = head_pb2.TaskResult(task_id=spec.task_id)
    for i in range(max(1, spec.num_returns)):
        result.results.add(object_id=object_id(spec.task_id, i), data=data, size=len(data), is_error=True)
    return result


def _actor_gone(assignment: head_pb2.TaskAssignment) -> head_pb2.TaskResult:
    """A bounce for a call whose actor has no process here (the head waits for the death report)."""
    data = failure_bytes(
        Failure("ActorDiedError", f"actor {assignment.spec.actor_id.hex()[:12]} has no process on this node")
    )
    result = head_pb2.TaskResult(task_id=assignment.spec.task_id, retryable=True)
    for i in range(max(1, assignment.spec.num_returns)):
        result.results.add(object_id=object_id(assignment.spec.task_id, i), data=data, size=len(data), is_error=True)
    return result
