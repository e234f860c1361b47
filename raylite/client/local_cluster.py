"""Starting daemons as child processes: the embedded cluster of `init()` and
the background daemons of `raylite start`.

Each child gets a pipe to report readiness on (one JSON line), so the parent
waits exactly as long as start-up takes. Children of the embedded cluster also
get the read end of a "lifeline" pipe whose write end only the driver holds:
when the driver exits, however it dies, the pipe closes and they shut down.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from raylite import auth, config


class DaemonStartError(RuntimeError):
    pass


@dataclass
class Daemon:
    role: str
    proc: subprocess.Popen[bytes]
    info: dict[str, Any]
    log_path: str


@dataclass
class Starting:
    """A daemon started and not yet ready: `wait()` reads its ready line."""

    role: str
    proc: subprocess.Popen[bytes]
    ready_fd: int
    log_path: str

    def wait(self) -> Daemon:
        try:
            line = _read_line(self.ready_fd, config.DAEMON_START_TIMEOUT_S, self.proc)
        finally:
            os.close(self.ready_fd)
        if not line:
            self.proc.kill()
            self.proc.wait()
            tail = _tail(self.log_path)
            raise DaemonStartError(
                f"the raylite {self.role} failed to start; the end of its log {self.log_path}:\n{tail}"
            )
        return Daemon(self.role, self.proc, json.loads(line), self.log_path)

    def abandon(self) -> None:
        """Kills a daemon that is not needed after all (another failed to start)."""
        os.close(self.ready_fd)
        self.proc.kill()
        self.proc.wait()


def start_daemon(
    role: str,
    module: str,
    args: list[str],
    log_path: str,
    lifeline_fd: int | None = None,
    detach: bool = False,
    extra_fds: tuple[int, ...] = (),
    token: str | None = None,
) -> Starting:
    """Starts `python -m module args`; the caller waits for its ready line with `wait()`."""
    ready_r, ready_w = os.pipe()
    fds = [ready_w, *extra_fds]
    argv = [sys.executable, "-m", module, *args, "--ready-fd", str(ready_w)]
    if lifeline_fd is not None:
        argv += ["--parent-fd", str(lifeline_fd)]
        fds.append(lifeline_fd)
    log = open(log_path, "ab")
    try:
        proc = subprocess.Popen(
            argv,
            # gRPC's fork support off: the worker daemon forks executors while gRPC
            # runs, and with it on the child re-creates gRPC threads between fork and
            # exec, which has crashed children (SIGSEGV in cygrpc); the children exec
            # at once and never use the parent's gRPC state. The token travels in the
            # environment, never on a command line that `ps` shows.
            env={**os.environ, "GRPC_ENABLE_FORK_SUPPORT": "false", **({auth.ENV: token} if token else {})},
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=detach,
        )
    except BaseException:
        os.close(ready_r)
        raise
    finally:
        log.close()
        os.close(ready_w)
    return Starting(role, proc, ready_r, log_path)


def _read_line(fd: int, timeout: float, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return ""
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            return ""
        chunk = os.read(fd, 4096)
        if not chunk:  # the child closed the pipe: it exited
            return ""
        buf += chunk
    return buf.split(b"\n", 1)[0].decode()


def _tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def dashboard_args(include: bool | None, host: str, port: int | None) -> list[str]:
    """The head's dashboard flags: none when left out; without a port, Ray's default or, when that
    is taken, a free one."""
    if include is False:
        return []
    if port is None:
        return [
            "--dashboard-host",
            host,
            "--dashboard-port",
            str(config.DEFAULT_DASHBOARD_PORT),
            "--dashboard-any-port",
        ]
    return ["--dashboard-host", host, "--dashboard-port", str(port)]


def metrics_args(port: int | None) -> list[str]:
    """The head's flag for a port of its own serving /metrics (Ray's metrics export port)."""
    return [] if port is None else ["--metrics-export-port", str(port)]


# The resource Ray gives the node of the head (tasks use it to run there).
HEAD_NODE_RESOURCE = "node:__internal_head__"


def node_args(
    num_cpus: float | None,
    num_gpus: float | None,
    resources: dict[str, float] | None,
    object_store_memory: int | None,
    labels: dict[str, str] | None = None,
) -> list[str]:
    args: list[str] = []
    if num_cpus is not None:
        args += ["--num-cpus", str(num_cpus)]
    if num_gpus is not None:
        args += ["--num-gpus", str(num_gpus)]
    if resources:
        args += ["--resources", json.dumps(resources)]
    if object_store_memory:
        args += ["--object-store-memory", str(object_store_memory)]
    if labels:
        args += ["--labels", json.dumps(labels)]
    return args


def new_session_dir() -> str:
    name = time.strftime("session_%Y-%m-%d_%H-%M-%S") + f"_{os.getpid()}"
    path = os.path.join(config.runtime_dir(), name)
    os.makedirs(os.path.join(path, "logs"), mode=0o700, exist_ok=True)
    return path


@dataclass
class LocalCluster:
    """A head and one worker daemon owned by this driver process."""

    session_dir: str
    head: Daemon
    worker: Daemon
    lifeline_w: int
    token: str
    daemons: list[Daemon] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.head.info['port']}"

    @property
    def dashboard_url(self) -> str:
        return str(self.head.info.get("dashboard_url") or "")

    @property
    def node_id(self) -> bytes:
        return bytes.fromhex(self.worker.info["node_id"])

    @classmethod
    def start(
        cls,
        num_cpus: float | None,
        num_gpus: float | None,
        resources: dict[str, float] | None,
        object_store_memory: int | None,
        labels: dict[str, str] | None = None,
        dashboard: tuple[bool | None, str, int | None] = (None, "127.0.0.1", None),
        metrics_export_port: int | None = None,
    ) -> LocalCluster:
        """Starts the daemons, with the session's log folder for both (what tasks print goes there, and to
        the drivers through the head). `dashboard`: init()'s include_dashboard, dashboard_host and
        dashboard_port; metrics_export_port: init()'s
        _metrics_export_port."""
        session_dir = new_session_dir()
        logs = os.path.join(session_dir, "logs")
        token = auth.new_token()  # this cluster's own: nothing else on the machine can use it
        lifeline_r, lifeline_w = os.pipe()
        # Both daemons start at once: the worker imports while the head starts, and reads
        # the head's address from a pipe once the head is ready (what start-up costs is
        # mostly each process's imports: about 0.3 s apiece).
        address_r, address_w = os.pipe()
        starting: list[Starting] = []  # started, not yet waited for
        ready: list[Daemon] = []
        try:
            starting.append(
                start_daemon(
                    "head",
                    "raylite.head.server",
                    ["--host", "127.0.0.1", "--port", "0", "--session-name", os.path.basename(session_dir)]
                    + dashboard_args(*dashboard)
                    + metrics_args(metrics_export_port),
                    os.path.join(logs, "head.log"),
                    lifeline_fd=lifeline_r,
                    token=token,
                )
            )
            starting.append(
                start_daemon(
                    "worker",
                    "raylite.worker.daemon",
                    ["--address-fd", str(address_r), "--host", "127.0.0.1"]
                    + node_args(
                        num_cpus if num_cpus is not None else os.cpu_count(),
                        num_gpus,
                        {**(resources or {}), HEAD_NODE_RESOURCE: 1.0},  # the head's node, as Ray marks it
                        object_store_memory,
                        labels,
                    )
                    + ["--log-dir", logs],
                    os.path.join(logs, "worker.log"),
                    lifeline_fd=lifeline_r,
                    extra_fds=(address_r,),
                    token=token,
                )
            )
            head = starting.pop(0).wait()
            ready.append(head)
            os.write(address_w, f"127.0.0.1:{head.info['port']}\n".encode())
            os.close(address_w)
            address_w = -1
            worker = starting.pop(0).wait()
        except BaseException:
            if address_w >= 0:
                os.close(address_w)  # a worker waiting for the address sees the pipe close and exits
            for waiting in starting:
                waiting.abandon()
            stop_daemons(ready)
            os.close(lifeline_w)
            raise
        finally:
            os.close(lifeline_r)
            os.close(address_r)
        return cls(session_dir, head, worker, lifeline_w, token, [head, worker])

    def stop(self) -> None:
        os.close(self.lifeline_w)  # the daemons see the pipe close and shut down
        stop_daemons(list(reversed(self.daemons)), signal_first=False)


def stop_daemons(daemons: list[Daemon], signal_first: bool = True, timeout: float = 10.0) -> None:
    """Stops daemons: SIGTERM (unless they are already stopping), then SIGKILL after timeout."""
    if signal_first:
        for d in daemons:
            if d.proc.poll() is None:
                d.proc.send_signal(signal.SIGTERM)
    for d in daemons:
        try:
            d.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait()
