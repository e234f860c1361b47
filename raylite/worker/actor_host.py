"""What an executor hosting an actor needs beyond running calls: concurrency groups,
retries of methods on exceptions, and the actor's own exit.

Concurrency groups (as Ray's): an actor class may declare named groups, each
with its own number of concurrent calls (`concurrency_groups={"io": 2}`); a
method joins one with `@method(concurrency_group="io")`, a call may choose
one with `.options(concurrency_group=...)`, and the rest run in the default
group, whose size is the actor's max_concurrency. A threaded actor (or one
with groups) runs each group's calls on the group's own threads; an async
actor runs every call on its event loop, each group's under its own
semaphore. A single-threaded actor without groups runs calls on the
executor's main thread, one after another, in the order they arrived.

Order (as Ray's): a single-threaded actor runs the calls of one caller in
the order that caller made them, and a call whose arguments do not exist
yet holds back only the later calls of its own caller; other callers' calls
run meanwhile (CallOrder). The calls whose arguments are missing when they
arrive get them on helper threads; the main thread, which runs the calls,
reads frames from the daemon itself and takes those helpers' news (Inbox).
Threaded and async actors promise no order, as in Ray.

Exits: exit_actor() (raylite.actor) raises ActorExitRequest in a sync method
and AsyncioActorExit in an async one, and `__ray_terminate__` asks for the
same; the executor then ends its process on purpose and tells its daemon
why first, so that the head does not restart the actor.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import select
import socket
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import cloudpickle

from raylite import exceptions, ids
from raylite.actor import ActorExitRequest
from raylite.rpc import head_pb2
from raylite.worker import protocol

DEFAULT_GROUP = ""
READY, TERMINATE = "__ray_ready__", "__ray_terminate__"


class UnknownGroup(ValueError):
    pass


def _unknown(group: str, known: dict[str, Any], class_name: str) -> UnknownGroup:
    names = sorted(g for g in known if g != DEFAULT_GROUP)
    return UnknownGroup(
        f"actor {class_name} has no concurrency group {group!r} (it has {names or 'none'} besides the default "
        "group); declare it with @remote(concurrency_groups={...}) or call without concurrency_group"
    )


class ThreadGroups:
    """The threads of a threaded actor: one pool per concurrency group."""

    def __init__(self, default_size: int, groups: dict[str, int], class_name: str) -> None:
        self.class_name = class_name
        self.pools: dict[str, ThreadPoolExecutor] = {
            DEFAULT_GROUP: ThreadPoolExecutor(max(1, default_size), thread_name_prefix="actor")
        }
        for name, size in groups.items():
            self.pools[name] = ThreadPoolExecutor(size, thread_name_prefix=f"actor-{name}")

    def submit(self, group: str, fn: Any, *args: Any) -> Future[Any]:
        pool = self.pools.get(group)
        if pool is None:
            raise _unknown(group, self.pools, self.class_name)
        return pool.submit(fn, *args)


class AsyncGroups:
    """The limits of an async actor's calls: one semaphore per concurrency group (made on its loop)."""

    def __init__(self, default_size: int, groups: dict[str, int], class_name: str) -> None:
        self.class_name = class_name
        self.limits: dict[str, asyncio.Semaphore] = {DEFAULT_GROUP: asyncio.Semaphore(max(1, default_size))}
        for name, size in groups.items():
            self.limits[name] = asyncio.Semaphore(size)

    def limit(self, group: str) -> asyncio.Semaphore:
        semaphore = self.limits.get(group)
        if semaphore is None:
            raise _unknown(group, self.limits, self.class_name)
        return semaphore


def groups_of(meta: Any) -> dict[str, int]:
    """The concurrency groups an actor's handle metadata declares ({} if none, or no metadata)."""
    return dict(getattr(meta, "concurrency_groups", None) or {})


def is_exit(exc: BaseException) -> bool:
    """Whether a call ended by asking to end its actor (exit_actor(), __ray_terminate__)."""
    return isinstance(exc, (ActorExitRequest, exceptions.AsyncioActorExit))


def retry_wanted(retry_exceptions: bytes, retries_left: int, exc: BaseException) -> bool:
    """Whether a method call that raised exc runs again: its retry_exceptions match and it has retries left
    (-1: no limit). An exit request or a runtime error of raylite's own is never retried."""
    if not retry_exceptions or retries_left == 0 or is_exit(exc) or not isinstance(exc, Exception):
        return False
    try:
        wanted = cloudpickle.loads(retry_exceptions)
    except Exception:  # noqa: BLE001 - an unloadable class list retries nothing
        return False
    return wanted is True or isinstance(exc, tuple(wanted))


def exit_reason(method: str, class_name: str) -> str:
    if method == TERMINATE:
        return f"it was terminated by {class_name}.__ray_terminate__ (an intended exit)"
    return f"it exited on purpose: exit_actor() was called in {class_name}.{method}"


class CallOrder:
    """Which calls of a single-threaded actor may run now. Pure: call ids in, call ids out.

    Each caller's calls queue in the order the caller made them: by `call_seq`
    when the caller numbers its calls (direct calls on: they may come by two
    paths, the head and the call port, in any interleaving), else in arrival
    order (one path, the head and the daemon keep it). A call is runnable when
    it is first in its caller's queue, its arguments are ready and, if
    numbered, no earlier number of its caller is still to come (`expected`).
    Runnable calls of different callers run in the order they arrived.

    Numbers are enforced only while the caller has a direct connection: from
    its hello (`skip_to`: numbers below first_unanswered were answered and
    will not come; later batches move it on, among others past a call the head
    answered without sending it here, cancelled or failed there) until the
    connection closes (`disconnected`). On the head path alone one stream
    keeps the order, and a number the head answered itself must not hold the
    rest back. `expected` moves past each call taken.
    """

    def __init__(self) -> None:
        self._queues: dict[bytes, list[tuple[int, bytes]]] = {}  # caller -> (seq, call) not yet run, in order
        self._seq: dict[bytes, int] = {}  # call -> its arrival number
        self._waiting: set[bytes] = set()  # calls whose arguments are not ready yet
        self._caller: dict[bytes, bytes] = {}
        self._expected: dict[bytes, int] = {}  # caller -> the call_seq it runs next
        self._next = 0

    def arrived(self, caller: bytes, call_id: bytes, ready: bool, call_seq: int = 0) -> None:
        queue_ = self._queues.setdefault(caller, [])
        if call_seq and caller in self._expected:
            bisect.insort(queue_, (call_seq, call_id))
        else:
            queue_.append((0, call_id))
        self._seq[call_id] = self._next
        self._next += 1
        self._caller[call_id] = caller
        if not ready:
            self._waiting.add(call_id)

    def skip_to(self, caller: bytes, first_unanswered: int) -> None:
        """The caller has answers for every number below first_unanswered: none of them is to come.
        From the first (a hello), the caller's numbered calls run in call_seq order."""
        if first_unanswered:
            self._expected[caller] = max(self._expected.get(caller, 0), first_unanswered)

    def disconnected(self, caller: bytes) -> None:
        """The caller's direct connection closed: its calls come by the head alone now, in order;
        none is held for a number any more (one the head answered itself would never come)."""
        self._expected.pop(caller, None)

    def resolved(self, call_id: bytes) -> None:
        """The call's arguments are ready now (or failed: the call runs to report that)."""
        self._waiting.discard(call_id)

    def _head(self, caller: bytes, queue_: list[tuple[int, bytes]]) -> bytes | None:
        seq, call_id = queue_[0]
        if call_id in self._waiting or (seq and seq > self._expected.get(caller, seq)):
            return None
        return call_id

    def take_runnable(self) -> list[bytes]:
        """The calls to run now, in order; each is taken (it will not be returned again)."""
        out: list[bytes] = []
        while True:
            heads = [h for c, q in self._queues.items() if q and (h := self._head(c, q)) is not None]
            if not heads:
                return out
            call_id = min(heads, key=self._seq.__getitem__)
            caller = self._caller.pop(call_id)
            queue_ = self._queues[caller]
            seq, _ = queue_.pop(0)
            if seq:
                self._expected[caller] = max(self._expected.get(caller, 0), seq + 1)
            if not queue_:
                del self._queues[caller]
            del self._seq[call_id]
            out.append(call_id)

    def held(self) -> int:
        """Calls waiting (for arguments or for an earlier number)."""
        return len(self._seq)

    def __len__(self) -> int:
        return len(self._seq)


EOF_FRAME = None  # the daemon closed the channel


class Inbox:
    """The main thread's one source of work: frames from the daemon, news from helper threads,
    and what callers send to the actor's call port (raylite/worker/call_port.py).

    The main thread reads the daemon's socket itself: while no helper is out and
    no call port is open, nothing else can have news, so it blocks in recv() with
    no thread between it and the socket (a reader thread and a queue cost two
    thread switches per call). Otherwise it waits in one select() on the socket,
    the call port's sockets and a wake-up socketpair the helpers write a byte to
    after appending their news.
    """

    def __init__(self, sock: socket.socket, recv: Callable[[], Any]) -> None:
        self._sock = sock
        self._recv = recv
        self._news: deque[Any] = deque()  # appended by helpers, taken by the main thread
        self._out = 0  # helpers whose news has not been taken yet (main thread only)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self.port: Any = None  # the actor's CallPort, once open
        self._direct: deque[Any] = deque()  # what the call port read and the main thread did not take yet
        self._port_socks: list[socket.socket] | None = None  # the port's sockets select() watches
        self._watched: list[socket.socket] = []  # this socket, the wake-up one and those

    def helper_started(self) -> None:
        self._out += 1

    def put(self, news: Any) -> None:
        """From a helper thread: its news, then a wake-up in case the main thread waits."""
        self._news.append(news)
        self._wake_w.send(b"\0")

    def get(self) -> tuple[str, Any]:
        while True:
            if self._news:
                self._out -= 1
                return "news", self._news.popleft()
            if self._direct:
                return "direct", self._direct.popleft()
            port = self.port
            if self._out == 0 and port is None:
                return "frame", self._recv()
            buffered: list[socket.socket] = []
            if port is None:
                watched = [self._sock, self._wake_r]
            else:
                # the port's list is the same object until a connection opens or closes
                port_socks = port.sockets()
                if port_socks is not self._port_socks:
                    self._port_socks = port_socks
                    self._watched = [self._sock, self._wake_r, *port_socks]
                watched = self._watched
                if port.ssl is not None:
                    buffered = port.buffered()
            readable, _, _ = select.select(watched, [], [], 0 if buffered else None)
            if self._wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
            if port is not None:
                ready = [s for s in readable if s is not self._sock and s is not self._wake_r]
                ready += [s for s in buffered if s not in ready]
                if ready:
                    self._direct.extend(port.readable(ready))
            if self._sock in readable:
                return "frame", self._recv()


class InOrder:
    """A single-threaded actor's calls, each run on the main thread when CallOrder says so;
    helper threads get the arguments that did not exist yet when a call arrived."""

    def __init__(
        self,
        sock: socket.socket,
        recv: Callable[[], Any],
        get_arguments: Callable[[head_pb2.TaskAssignment], Any],
    ) -> None:
        self.order = CallOrder()
        self.inbox = Inbox(sock, recv)
        self._get_arguments = get_arguments
        self._held: dict[bytes, head_pb2.TaskAssignment] = {}
        self._got: dict[bytes, Any] = {}  # call -> (args, kwargs), or the error getting them
        self._helpers: ThreadPoolExecutor | None = None

    def serve(
        self,
        take: Callable[[Any], None],
        run: Callable[[head_pb2.TaskAssignment], None],
        take_direct: Callable[[Any], None],
    ) -> None:
        """The main loop: `take` a frame from the daemon or `take_direct` what a caller sent
        (either may call arrived()), `run` a call."""
        while True:
            kind, item = self.inbox.get()
            if kind == "frame":
                if item is EOF_FRAME or item[0] == protocol.EXIT:
                    return
                take(item)
            elif kind == "direct":
                take_direct(item)
            else:
                self.order.resolved(item)
            for call_id in self.order.take_runnable():
                run(self._held.pop(call_id))

    def arrived(self, assignment: head_pb2.TaskAssignment) -> None:
        spec = assignment.spec
        ready = True
        if spec.dependencies:  # (a direct call has none)
            known = {v.object_id for v in assignment.args}
            ready = all(d in known for d in spec.dependencies)
        self._held[spec.task_id] = assignment
        self.order.arrived(spec.task_id[: ids.CLIENT_ID_BYTES], spec.task_id, ready, spec.call_seq)
        if not ready:
            if self._helpers is None:
                self._helpers = ThreadPoolExecutor(16, thread_name_prefix="actor-args")
            self.inbox.helper_started()
            self._helpers.submit(self._get, assignment)

    def _get(self, assignment: head_pb2.TaskAssignment) -> None:
        call_id = assignment.spec.task_id
        try:
            self._got[call_id] = self._get_arguments(assignment)
        except BaseException as exc:  # noqa: BLE001 - the call raises it when it runs
            self._got[call_id] = exc
        self.inbox.put(call_id)

    def arguments_got(self, call_id: bytes) -> Any:
        """The (args, kwargs) a helper got for the call (or the error it met); None if none did."""
        return self._got.pop(call_id, None)
