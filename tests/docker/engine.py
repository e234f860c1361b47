"""A Docker engine of the tests' own, the images it runs, and compose projects on it.

Theory of operation. The tests run docker-compose.yml for real, the way a user
would, but on a dockerd that they start and stop themselves:

- Its data root, exec root, socket and pidfile are its own (DATA_ROOT,
  EXEC_ROOT), so it never meets another engine on the machine. It is started
  with `--bridge=none --iptables=false --ip-forward=false`: it leaves the
  machine's firewall, its forwarding switch and any `docker0` bridge alone.
  The only network it makes is the compose project's bridge (10.77.0.0/24),
  removed again by `down`. Without a default bridge, builds run with
  `--network host`, which is how pip inside the build reaches the registry.
- No container registry is reachable from here, so the Dockerfile's base,
  python:3.11-slim, is a stand-in built from Debian's packages (debootstrap,
  then `docker import`). It carries the machine's CA bundle and its pip
  settings (index, proxy), so pip in the build reaches PyPI as pip here does.
  Building it takes a minute or two; it is kept in DATA_ROOT under a tag that
  names a hash of its recipe and settings, and made again only when they change.
- Everything else (containers, the project's network, the raylite image) is
  removed at the end, and dockerd is stopped by its pid.

Two runs on one machine take turns on a lock: they would share DATA_ROOT.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil

from tests.conftest import ROOT

DATA_ROOT = Path("/var/lib/raylite-test-docker")  # kept between runs: the stand-in base image lives here
EXEC_ROOT = Path("/run/raylite-test-docker")
SOCKET = EXEC_ROOT / "docker.sock"
PIDFILE = EXEC_ROOT / "dockerd.pid"
LOCK = Path("/run/raylite-test-docker.lock")

# what the Dockerfile asks for, and the stand-in that answers to that name
BASE_IMAGE = "python:3.11-slim"
STANDIN_REPO = "raylite-test/python-standin"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBOOTSTRAP = ["--variant=minbase", "--include=python3,python3-pip,python3-venv"]
IMAGE_CONFIG = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
    'CMD ["python3"]',
]
# bump when _build_standin changes what it puts in the image
STANDIN_RECIPE = 1
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")  # where Debian's pip looks, in the image
# pip settings worth carrying into the image; paths on this machine's disk (find-links,
# file:// indexes) are not, since a container does not see them
PIP_KEYS = ("index-url", "extra-index-url", "proxy", "trusted-host", "timeout", "default-timeout", "retries")
PROXY_ENV = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")

# apt package that brings each program
PACKAGES = {"dockerd": "docker.io", "docker-compose": "docker-compose", "debootstrap": "debootstrap"}


class EngineError(RuntimeError):
    """The engine, an image or a compose command failed; the message says why."""


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# ---- packages -------------------------------------------------------------------


def missing_packages() -> list[str]:
    return sorted({pkg for program, pkg in PACKAGES.items() if shutil.which(program) is None})


def install_packages() -> None:
    """Installs what is missing from Debian's packages (CI's .ci/run does it up front)."""
    missing = missing_packages()
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
        if result.returncode != 0:
            raise EngineError(f"`{' '.join(argv)}` failed (exit {result.returncode}):\n{tail(result.stderr)}")


def docker_cli() -> str:
    """The docker client shipped with the dockerd we start: the same version speaks the same API."""
    dockerd = shutil.which("dockerd")
    beside = Path(dockerd).resolve().parent.parent / "bin" / "docker" if dockerd else None
    if beside is not None and beside.exists():
        return str(beside)
    found = shutil.which("docker")
    if found is None:
        raise EngineError("no docker client found (the docker.io package brings one)")
    return found


def compose_cli() -> list[str]:
    """docker-compose v1 (Debian's package) or, failing that, the v2 plugin of the docker client."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return [docker_cli(), "compose"]


# ---- the engine -------------------------------------------------------------------


@contextlib.contextmanager
def exclusive(timeout: float = 1800) -> Iterator[None]:
    """Waits for another run of these tests on this machine to finish with DATA_ROOT."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "a+") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EngineError(f"another run of the docker tests held {LOCK} for {timeout:.0f}s") from None
                # flock has no timeout of its own; waiting on the other run is all there is to do
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class Engine:
    """A dockerd of our own; `docker()` runs the client against it."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.cli = docker_cli()
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{SOCKET}", "DOCKER_BUILDKIT": "0"}

    def log_tail(self, lines: int = 30) -> str:
        try:
            return tail(self.log_path.read_text(errors="replace"), lines)
        except OSError:
            return "(no log)"

    def start(self, timeout: float = 90) -> None:
        self._stop_orphan()
        EXEC_ROOT.mkdir(parents=True, exist_ok=True)
        DATA_ROOT.mkdir(parents=True, exist_ok=True)
        argv = [
            "dockerd",
            f"--data-root={DATA_ROOT}",
            f"--exec-root={EXEC_ROOT}",
            f"--pidfile={PIDFILE}",
            f"--host=unix://{SOCKET}",
            "--bridge=none",
            "--iptables=false",
            "--ip-forward=false",
        ]
        with open(self.log_path, "wb") as log:
            # a session of its own: a Ctrl-C of the test run reaches dockerd only through stop()
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise EngineError(
                    f"dockerd exited with code {self.proc.returncode} while starting; "
                    f"the end of its log ({self.log_path}):\n{self.log_tail()}"
                )
            probe = self.docker("version", "--format", "{{.Server.Version}}", check=False, timeout=20)
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise EngineError(
                    f"dockerd did not answer on {SOCKET} within {timeout:.0f}s ({probe.stderr.strip()}); "
                    f"the end of its log:\n{self.log_tail()}"
                )
            time.sleep(0.5)  # polling the socket: dockerd has no readiness signal to wait on
        self._forget_leftovers()
        self._check_bridge_traffic()

    def _stop_orphan(self) -> None:
        """Stops a dockerd left on our exec root by a run that died (we hold the lock, so it is no one's)."""
        try:
            pid = int(PIDFILE.read_text().strip())
            process = psutil.Process(pid)
            cmdline = process.cmdline()
        except (OSError, ValueError, psutil.Error):
            return
        if cmdline and Path(cmdline[0]).name == "dockerd" and f"--exec-root={EXEC_ROOT}" in cmdline:
            process.terminate()
            _gone, alive = psutil.wait_procs([process], timeout=30)
            for p in alive:
                p.kill()

    def _forget_leftovers(self) -> None:
        """Containers and networks a run that died left behind: this engine is ours alone."""
        stale = self.docker("ps", "-aq").stdout.split()
        if stale:
            self.docker("rm", "-f", *stale)
        self.docker("network", "prune", "-f")

    def _check_bridge_traffic(self) -> None:
        """Containers on one bridge talk through the FORWARD chain when br_netfilter is on; another
        engine may have set its policy to DROP, which would cut our containers off from each other."""
        try:
            calls = Path("/proc/sys/net/bridge/bridge-nf-call-iptables").read_text().strip()
        except OSError:
            return
        if calls != "1" or shutil.which("iptables") is None:
            return
        rules = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
        if "-P FORWARD DROP" in rules.splitlines():
            raise EngineError(
                "the FORWARD chain's policy is DROP and bridged traffic goes through iptables "
                "(net.bridge.bridge-nf-call-iptables=1), so containers could not reach each other; "
                "another Docker engine on this machine probably set it (`iptables -P FORWARD ACCEPT` undoes it)"
            )

    def stop(self, timeout: float = 60) -> None:
        """Stops dockerd by its pid (and with it the containerd it started)."""
        if self.proc is None:
            return
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            children = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        _gone, alive = psutil.wait_procs(children, timeout=30)
        for p in alive:
            p.kill()
        psutil.wait_procs(alive, timeout=10)
        self.proc = None
        self._release_exec_root()

    @staticmethod
    def _release_exec_root() -> None:
        """dockerd leaves its namespace handle (netns/default) mounted in the exec root when it stops."""
        with open("/proc/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for point in sorted((m for m in mounts if m.startswith(f"{EXEC_ROOT}/")), reverse=True):
            subprocess.run(["umount", point], capture_output=True)
        shutil.rmtree(EXEC_ROOT, ignore_errors=True)

    def docker(
        self, *args: str, check: bool = True, timeout: float = 300, input: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.cli, *args], capture_output=True, text=True, env=self.env, timeout=timeout, input=input
        )
        if check and result.returncode != 0:
            raise EngineError(
                f"`docker {' '.join(args)}` failed (exit {result.returncode}):\n{tail(result.stderr or result.stdout)}"
            )
        return result

    def has_image(self, tag: str) -> bool:
        return self.docker("image", "inspect", tag, check=False).returncode == 0


# ---- images -----------------------------------------------------------------------


def host_pip_settings() -> dict[str, str]:
    """This machine's pip settings that a container can use: its index and proxy, not its disk."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, env=os.environ
    )
    settings: dict[str, str] = {}
    for line in result.stdout.splitlines():
        m = re.match(r"^(global|install|:env:)\.([\w-]+)='(.*)'$", line.strip())
        if not m or m.group(2) not in PIP_KEYS:
            continue
        values = [v for v in m.group(3).split() if not v.startswith("file:") and not v.startswith("/")]
        if values:
            settings[m.group(2)] = " ".join(values)
    if "proxy" not in settings:
        proxy = next((os.environ[k] for k in PROXY_ENV if os.environ.get(k)), None)
        if proxy:
            settings["proxy"] = proxy
    return settings


def host_ca_bundle() -> Path:
    """The CA bundle pip here trusts: it may hold the authority that PyPI is reached through."""
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE"), str(CA_BUNDLE)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise EngineError(f"no CA bundle to give the image (looked at $PIP_CERT, $SSL_CERT_FILE, {CA_BUNDLE})")


def standin_pip_conf() -> str:
    lines = ["[global]", "# a copy of the CA bundle of the machine the tests ran on", f"cert = {CA_BUNDLE}"]
    lines += [f"{key} = {value}" for key, value in sorted(host_pip_settings().items())]
    return "\n".join(lines) + "\n"


def standin_tag(pip_conf: str) -> str:
    recipe = repr((STANDIN_RECIPE, DEBIAN_SUITE, DEBIAN_MIRROR, DEBOOTSTRAP, IMAGE_CONFIG, pip_conf)).encode()
    digest = hashlib.sha256(recipe + host_ca_bundle().read_bytes()).hexdigest()[:16]
    return f"{STANDIN_REPO}:{DEBIAN_SUITE}-{digest}"


def ensure_standin_base(engine: Engine) -> tuple[str, bool]:
    """Makes BASE_IMAGE name a Debian stand-in; returns its tag and whether it had to be built."""
    pip_conf = standin_pip_conf()
    tag = standin_tag(pip_conf)
    built = False
    if not engine.has_image(tag):
        _build_standin(engine, tag, pip_conf)
        built = True
        # stand-ins of older recipes are of no further use
        for old in engine.docker("images", "--format", "{{.Repository}}:{{.Tag}}", STANDIN_REPO).stdout.split():
            if old != tag:
                engine.docker("rmi", old, check=False)
    engine.docker("tag", tag, BASE_IMAGE)
    return tag, built


def _build_standin(engine: Engine, tag: str, pip_conf: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="raylite-standin-", dir="/var/tmp"))
    root = work / "root"
    try:
        result = subprocess.run(
            ["debootstrap", *DEBOOTSTRAP, DEBIAN_SUITE, str(root), DEBIAN_MIRROR],
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if result.returncode != 0:
            log = root / "debootstrap" / "debootstrap.log"
            detail = log.read_text(errors="replace") if log.exists() else result.stderr + result.stdout
            raise EngineError(f"debootstrap of the stand-in base image failed:\n{tail(detail)}")
        # python:3.11-slim installs into its own prefix; Debian's Python refuses pip there without this
        for marker in root.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            marker.unlink()
        (root / "usr/bin/python").unlink(missing_ok=True)
        (root / "usr/bin/python").symlink_to("python3")
        shutil.copyfile(host_ca_bundle(), root / CA_BUNDLE.relative_to("/"))
        (root / "etc/pip.conf").write_text(pip_conf)
        for deb in (root / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        try:
            imported = subprocess.run(
                [engine.cli, "import", *[arg for c in IMAGE_CONFIG for arg in ("--change", c)], "-", tag],
                stdin=tar.stdout,
                capture_output=True,
                text=True,
                env=engine.env,
                timeout=600,
            )
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise EngineError(f"`docker import` of the stand-in failed:\n{tail(imported.stderr)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_image(engine: Engine, tag: str) -> None:
    """Builds the project's Dockerfile as `docker compose build` would, on the host's network."""
    result = engine.docker("build", "--network", "host", "-t", tag, str(ROOT), check=False, timeout=900)
    if result.returncode != 0:
        raise EngineError(f"`docker build` of {tag} failed:\n{tail(result.stdout + result.stderr, 60)}")


# ---- compose projects --------------------------------------------------------------


class Compose:
    """One compose project on the engine: `compose(...)` runs docker-compose with its files and token."""

    def __init__(
        self,
        engine: Engine,
        project: str,
        token: str | None,
        files: Sequence[str] = ("docker-compose.yml",),
        env: dict[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.project = project
        self.files = list(files)
        self.env = {k: v for k, v in engine.env.items() if k != "RAYLITE_TOKEN"}
        if token is not None:
            self.env["RAYLITE_TOKEN"] = token
        self.env.update(env or {})
        # the project's own .env must not stand in for what a test sets (or leaves unset)
        self._empty_env_file = tempfile.NamedTemporaryFile(prefix="raylite-compose-", suffix=".env")

    def argv(self, *args: str) -> list[str]:
        files = [arg for f in self.files for arg in ("-f", str(ROOT / f))]
        return [*compose_cli(), "--env-file", self._empty_env_file.name, "-p", self.project, *files, *args]

    def compose(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise EngineError(
                f"`docker-compose {' '.join(args)}` failed (exit {result.returncode}):\n"
                f"{tail(result.stderr, 30)}\n{tail(result.stdout, 30)}"
            )
        return result

    def driver(self, code: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Runs `python -c code` in a driver container beside the running cluster."""
        return self.compose("run", "--rm", "--no-deps", "-T", "driver", "python", "-c", code, timeout=timeout)

    def popen_driver(self, code: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv("run", "--rm", "--no-deps", "-T", "driver", "python", "-c", code),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env,
            cwd=ROOT,
        )

    def containers(self, service: str) -> list[str]:
        """Ids of the service's running containers."""
        out = self.engine.docker(
            "ps",
            "-q",
            "--filter",
            f"label=com.docker.compose.project={self.project}",
            "--filter",
            f"label=com.docker.compose.service={service}",
        ).stdout
        return out.split()

    def inspect(self, container: str, template: str) -> str:
        return self.engine.docker("inspect", "-f", template, container).stdout.strip()

    def status(self) -> str:
        """`raylite status` as the head's container sees it ('' while the head does not answer)."""
        heads = self.containers("head")
        if not heads:
            return ""
        result = self.engine.docker("exec", heads[0], "raylite", "status", "--address", "head:6380", check=False)
        return result.stdout if result.returncode == 0 else ""

    def alive_addresses(self) -> list[str]:
        """The IPs of the nodes the head lists alive ([] while the head does not answer)."""
        heads = self.containers("head")
        if not heads:
            return []
        ask = ["raylite", "list", "nodes", "--address", "head:6380", "--filter", "state=ALIVE", "--format", "json"]
        result = self.engine.docker("exec", heads[0], *ask, check=False)
        if result.returncode != 0:
            return []
        return [node["node_ip"] for node in json.loads(result.stdout)]

    def wait_for_nodes(self, count: int, timeout: float = 180) -> list[str]:
        """Waits until the head lists `count` nodes alive; returns their IPs."""
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            alive = self.alive_addresses()
            if len(alive) == count:
                return alive
            status = self.status()
            time.sleep(1)  # polling the head: nothing tells us when a node joins
        logs = self.compose("logs", "--tail", "20", check=False).stdout
        raise EngineError(f"{count} nodes were not alive within {timeout:.0f}s; status:\n{status}\nlogs:\n{tail(logs)}")

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", timeout=300)
        self._empty_env_file.close()
        left = self.engine.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}").stdout
        networks = self.engine.docker("network", "ls", "-q", "--filter", f"name={self.project}_").stdout
        if left.strip() or networks.strip():
            raise EngineError(f"`down` left containers {left.split()} and networks {networks.split()} behind")
