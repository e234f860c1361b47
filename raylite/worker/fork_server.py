"""Executors forked from a process that has already imported them, instead of a fresh interpreter each.

Starting an executor with `python -m raylite.worker.executor_main` costs 0.4-0.5 s of CPU,
almost all of it imports (gRPC, protobuf, asyncio, cloudpickle, raylite's own modules).
On a 2-core machine that is what a burst of new executors, the first tasks after
`init()` and a test suite full of clusters wait for. The fork server is one process per
worker daemon that pays the imports once and then forks a ready executor for each
request, in a few milliseconds.

    daemon ── request: environment + 4 descriptors (SCM_RIGHTS) ──> fork server ── fork() ──> executor
           <── "P <pid>" once forked, "X <pid> <exit code>" once reaped ──

The conversation is one SOCK_SEQPACKET socketpair, so each message arrives whole with its
descriptors: the executor's task socket, its control socket and the write ends of its
stdout and stderr pipes. The server forks requests in order and answers each with the
child's pid; it reaps its children and reports each exit code, as the daemon's
`proc.wait()` would have seen it (negative: killed by that signal).

Only executors without a runtime environment come from here: an environment may change
what the imports would have found (PYTHONPATH, working_dir, a pip virtualenv's
interpreter), so those still start from a fresh interpreter.

Safety of forking: the server imports the executor's modules and does nothing else, so
when it forks it has one thread, no event loop and no gRPC channel (gRPC initializes its
core on the first channel, not on import). The child makes its own. It dies with the
server (PR_SET_PDEATHSIG, set again by executor_main against its new parent), and the
server dies with the daemon, so nothing outlives a daemon killed with SIGKILL.
"""

from __future__ import annotations

import array
import asyncio
import ctypes
import gc
import json
import logging
import os
import select
import signal
import socket
import sys
import threading
import traceback
from collections import deque

log = logging.getLogger("raylite.worker")

MAX_REQUEST = 1 << 20  # an environment of a megabyte is already absurd
FDS_PER_REQUEST = 4  # task socket, control socket, stdout, stderr


# ---- the daemon's side -------------------------------------------------------------------------


class ForkedProcess:
    """What the pool needs of an executor's process, for one the fork server made: its pid,
    signals, and its exit code (which only its parent, the server, can read; it reports it)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def exited(self, code: int) -> None:
        if self.returncode is None:
            self.returncode = code
            self._exited.set_result(code)


class ForkServerGone(Exception):
    pass


class ForkRefused(ForkServerGone):
    """One request the server could not take; it still serves others."""


class ForkServer:
    """The daemon's handle on its fork server: start it, ask it for executors."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.ready: asyncio.Future[None] | None = None
        self.asked: deque[asyncio.Future[ForkedProcess]] = deque()  # requests in order, answered in order
        self.sending = asyncio.Lock()
        self._room: asyncio.Future[None] | None = None  # a writer waiting for room in the socket
        self.children: dict[int, ForkedProcess] = {}

    @property
    def alive(self) -> bool:
        return self.sock is not None

    async def start(self, env: dict[str, str]) -> None:
        """Starts the server process; returns once its imports are done (its first message)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "raylite.worker.fork_server",
                str(theirs.fileno()),
                str(os.getpid()),
                pass_fds=(theirs.fileno(),),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self.sock = ours
        loop.add_reader(ours.fileno(), self._readable)
        await asyncio.shield(self.ready)

    async def spawn(self, env: dict[str, str], fds: list[int]) -> ForkedProcess:
        """Forks an executor with this environment and these descriptors (task socket, control
        socket, stdout, stderr; -1 for an output that should stay the server's own).

        Raises ForkServerGone when the server is gone (it was told why), and ForkRefused when
        it cannot take this one request (the caller starts that executor another way)."""
        body = json.dumps(env).encode()
        sent = [fd for fd in fds if fd >= 0]
        header = json.dumps([i for i, fd in enumerate(fds) if fd >= 0]).encode()
        answer: asyncio.Future[ForkedProcess] = asyncio.get_running_loop().create_future()
        async with self.sending:  # answers come in the order requests were written: one writer at a time
            while True:
                if self.sock is None:
                    raise ForkServerGone("the fork server is not running")
                try:
                    self.sock.sendmsg(
                        [header, b"\n", body], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", sent))]
                    )
                    break
                except BlockingIOError:  # a burst of requests filled its socket: wait for room
                    await self._writable()
                except (BrokenPipeError, ConnectionResetError) as exc:
                    self._gone(f"cannot write to it: {exc}")
                    raise ForkServerGone(str(exc)) from None
                except OSError as exc:  # this request only (an environment too large for one message, say)
                    raise ForkRefused(f"{type(exc).__name__}: {exc}") from None
            self.asked.append(answer)
        return await answer

    async def _writable(self) -> None:
        """Returns once the socket has room, or once the server is gone (the caller checks)."""
        assert self.sock is not None
        loop, fd = asyncio.get_running_loop(), self.sock.fileno()
        self._room = room = loop.create_future()
        loop.add_writer(fd, _resolve, room)
        try:
            await room
        finally:
            self._room = None
            if self.sock is not None:
                loop.remove_writer(fd)

    def _readable(self) -> None:
        assert self.sock is not None
        while True:
            try:
                message = self.sock.recv(256)
            except BlockingIOError:
                return
            except OSError as exc:
                self._gone(str(exc))
                return
            if not message:
                self._gone("it exited")
                return
            kind, _, rest = message.decode().partition(" ")
            if kind == "R" and self.ready is not None and not self.ready.done():
                self.ready.set_result(None)
            elif kind == "P" and self.asked:
                forked = ForkedProcess(int(rest))
                self.children[forked.pid] = forked
                self.asked.popleft().set_result(forked)
            elif kind == "F" and self.asked:
                self.asked.popleft().set_exception(ForkRefused(f"fork failed: {rest}"))
            elif kind == "X":
                pid, code = (int(x) for x in rest.split())
                exited = self.children.pop(pid, None)
                if exited is not None:
                    exited.exited(code)

    def _gone(self, why: str, stopping: bool = False) -> None:
        """The server died (or its socket broke, or the daemon stops): no more forks from it;
        its children die with it (their death signal), and their exits are reported as killed."""
        if self.sock is None:
            return
        if not stopping:
            log.warning("executor fork server gone (%s); executors start from a fresh interpreter now", why)
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.sock.fileno())
        loop.remove_writer(self.sock.fileno())
        self.sock.close()
        self.sock = None
        if self._room is not None:
            _resolve(self._room)  # the waiting writer sees the server gone
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(ForkServerGone(why))
        while self.asked:
            self.asked.popleft().set_exception(ForkServerGone(why))
        children, self.children = self.children, {}
        for child in children.values():
            try:
                os.kill(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.exited(-signal.SIGKILL)

    async def stop(self) -> None:
        self._gone("the daemon stops", stopping=True)  # the server reads EOF and exits
        if self.proc is not None:
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=5.0)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# ---- the server's side -------------------------------------------------------------------------


def serve(sock: socket.socket, daemon_pid: int) -> None:
    """Forks executors on request until the daemon closes the socket."""
    from raylite.worker import executor_main  # the imports every executor would pay

    executor_main.die_with_parent(daemon_pid)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    gc.freeze()  # what is imported now stays shared with the children: no collector writes to it
    assert threading.active_count() == 1, "the fork server must fork with one thread"
    sock.send(b"R")
    while True:
        readable, _, _ = select.select([sock.fileno(), wake_r], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
        _reap(sock)
        if sock.fileno() not in readable:
            continue
        try:
            message, ancillary, _flags, _address = sock.recvmsg(MAX_REQUEST, socket.CMSG_SPACE(FDS_PER_REQUEST * 4))
        except ConnectionResetError:
            message = b""
        if not message:
            return  # the daemon is gone: our children die with us
        fds: list[int] = []
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                received = array.array("i")
                received.frombytes(data[: len(data) - len(data) % received.itemsize])
                fds.extend(received)
        try:
            header, _, body = message.partition(b"\n")
            slots = json.loads(header)
            env = json.loads(body)
            given = dict(zip(slots, fds, strict=True))
            pid = os.fork()
        except Exception as exc:  # noqa: BLE001 - a bad request or a failed fork fails that spawn only
            for fd in fds:
                os.close(fd)
            sock.send(f"F {type(exc).__name__}: {exc}".encode()[:250])
            continue
        if pid == 0:
            _become_executor(sock, (wake_r, wake_w), env, given)
        for fd in fds:
            os.close(fd)
        sock.send(f"P {pid}".encode())


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(f"X {pid} {os.waitstatus_to_exitcode(status)}".encode())


def _become_executor(sock: socket.socket, wake: tuple[int, int], env: dict[str, str], given: dict[int, int]) -> None:
    """In the forked child: the descriptors and environment an exec'd executor would have had,
    then the executor's main. Never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _retitle([sys.executable, "-m", "raylite.worker.executor_main"])
        sock.close()
        for fd in wake:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        for slot, target in ((2, 1), (3, 2)):  # stdout, stderr
            if slot in given:
                received = given.pop(slot)
                os.dup2(received, target)
                os.close(received)
        cfg = json.loads(env["RAYLITE_EXECUTOR"])
        cfg["fd"] = given[0]
        if 1 in given:
            cfg["control_fd"] = given[1]
        else:
            cfg.pop("control_fd", None)
        cfg["parent_pid"] = os.getppid()  # this server: it dies with the daemon, and we with it
        env["RAYLITE_EXECUTOR"] = json.dumps(cfg)
        os.environ.clear()
        os.environ.update(env)
        from raylite.worker import executor_main

        sys.argv = [executor_main.__file__]  # as `python -m raylite.worker.executor_main` has it
        executor_main.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must never return into the server's loop
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _retitle(argv: list[str]) -> None:
    """Shows `argv` as this process's command line (ps, psutil, /proc/PID/cmdline): a forked
    executor then looks like one started from a fresh interpreter to whoever looks for
    executors by their command line. It writes over the memory the kernel reads the command
    line from (the original argument strings, no longer used by Python once it has started),
    so it fits in the server's own command line or is cut short; on failure nothing changes."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # proc(5): (48) arg_start, (49) arg_end
    except (OSError, IndexError, ValueError):
        return
    room = end - start
    title = b"\0".join(arg.encode() for arg in argv)[: room - 1]
    ctypes.memmove(start, title.ljust(room, b"\0"), room)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    fd = int(args[0])
    # Whatever else we inherited, our children would inherit too, and hold open for their
    # lives (our daemon's pipes to its parent, descriptors of the daemon's loop): nothing
    # here owns them, so they go before any import can open a descriptor of its own.
    os.closerange(3, fd)
    os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX"))
    sock = socket.socket(fileno=fd)
    serve(sock, int(args[1]))


if __name__ == "__main__":
    main()
