"""An executor's side of cancellation: the control thread that carries out the daemon's
cancels, the SIGINT handler that lands an interrupt in a cancelled task, and what a
cancelled task reports (raylite/worker/cancels.py has the bookkeeping, CancelBook).

CancelHandling is a part of raylite.worker.executor_main.Executor, kept in its own
module; the names it uses of the rest of the executor are declared for the type checker.
"""

from __future__ import annotations

import asyncio
import signal
import time
from types import CodeType
from typing import TYPE_CHECKING, Any

from raylite import exceptions
from raylite.rpc import common_pb2
from raylite.worker import protocol, task_errors
from raylite.worker.cancels import ASYNCIO, INTERRUPT, CancelBook

# How often the signal that interrupts a cancelled task is sent again while it lands
# in raylite's own code (see raylite/worker/cancels.py).
INTERRUPT_RETRY_S = 0.05

_CALL_NOT_INTERRUPTED = "while it ran (an actor's sync method is not interrupted: its result is dropped)"

# The code objects an interrupt may land in (executor_main.py adds the executor's call of
# the user's code and the client's wait for objects); anywhere else in raylite it is deferred.
INTERRUPTIBLE: set[CodeType] = set()


class CancelHandling:
    if TYPE_CHECKING:  # the rest of the executor (executor_main.py)
        control: protocol.BlockingChannel | None
        cancels: CancelBook
        main_thread: int
        retryable: bool
        async_loop: asyncio.AbstractEventLoop | None
        pid: int
        ip: str
        actor: Any
        facts: Any
        last_error: str

        def _task_error(self, spec: common_pb2.TaskSpec, exc: BaseException) -> BaseException: ...

    def _watch_cancels(self) -> None:
        """The control thread: carries out the daemon's cancels as they come."""
        assert self.control is not None
        while True:
            frame = self.control.recv()
            if frame is None:
                return
            kind, task_id = frame
            if kind != protocol.CANCEL:
                continue
            running = self.cancels.request(task_id)
            if running is None:
                continue  # not started yet (it will not run), finished, or a sync call (flagged)
            if running.how == INTERRUPT:
                # sent again while it lands in raylite's own code, until it lands or the task ends
                while self.cancels.interrupt_due(task_id):
                    signal.pthread_kill(self.main_thread, signal.SIGINT)
                    time.sleep(INTERRUPT_RETRY_S)
            elif running.how == ASYNCIO:
                loop, task = running.target
                loop.call_soon_threadsafe(task.cancel)

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        """SIGINT in the main thread: KeyboardInterrupt in the cancelled task it runs, if one does."""
        cancels = self.cancels
        if not cancels.interrupt_due(cancels.main_task) or _in_runtime_code(frame):
            return  # no cancelled task here (a stray signal), or not now: the control thread sends again
        if cancels.take_interrupt():
            raise KeyboardInterrupt

    def _cancelled(self, spec: common_pb2.TaskSpec, how: str) -> exceptions.TaskCancelledError:
        return exceptions.TaskCancelledError(spec.task_id.hex(), f"{spec.name} was cancelled {how}")

    def _cancelled_error(self, spec: common_pb2.TaskSpec, exc: BaseException) -> BaseException:
        """What a cancelled task that stopped with exc reports.

        A normal task or an async call that the cancel stopped (KeyboardInterrupt,
        CancelledError) reports Ray's RayTaskError(TaskCancelledError), with the
        traceback of where it stopped; a sync actor call, which runs on, a plain
        TaskCancelledError whatever it did.
        """
        self.retryable = False
        if spec.kind == common_pb2.ACTOR_METHOD and self.async_loop is None:
            return self._cancelled(spec, _CALL_NOT_INTERRUPTED)
        if not isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)):
            return self._task_error(spec, exc)  # it raised something of its own on the way out
        cause = exceptions.TaskCancelledError(spec.task_id.hex()).with_traceback(_where_stopped(exc.__traceback__))
        in_actor = spec.kind != common_pb2.NORMAL
        err = task_errors.task_error(
            spec.name,
            cause,
            self.pid,
            self.ip,
            actor=self.actor if in_actor else None,
            actor_cls=self.facts.actor_class if in_actor else None,
            actor_id=spec.actor_id.hex() if in_actor else None,
        )
        self.last_error = f"TaskCancelledError: {spec.name} was cancelled"
        return err


def _where_stopped(tb: Any) -> Any:
    """A cancelled task's traceback down to the user's frame it stopped in: not on into the
    raylite call it was making (a get) and what that call was waiting in."""
    entries = []
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    user = [i for i, t in enumerate(entries) if not task_errors.is_runtime_frame(t.tb_frame.f_code.co_filename)]
    if not user:
        return entries[0] if entries else None
    first_user = user[0]
    end = first_user
    while end + 1 < len(entries) and not task_errors.is_runtime_frame(entries[end + 1].tb_frame.f_code.co_filename):
        end += 1
    # rebuild the chain: a traceback's tb_next can be set (Python 3.7+)
    entries[end].tb_next = None
    return entries[0]


def _in_runtime_code(frame: Any) -> bool:
    """Whether the innermost raylite frame of the stack is one an exception must not cut short."""
    while frame is not None:
        code = frame.f_code
        if task_errors.is_runtime_frame(code.co_filename):
            return code not in INTERRUPTIBLE
        frame = frame.f_back
    return True
