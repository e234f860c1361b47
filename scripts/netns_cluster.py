"""A multi-host raylite cluster on one machine, each host in its own network namespace.

    sudo python scripts/netns_cluster.py up      # head + 2 workers + a driver host
    sudo python scripts/netns_cluster.py exec drv python my_driver.py
    sudo python scripts/netns_cluster.py down

`up --tls` also makes a CA and one certificate naming every host's IP
(scripts/make_certs.py, needs `cryptography`) and runs every host, and every
`exec`, with RAYLITE_TLS_CERT/KEY/CA set to them: the cluster then speaks TLS only.

Topology (docker-compose.yml has the same head and driver; its `worker`
service runs the same command as w1 and w2 at addresses Docker hands out, as
many times as `--scale worker=N` says): a bridge lives in a namespace of
its own (<prefix>-br); every host namespace (<prefix>-head, -w1, -w2, -drv)
has one veth pair into it and an address in 10.77.0.0/24 (.10 to .13). The host's own
interfaces and routes are never touched: every link is created inside the
namespaces. `head` runs `raylite start --head` (the head and that host's
worker daemon), `w1` and `w2` run `raylite start --address`, `drv` runs only
drivers. Each host has its own RAYLITE_TMPDIR, as separate machines would;
/dev/shm is shared by the kernel, but raylite treats hosts in different
network namespaces as different machines and moves objects over the network.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SUBNET = "10.77.0"
HEAD_PORT = 6380
HOSTS = ("head", "w1", "w2", "drv")
# .1 is left free: Docker takes it for the gateway of the same subnet in docker-compose.yml
HOST_IPS = {"head": f"{SUBNET}.10", "w1": f"{SUBNET}.11", "w2": f"{SUBNET}.12", "drv": f"{SUBNET}.13"}
HOST_CPUS = {"head": 1, "w1": 2, "w2": 2}


def raylite_command(host: str, cpus: int | None = None, object_store_memory: int | None = None) -> list[str]:
    """The `raylite start` command a host runs; docker-compose.yml runs the same (plus --block)."""
    role = ["--head", "--port", str(HEAD_PORT)] if host == "head" else ["--address", f"{HOST_IPS['head']}:{HEAD_PORT}"]
    store = ["--object-store-memory", str(object_store_memory)] if object_store_memory else []
    return [
        "raylite",
        "start",
        *role,
        "--host",
        "0.0.0.0",
        "--node-ip-address",
        HOST_IPS[host],
        "--num-cpus",
        str(cpus if cpus is not None else HOST_CPUS[host]),
        *store,
    ]


@dataclass
class Cluster:
    prefix: str = "rl"
    hosts: tuple[str, ...] = HOSTS
    runtime_root: Path = field(default_factory=lambda: Path("/tmp") / "raylite-netns")

    @property
    def token(self) -> str:
        """The cluster's token, given to every host as docker-compose.yml does; kept
        (mode 600) beside the hosts' folders so later `exec` calls use it too."""
        path = self.runtime_root / self.prefix / "token"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
        return path.read_text()

    @property
    def tls_dir(self) -> Path:
        """Where `up --tls` keeps the CA and the hosts' certificate; TLS is on while they exist."""
        return self.runtime_root / self.prefix / "tls"

    def make_certs(self) -> None:
        # imported here: only --tls needs it, and with it the `cryptography` package
        import make_certs

        make_certs.write_cert(self.tls_dir, "node", list(HOST_IPS.values()))

    def tls_env(self) -> dict[str, str]:
        if not (self.tls_dir / "node.pem").exists():
            return {}
        return {
            "RAYLITE_TLS_CERT": str(self.tls_dir / "node.pem"),
            "RAYLITE_TLS_KEY": str(self.tls_dir / "node.key"),
            "RAYLITE_TLS_CA": str(self.tls_dir / "ca.pem"),
        }

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    @property
    def bridge_ns(self) -> str:
        return f"{self.prefix}-br"

    def ip(self, host: str) -> str:
        return HOST_IPS[host]

    @property
    def head_address(self) -> str:
        return f"{self.ip('head')}:{HEAD_PORT}"

    def env(self, host: str) -> dict[str, str]:
        return {
            **os.environ,
            "RAYLITE_TMPDIR": str(self.runtime_root / self.prefix / host),
            "RAYLITE_ADDRESS": self.head_address,
            "RAYLITE_TOKEN": self.token,
            **self.tls_env(),
        }

    def exec_argv(self, host: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns(host), *argv]

    def run(self, host: str, argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.exec_argv(host, argv), env=self.env(host), text=True, **kw)

    def popen(self, host: str, code: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Starts `python -c code` on a host, with pipes for stdout and stderr."""
        return subprocess.Popen(
            self.exec_argv(host, [sys.executable, "-c", code]),
            env={**self.env(host), **(env or {})},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    # ---- network ---------------------------------------------------------------

    def create_network(self) -> None:
        self.destroy_network()
        _ip("netns", "add", self.bridge_ns)
        _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.bridge_ns, "link", "set", "br0", "up")
        _ip("-n", self.bridge_ns, "link", "set", "lo", "up")
        for i, host in enumerate(self.hosts, start=1):
            ns = self.ns(host)
            _ip("netns", "add", ns)
            # both ends are made inside namespaces: the host's link list never changes
            _ip("-n", self.bridge_ns, "link", "add", f"p{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("-n", self.bridge_ns, "link", "set", f"p{i}", "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.ip(host)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def destroy_network(self) -> None:
        existing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        names = {line.split()[0] for line in existing.splitlines() if line.strip()}
        for ns in [self.ns(h) for h in self.hosts] + [self.bridge_ns]:
            if ns in names:
                self.kill_namespace_processes(ns)
                subprocess.run(["ip", "netns", "del", ns], check=False)

    @staticmethod
    def kill_namespace_processes(ns: str) -> None:
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    def set_link(self, host: str, up: bool) -> None:
        """Cuts (or restores) a host's cable, for failure tests."""
        i = self.hosts.index(host) + 1
        _ip("-n", self.bridge_ns, "link", "set", f"p{i}", "up" if up else "down")

    # ---- daemons ---------------------------------------------------------------

    def start_daemons(self, object_store_memory: int | None = None) -> None:
        for host, cpus in HOST_CPUS.items():
            self.start_host(host, cpus, object_store_memory)

    def start_host(self, host: str, cpus: int, object_store_memory: int | None = None) -> None:
        command = raylite_command(host, cpus, object_store_memory)
        argv = [sys.executable, "-m", "raylite.cli", *command[1:]]
        result = self.run(host, argv, capture_output=True)
        if result.returncode != 0:
            raise RuntimeError(f"starting raylite on {host} failed:\n{result.stdout}\n{result.stderr}")

    def kill_worker(self, host: str) -> None:
        """SIGKILLs a host's worker daemon: a machine's raylite dying without warning."""
        for path in (self.runtime_root / self.prefix / host / "daemons").glob("worker-*.json"):
            try:
                os.kill(json.loads(path.read_text())["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass

    def restart_host(self, host: str, object_store_memory: int | None = None) -> None:
        """Stops whatever is left of a host's raylite and starts it again (a new node)."""
        self.run(host, [sys.executable, "-m", "raylite.cli", "stop"], capture_output=True)
        self.start_host(host, HOST_CPUS[host], object_store_memory)

    def stop_daemons(self) -> None:
        for host in reversed(list(HOST_CPUS)):
            if self.ns(host) in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout:
                self.run(host, [sys.executable, "-m", "raylite.cli", "stop"], capture_output=True)

    def up(self, object_store_memory: int | None = None, tls: bool = False) -> None:
        self.create_network()
        try:
            if tls:
                self.make_certs()
            else:  # left by an earlier `up --tls` without `down`
                shutil.rmtree(self.tls_dir, ignore_errors=True)
            self.start_daemons(object_store_memory)
        except BaseException:
            self.down()
            raise

    def down(self) -> None:
        self.stop_daemons()
        self.destroy_network()
        shutil.rmtree(self.runtime_root / self.prefix, ignore_errors=True)

    def describe(self) -> dict[str, object]:
        return {
            "head_address": self.head_address,
            "hosts": {h: {"namespace": self.ns(h), "ip": self.ip(h)} for h in self.hosts},
        }


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


def namespaces_available() -> str | None:
    """None if network namespaces can be made here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"rl-probe-{os.getpid()}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if result.returncode != 0:
        return f"`ip netns add` failed: {result.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="rl", help="namespace name prefix")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="create the namespaces and start raylite on head, w1, w2")
    up.add_argument("--object-store-memory", type=int, default=None)
    up.add_argument("--tls", action="store_true", help="make certificates and run the cluster over mutual TLS")
    sub.add_parser("down", help="stop raylite and delete the namespaces")
    ex = sub.add_parser("exec", help="run a command on one host (with RAYLITE_ADDRESS set)")
    ex.add_argument("host", choices=HOSTS)
    ex.add_argument("argv", nargs=argparse.REMAINDER)
    opts = parser.parse_args()
    cluster = Cluster(prefix=opts.prefix)
    if opts.command == "up":
        reason = namespaces_available()
        if reason:
            print(f"cannot build the namespace cluster: {reason}", file=sys.stderr)
            return 1
        started = time.monotonic()
        cluster.up(opts.object_store_memory, tls=opts.tls)
        print(json.dumps(cluster.describe(), indent=2))
        print(f"up in {time.monotonic() - started:.1f}s; drivers: {sys.argv[0]} exec drv python your_driver.py")
        return 0
    if opts.command == "down":
        cluster.down()
        return 0
    return cluster.run(opts.host, opts.argv).returncode


if __name__ == "__main__":
    sys.exit(main())
