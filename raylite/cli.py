"""The `raylite` command: start, stop and inspect daemons on this machine.

raylite start --head [--port 6380] [--num-cpus N] [--resources JSON] [--block] [--tls-cert F --tls-key F --tls-ca F]
raylite start --address HOST:PORT [--num-cpus N] [--resources JSON] [--block] [--tls-cert F --tls-key F --tls-ca F]
raylite stop
raylite status | list | summary | timeline   (raylite/cli_state.py)
raylite logs                                  (raylite/cli_logs.py)
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import sys
import time

from raylite import auth, cli_logs, cli_state, config, hostinfo, labels, session, tls
from raylite.client.local_cluster import (
    HEAD_NODE_RESOURCE,
    Daemon,
    DaemonStartError,
    dashboard_args,
    metrics_args,
    new_session_dir,
    node_args,
    start_daemon,
    stop_daemons,
)
from raylite.head.storage import FILE_NAME as HEAD_STATE_FILE


def _add_node_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--num-cpus", type=float, default=None, help="CPU slots (default: the core count)")
    p.add_argument("--num-gpus", type=float, default=None)
    p.add_argument("--resources", default=None, help="custom resources as JSON, e.g. '{\"special\": 1}'")
    p.add_argument("--object-store-memory", type=int, default=None, help="bytes of shared memory for objects")
    p.add_argument("--labels", default=None, help='node labels, e.g. "region=us,tier=gold" (tasks select by them)')
    p.add_argument("--labels-file", default=None, help="node labels from a YAML file of `key: value` lines")
    p.add_argument("--node-ip-address", default=None, help="the address other machines reach this one at")
    p.add_argument("--block", action="store_true", help="stay in the foreground until interrupted")
    p.add_argument(
        "--token",
        default=None,
        help="the cluster token (default: $RAYLITE_TOKEN, else this machine's token file; "
        "--head makes a new one). Prefer the environment: a command line shows in `ps`",
    )
    tls.add_flags(p)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="raylite", description="raylite cluster management")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a head (--head) or join a cluster (--address)")
    role = start.add_mutually_exclusive_group(required=True)
    role.add_argument("--head", action="store_true", help="start the head and this machine's worker daemon")
    role.add_argument("--address", help="join the cluster whose head is at HOST:PORT")
    start.add_argument("--port", type=int, default=config.DEFAULT_HEAD_PORT, help="head port (with --head)")
    start.add_argument(
        "--storage",
        default=None,
        help="with --head: where the head keeps the state a restarted head recovers "
        "(default: <runtime dir>/head-<port>; a head restarted after a crash with the same port and "
        "storage takes over the running cluster)",
    )
    start.add_argument(
        "--host", default="0.0.0.0", help="where daemons listen (default: every interface, so other machines can join)"
    )
    start.add_argument(
        "--dashboard-port",
        type=int,
        default=None,
        help=f"with --head: the dashboard's port (default {config.DEFAULT_DASHBOARD_PORT}, or a free one "
        "when that is taken)",
    )
    start.add_argument(
        "--dashboard-host",
        default="127.0.0.1",
        help="with --head: where the dashboard listens (default loopback only; 0.0.0.0 for every "
        "interface, where it asks for the cluster token)",
    )
    start.add_argument(
        "--metrics-export-port",
        type=int,
        default=None,
        help="with --head: also serve /metrics (Prometheus) on this port, where the dashboard listens "
        "(it is always on the dashboard's port)",
    )
    start.add_argument(
        "--include-dashboard", type=_yes_no, default=True, metavar="true|false", help="with --head: run the dashboard"
    )
    _add_node_options(start)
    sub.add_parser("stop", help="stop every raylite daemon started on this machine")
    cli_state.add_parsers(sub)
    cli_logs.add_parser(sub)
    opts = parser.parse_args(argv)
    if opts.command == "start":
        return _start(opts)
    if opts.command == "stop":
        return _stop()
    if opts.command == "logs":
        return cli_logs.run(opts)
    return cli_state.run(opts)


def _yes_no(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _head_already_there(host: str, port: int) -> str | None:
    """Why a head cannot start on host:port, in words (None: it can)."""
    for _path, facts in session.recorded_daemons():
        if facts.get("role") != "head" or not session.pid_alive(int(facts["pid"])):
            continue
        if str(facts.get("connect_address", "")).rsplit(":", 1)[-1] == str(port):
            return (
                f"a raylite head already runs on port {port} (pid {facts['pid']}, at {facts['connect_address']}).\n"
                f"  `raylite status` shows it; `raylite stop` stops it; `--port` starts another head on another port"
            )
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            return (
                f"port {port} on {host} is taken ({exc.strerror}): another program (or a raylite head started "
                f"by another user) listens there; pass --port to use another"
            )
    return None


def _node_labels(opts: argparse.Namespace) -> dict[str, str]:
    """--labels-file, then --labels over it (as Ray: the flag wins a key both give)."""
    node_labels: dict[str, str] = {}
    if opts.labels_file:
        with open(opts.labels_file, encoding="utf-8") as f:
            node_labels.update(labels.parse_labels_file(f.read()))
    if opts.labels:
        node_labels.update(labels.parse_labels_arg(opts.labels))
    return node_labels


def _start(opts: argparse.Namespace) -> int:
    if opts.resources:
        try:
            parsed = json.loads(opts.resources)
            assert isinstance(parsed, dict)
        except (ValueError, AssertionError):
            print(f"raylite start: --resources must be a JSON object, got {opts.resources!r}", file=sys.stderr)
            return 2
    try:
        node_labels = _node_labels(opts)
    except (OSError, ValueError) as exc:
        print(f"raylite start: {exc}", file=sys.stderr)
        return 2
    if opts.head:
        taken = _head_already_there(opts.host, opts.port)
        if taken:
            print(f"raylite start: {taken}", file=sys.stderr)
            return 1
    storage = opts.storage or os.path.join(config.runtime_dir(), f"head-{opts.port}")
    recovering = opts.head and os.path.exists(os.path.join(storage, HEAD_STATE_FILE))
    try:
        tls_paths = tls.pick(opts.tls_cert, opts.tls_key, opts.tls_ca)
        if tls_paths is not None:
            tls.load(tls_paths)
    except tls.TLSConfigError as exc:
        print(f"raylite start: {exc}", file=sys.stderr)
        return 2
    tls_args = ["--tls-cert", tls_paths.cert, "--tls-key", tls_paths.key, "--tls-ca", tls_paths.ca] if tls_paths else []
    if opts.head:
        # a head taking over from a crashed one keeps the cluster's token: its nodes and drivers use it
        token = (
            opts.token or os.environ.get(auth.ENV) or (auth.find_token() if recovering else None) or auth.new_token()
        )
        token_path = auth.write_token_file(token)
    else:
        token = auth.find_token(opts.token)
        if not token:
            print(
                f"raylite start: no cluster token to join {opts.address} with: set RAYLITE_TOKEN to the token in "
                f"{auth.token_file()} on the head's machine (copy it over a secure channel)",
                file=sys.stderr,
            )
            return 2
    session_dir = new_session_dir()
    logs = os.path.join(session_dir, "logs")
    # daemons listening on loopback only are reachable at the loopback address only
    ip = opts.node_ip_address or ("127.0.0.1" if opts.host.startswith("127.") else hostinfo.detect_ip())
    lifeline_r = lifeline_w = None
    if opts.block:  # foreground: the daemons stop when this process goes
        lifeline_r, lifeline_w = os.pipe()
    started: list[Daemon] = []
    try:
        if opts.head:
            head = start_daemon(
                "head",
                "raylite.head.server",
                [
                    "--host",
                    opts.host,
                    "--port",
                    str(opts.port),
                    "--session-name",
                    os.path.basename(session_dir),
                    "--storage",
                    storage,
                ]
                + dashboard_args(opts.include_dashboard, opts.dashboard_host, opts.dashboard_port)
                + metrics_args(opts.metrics_export_port)
                + tls_args,
                os.path.join(logs, "head.log"),
                lifeline_fd=lifeline_r,
                detach=not opts.block,
                token=token,
            ).wait()
            started.append(head)
            head_address = f"{ip}:{head.info['port']}"
            session.record_daemon(
                head.proc.pid, "head", connect_address=head_address, started=time.time(), session_dir=session_dir
            )
        else:
            head_address = opts.address
        survivor = _surviving_worker(head_address) if recovering else None
        if survivor is not None:
            print(f"raylite: this machine's worker daemon (pid {survivor['pid']}) survived the head and rejoins it")
            print(f"raylite head restarted at {head_address}, recovering the cluster's state from {storage}")
            return 0
        worker = start_daemon(
            "worker",
            "raylite.worker.daemon",
            ["--address", head_address, "--host", opts.host, "--node-ip-address", ip]
            + node_args(
                opts.num_cpus,
                opts.num_gpus,
                # the head's machine, as Ray marks it (list_nodes' is_head_node)
                {
                    **(json.loads(opts.resources) if opts.resources else {}),
                    **({HEAD_NODE_RESOURCE: 1.0} if opts.head else {}),
                },
                opts.object_store_memory,
                node_labels,
            )
            + ["--log-dir", logs]
            + tls_args,
            os.path.join(logs, f"worker-{os.getpid()}.log"),
            lifeline_fd=lifeline_r,
            detach=not opts.block,
            token=token,
        ).wait()
        started.append(worker)
        session.record_daemon(
            worker.proc.pid, "worker", node_id=worker.info["node_id"], head=head_address, session_dir=session_dir
        )
    except DaemonStartError as exc:
        print(f"raylite start: {exc}", file=sys.stderr)
        stop_daemons(started)
        return 1
    finally:
        if lifeline_r is not None:
            os.close(lifeline_r)
    tls_note = (
        f"  TLS is on: drivers need {tls.CERT_ENV}, {tls.KEY_ENV} and {tls.CA_ENV} (a certificate signed by\n"
        f"    {tls_paths.ca}, its key, and that CA file); other nodes need the same --tls-* flags\n"
        if tls_paths
        else ""
    )
    if opts.head:
        dashboard = head.info.get("dashboard_url") or ""
        dashboard_line = f"  View the dashboard at:        {dashboard}\n" if dashboard else ""
        if head.info.get("dashboard_error"):
            dashboard_line = f"  No dashboard: {head.info['dashboard_error']}\n"
        if head.info.get("metrics_url") or head.info.get("metrics_error"):
            where = head.info.get("metrics_url") or f"none: {head.info['metrics_error']}"
            dashboard_line += f"  Prometheus metrics at:        {where}\n"
        print(
            f"raylite head started at {head_address} (node {worker.info['node_id'][:12]}).\n"
            f"{dashboard_line}"
            f"  From Python on this machine:  raylite.init(address='auto')\n"
            f"  From another machine:         raylite.init(address='{head_address}')\n"
            f"  To add a machine, run there:  raylite start --address {head_address}\n"
            f"    with RAYLITE_TOKEN set to the cluster token, kept in {token_path} (readable only by you)\n"
            f"{tls_note}"
            f"  To stop:                      raylite stop\n"
            f"  Logs: {logs}"
        )
    else:
        print(f"raylite worker (node {worker.info['node_id'][:12]}) joined the cluster at {head_address}. Logs: {logs}")
    if opts.block:
        return _block(started, lifeline_w)
    return 0


def _surviving_worker(head_address: str) -> dict | None:
    """A live worker daemon of this machine that belongs to the head at head_address."""
    for _path, facts in session.recorded_daemons():
        if facts.get("role") == "worker" and facts.get("head") == head_address and session.pid_alive(int(facts["pid"])):
            return facts
    return None


def _block(daemons: list, lifeline_w: int | None) -> int:
    """Waits, without polling, for SIGINT/SIGTERM or for a daemon to exit; then stops the rest."""
    signals = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        while all(d.proc.poll() is None for d in daemons):
            info = signal.sigwaitinfo(signals)
            if info.si_signo != signal.SIGCHLD:
                break
    finally:
        if lifeline_w is not None:
            os.close(lifeline_w)
        stop_daemons(list(reversed(daemons)), signal_first=False)
        for d in daemons:
            _forget(d.proc.pid)
    return 0


def _forget(pid: int) -> None:
    for path, facts in session.recorded_daemons():
        if facts.get("pid") == pid:
            path.unlink(missing_ok=True)


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Waits for processes that are not our children; returns those still alive."""
    deadline = time.monotonic() + timeout
    fds = {}
    for pid in pids:
        try:
            fds[pid] = os.pidfd_open(pid)
        except (ProcessLookupError, AttributeError, OSError):
            continue
    try:
        while fds and time.monotonic() < deadline:
            ready, _, _ = select.select(list(fds.values()), [], [], max(0.0, deadline - time.monotonic()))
            for pid, fd in list(fds.items()):
                if fd in ready or not session.pid_alive(pid):
                    os.close(fds.pop(pid))
    finally:
        for fd in fds.values():
            os.close(fd)
    return [p for p in pids if session.pid_alive(p)]


def _stop() -> int:
    records = session.recorded_daemons()
    if not records:
        print("raylite stop: no raylite daemons were started on this machine")
        return 0
    # workers first, so they do not report a lost head
    records.sort(key=lambda r: r[1].get("role") == "head")
    pids = []
    for _path, facts in records:
        pid = int(facts["pid"])
        if session.pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            pids.append(pid)
    left = _wait_gone(pids, timeout=10)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    _wait_gone(left, timeout=5)
    for path, facts in records:
        if facts.get("role") == "head":
            auth.token_file().unlink(missing_ok=True)
        if facts.get("role") == "worker":
            from raylite import store

            store.remove_dir(os.path.join(config.shm_root(), f"raylite-{facts['node_id'][:16]}"))
        path.unlink(missing_ok=True)
    print(f"raylite stop: stopped {len(pids)} daemon(s)" + (f", {len(left)} with SIGKILL" if left else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
