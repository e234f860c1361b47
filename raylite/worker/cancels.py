"""An executor's cancelled tasks: which were cancelled, and how to stop the ones running.

Theory of operation
-------------------
The worker daemon passes a cancel on to the executor that holds the task
(raylite/worker/state/pool.py decides which) on a control socket of its
own, which a thread of the executor reads while the main thread runs user
code. A cancel may come before the task's own frame is read (the two
sockets keep no order between them), while it runs, or after it finished.
`CancelBook` keeps the ids cancelled (`request`) and the tasks running
(`begin` ... `end`), under one lock, and answers with what to do:

- a task that begins after its cancel came never runs: `begin` says so,
  and the executor answers TaskCancelledError at once;
- a normal task, run by the main thread, is interrupted: KeyboardInterrupt
  is raised in that thread (Ray raises it too), by a signal sent to the main
  thread whose handler raises it there (`Executor` in executor_main.py). A
  signal, rather than an exception set asynchronously, so that a task
  blocked in a system call (a sleep, a lock, a get) is woken. The handler
  raises only while the task is `armed` and only once; it defers when the
  main thread is inside raylite's own code other than a wait (an exception
  there could leave the client's state half changed), and the signal is
  sent again until the interrupt lands or the task ends;
- an async actor's call is cancelled as the asyncio task it runs in;
- a sync (or threaded) actor's call is not interrupted, since the actor's
  state would be left half changed (as Ray does): it sees
  `get_runtime_context().is_canceled()` and its callers get
  TaskCancelledError once it returns.

Cancelled ids are kept until their task ends or, for a cancel that came
after its task ended, until `KEEP` newer ones push them out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

# how a running task is stopped
INTERRUPT = "interrupt"  # a normal task in the main thread: KeyboardInterrupt
ASYNCIO = "asyncio"  # an async actor's call: its asyncio task is cancelled
FLAG = "flag"  # a sync actor's call: only is_canceled() and its result change

KEEP = 4096  # cancels of tasks not (or no longer) here that are remembered


@dataclass(slots=True)
class Running:
    how: str
    facts: Any  # the task's runtime_context.TaskFacts: `cancelled` is set on it
    target: Any = None  # ASYNCIO: (loop, asyncio task)


class CancelBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requested: OrderedDict[bytes, None] = OrderedDict()
        self._running: dict[bytes, Running] = {}
        # the normal task the main thread runs, and whether an interrupt may land in it now
        self.main_task = b""
        self.armed = False
        self.raised = False

    def request(self, task_id: bytes) -> Running | None:
        """A cancel arrived: the running task to stop (its facts already marked), or None."""
        with self._lock:
            self._requested[task_id] = None
            self._requested.move_to_end(task_id)
            while len(self._requested) > KEEP:
                self._requested.popitem(last=False)
            running = self._running.get(task_id)
            if running is not None:
                running.facts.cancelled = True
            return running

    def begin(self, task_id: bytes, how: str, facts: Any, target: Any = None) -> bool:
        """A task starts; False if it was cancelled before (it must not run)."""
        with self._lock:
            if task_id in self._requested:
                del self._requested[task_id]
                return False
            self._running[task_id] = Running(how, facts, target)
            if how == INTERRUPT:
                self.main_task, self.armed, self.raised = task_id, True, False
            return True

    def disarm(self, task_id: bytes) -> None:
        """The user's code of the main thread's task is over: no interrupt lands any more."""
        if self.main_task == task_id:
            self.armed = False

    def end(self, task_id: bytes) -> bool:
        """The task ended; whether it was cancelled meanwhile."""
        with self._lock:
            self._running.pop(task_id, None)
            if self.main_task == task_id:
                self.main_task, self.armed = b"", False
            if task_id in self._requested:
                del self._requested[task_id]
                return True
            return False

    # ---- the main thread's interrupt (read without the lock: the signal handler runs
    # in the main thread, which may hold it; each read is one attribute or dict lookup)

    def interrupt_due(self, task_id: bytes) -> bool:
        """The main thread still runs task_id, cancelled and not interrupted yet."""
        return self.armed and not self.raised and self.main_task == task_id and task_id in self._requested

    def take_interrupt(self) -> bool:
        """In the signal handler: True (once) if the main thread's task is to be interrupted now."""
        task_id = self.main_task
        if self.armed and not self.raised and task_id and task_id in self._requested:
            self.raised = True
            return True
        return False

    def cancelled(self, task_id: bytes) -> bool:
        return task_id in self._requested
