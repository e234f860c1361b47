"""An executor's book of cancels (raylite/worker/cancels.py), and where an interrupt may land."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from raylite.client.core import Client
from raylite.client.waiters import wait_event
from raylite.runtime_context import TaskFacts
from raylite.worker import cancels as cancels_module
from raylite.worker.cancels import ASYNCIO, FLAG, INTERRUPT, CancelBook
from raylite.worker.executor_cancel import _in_runtime_code, _where_stopped
from raylite.worker.executor_main import Executor


def facts(task_id: bytes) -> TaskFacts:
    return TaskFacts(b"job", task_id, "f")


def test_a_cancel_before_the_task_begins_keeps_it_from_running() -> None:
    book = CancelBook()
    assert book.request(b"t1") is None  # its frame has not been read yet
    assert book.begin(b"t1", INTERRUPT, facts(b"t1")) is False
    assert not book.cancelled(b"t1")  # answered: forgotten
    assert book.begin(b"t2", FLAG, facts(b"t2")) is True


def test_a_running_task_is_found_marked_and_interrupted_once() -> None:
    book = CancelBook()
    f = facts(b"t1")
    assert book.begin(b"t1", INTERRUPT, f)
    assert not book.interrupt_due(b"t1") and not book.take_interrupt()  # nothing asked yet
    running = book.request(b"t1")
    assert running is not None and running.how == INTERRUPT and f.cancelled
    assert book.interrupt_due(b"t1")
    assert book.take_interrupt() is True
    assert book.take_interrupt() is False and not book.interrupt_due(b"t1")  # once
    assert book.end(b"t1") is True and not book.cancelled(b"t1")


def test_no_interrupt_lands_after_the_user_s_code_is_over() -> None:
    book = CancelBook()
    book.begin(b"t1", INTERRUPT, facts(b"t1"))
    book.disarm(b"t1")
    book.request(b"t1")
    assert not book.interrupt_due(b"t1") and not book.take_interrupt()
    assert book.end(b"t1") is True  # still it was cancelled (its result says what it did)


def test_a_cancel_after_the_task_ended_is_dropped_in_time() -> None:
    book = CancelBook()
    book.begin(b"t1", INTERRUPT, facts(b"t1"))
    assert book.end(b"t1") is False
    assert book.request(b"t1") is None
    for i in range(cancels_module.KEEP):
        book.request(i.to_bytes(16, "big"))
    assert not book.cancelled(b"t1")


def test_calls_are_flagged_or_cancelled_as_asyncio_tasks_not_interrupted() -> None:
    book = CancelBook()
    sync, coro = facts(b"c1"), facts(b"c2")
    book.begin(b"c1", FLAG, sync)
    book.begin(b"c2", ASYNCIO, coro, ("loop", "task"))
    assert book.request(b"c1").how == FLAG and sync.cancelled  # type: ignore[union-attr]
    running = book.request(b"c2")
    assert running is not None and running.target == ("loop", "task") and coro.cancelled
    assert not book.take_interrupt()  # only the main thread's normal task is interrupted


def test_the_book_is_safe_across_threads() -> None:
    book = CancelBook()
    ids = [i.to_bytes(16, "big") for i in range(2000)]

    def cancel_all() -> None:
        for task_id in ids:
            book.request(task_id)

    thread = threading.Thread(target=cancel_all)
    thread.start()
    for task_id in ids:
        if book.begin(task_id, FLAG, facts(task_id)):
            book.end(task_id)
    thread.join()
    assert not book._running and not book.armed


def frames(*codes: object) -> SimpleNamespace:
    """A stack as the signal handler sees it, innermost first (only f_code and f_back are read)."""
    frame = None
    for code in reversed(codes):
        frame = SimpleNamespace(f_code=code, f_back=frame)
    assert frame is not None
    return frame


def user_function() -> None:
    pass


def test_an_interrupt_lands_in_user_code_and_in_waits_not_in_raylite_internals() -> None:
    user = user_function.__code__
    wait = threading.Event.wait.__code__
    execute, waiting = Executor._execute.__code__, wait_event.__code__
    wait_for = Client.wait_for.__code__
    assert _in_runtime_code(frames(user, execute)) is False  # the task's own code
    assert _in_runtime_code(frames(wait, waiting, wait_for, user, execute)) is False  # a get waiting
    assert _in_runtime_code(frames(wait_for, user, execute)) is True  # a get setting up its wait
    assert _in_runtime_code(frames(Client.add_ref.__code__, user, execute)) is True  # inside the client
    assert _in_runtime_code(frames(user, Client.submit.__code__, user, execute)) is True  # called back from it
    assert _in_runtime_code(frames(user)) is True  # no task runs here at all


def test_the_traceback_of_a_cancelled_task_ends_in_the_user_s_frame() -> None:
    from raylite.worker import task_errors

    def user_waits() -> None:
        task_errors.user_traceback(KeyboardInterrupt())  # raylite code called by the user ...
        raise KeyboardInterrupt  # (stands for the interrupt raised inside that call)

    try:
        user_waits()
    except KeyboardInterrupt as exc:
        tb = _where_stopped(exc.__traceback__)
    names = []
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert names[-1] == "user_waits"
