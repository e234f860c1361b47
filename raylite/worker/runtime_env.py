"""Setting an executor's runtime environment up on its node.

The pool (raylite/worker/state/pool.py) starts executors of an environment
with `Setup`: the environment's JSON and its packages' object ids, passed in
$RAYLITE_EXECUTOR, and its env_vars in the process's environment. Before
its hello the executor sets the rest up, in this order:

1. pip: a virtualenv for the requirements, made once per node (under a lock,
   in `<runtime dir>/runtime_resources/pip/<hash>`) from the daemon's Python
   with the daemon's packages visible behind its own (a .pth file), so that
   raylite imports in it and the environment's versions win; then the
   executor execs itself in that virtualenv's Python.
2. working_dir and py_modules: each package is fetched from the object store
   and unpacked once per node (raylite/runtime_env/packaging.py); the
   working_dir becomes the current directory and first on sys.path, the
   py_modules follow it.

What fails is reported on the executor's channel (`SETUP_FAILED`) instead of
the hello; the pool then fails the tasks of that environment with
RuntimeEnvSetupError.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import os
import shutil
import signal
import site
import subprocess
import sys
import venv
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raylite import config, exceptions, ids
from raylite.failures import RUNTIME_ENV_ACTOR_FAILED
from raylite.rpc import common_pb2, head_pb2
from raylite.runtime_env import packaging
from raylite.runtime_env import spec as env_spec
from raylite.serialization import dumps
from raylite.worker import protocol

# as Ray's default setup_timeout_seconds (runtime_env["config"] may say otherwise): for pip, and for
# fetching a package, which may be large and come from another host
SETUP_TIMEOUT_S = 600.0
ACTOR_PREFIX = RUNTIME_ENV_ACTOR_FAILED + "\n"


@dataclass(frozen=True, slots=True)
class Setup:
    """How an executor of one environment is started."""

    env: str  # the canonical JSON
    packages: tuple[tuple[str, bytes], ...]  # (URI, object id of its zip)

    @staticmethod
    def of(spec: common_pb2.TaskSpec) -> Setup:
        return Setup(spec.runtime_env, tuple(sorted(spec.runtime_env_packages.items())))

    def settings(self) -> dict[str, Any]:
        return {"env": self.env, "packages": {uri: oid.hex() for uri, oid in self.packages}}

    def env_vars(self) -> dict[str, str]:
        """Its env_vars (the head checked them: raylite/head/validate.py); none if unreadable, and the
        executor then reports the environment as broken."""
        try:
            env_vars = json.loads(self.env).get("env_vars") or {}
        except (ValueError, AttributeError):
            return {}
        return {k: v for k, v in env_vars.items() if isinstance(k, str) and isinstance(v, str)}


def setup_failed_result(assignment: head_pb2.TaskAssignment, message: str, actor: bool) -> head_pb2.TaskResult:
    """The result of a task (or actor creation) whose environment could not be set up."""
    spec = assignment.spec
    text = (ACTOR_PREFIX if actor else "") + message
    data = dumps(exceptions.RuntimeEnvSetupError(text))
    result = head_pb2.TaskResult(task_id=spec.task_id, error_summary=f"RuntimeEnvSetupError: {text}"[:2000])
    for i in range(max(1, spec.num_returns)):
        result.results.add(object_id=ids.object_id(spec.task_id, i), data=data, size=len(data), is_error=True)
    return result


class SetupError(Exception):
    """Why an environment could not be set up (the text reaches the task's caller)."""


def report_failure(channel: protocol.BlockingChannel, node_ip: str, why: str) -> None:
    channel.send(protocol.SETUP_FAILED, f"[Node {node_ip}] {why}".encode())


# ---- pip ---------------------------------------------------------------------------------


def enter_interpreter(cfg: dict[str, Any]) -> None:
    """Execs this executor in its environment's virtualenv, made if needed; returns if it needs none.

    Raises SetupError when the virtualenv cannot be made.
    """
    env = json.loads(cfg["runtime_env"]["env"])
    packages = env_spec.pip_packages(env)
    if not packages or cfg.get("in_pip_env"):
        return
    pip = env["pip"]
    timeout = setup_timeout(env)
    key = hashlib.sha256(json.dumps([pip, sys.version, sys.executable], sort_keys=True).encode()).hexdigest()[:16]
    root = os.path.join(config.runtime_dir(), "runtime_resources", "pip", key)
    python = ensure_virtualenv(root, pip, timeout)
    fd = cfg["fd"]
    os.set_inheritable(fd, True)
    environ = dict(os.environ)
    environ["RAYLITE_EXECUTOR"] = json.dumps({**cfg, "in_pip_env": True})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(python, [python, "-m", "raylite.worker.executor_main"], environ)


def setup_timeout(env: dict[str, Any]) -> float | None:
    """runtime_env["config"]["setup_timeout_seconds"], SETUP_TIMEOUT_S if not given; -1 (as in Ray): none."""
    seconds = float((env.get("config") or {}).get("setup_timeout_seconds") or SETUP_TIMEOUT_S)
    return seconds if seconds > 0 else None


def ensure_virtualenv(root: str, pip: dict[str, Any], timeout: float | None) -> str:
    """The Python of the virtualenv at root with pip's packages installed, made once (under a lock)."""
    python = os.path.join(root, "bin", "python")
    ready = os.path.join(root, ".raylite-ready")
    if os.path.exists(ready):
        return python
    os.makedirs(os.path.dirname(root), exist_ok=True)
    with open(root + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(ready):
            return python
        shutil.rmtree(root, ignore_errors=True)  # a half-made one, from a process that died making it
        try:
            venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
            _see_parent_packages(root)
            _pip_install(python, pip, timeout)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        with open(ready, "w") as f:
            f.write(json.dumps(pip))
    return python


def _see_parent_packages(root: str) -> None:
    """Makes the daemon's packages (raylite, grpc, ...) importable in the virtualenv, after its own."""
    out = subprocess.run(
        [os.path.join(root, "bin", "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    purelib = out.stdout.strip()
    parents = [p for p in site.getsitepackages() if os.path.isdir(p)]
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the folder raylite/ is in
    if os.path.dirname(here) not in parents:
        parents.append(os.path.dirname(here))
    with open(os.path.join(purelib, "_raylite_parent_env.pth"), "w") as f:
        f.write("\n".join(parents) + "\n")


def _die_with_us() -> None:
    """In pip's process: killed with the executor (by the daemon stopping, say) rather than outliving it.
    The executor has no thread yet while it sets up, so a preexec_fn is safe here."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _pip_install(python: str, pip: dict[str, Any], timeout: float | None) -> None:
    argv = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--disable-pip-version-check",
        "--no-input",
        *pip.get("pip_install_options", []),
        *pip["packages"],
    ]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, preexec_fn=_die_with_us
        )
    except subprocess.TimeoutExpired:
        raise SetupError(
            f"pip install {' '.join(pip['packages'])} did not finish within {timeout or 0:.0f}s "
            "(runtime_env['config']['setup_timeout_seconds'])"
        ) from None
    if done.returncode != 0:
        lines = (done.stdout + "\n" + done.stderr).strip().splitlines()
        detail = "\n".join([ln for ln in lines if ln.startswith("ERROR")] or lines[-15:])  # pip's own verdict
        raise SetupError(f"pip install {' '.join(pip['packages'])} failed (exit {done.returncode}):\n{detail}")
    if pip.get("pip_check"):
        check = subprocess.run(
            [python, "-m", "pip", "check"], capture_output=True, text=True, timeout=timeout, preexec_fn=_die_with_us
        )
        if check.returncode != 0:
            raise SetupError(f"pip check failed:\n{check.stdout}{check.stderr}")


# ---- packages ----------------------------------------------------------------------------


def enter_packages(cfg: dict[str, Any], fetch: Callable[[bytes, float | None], bytes]) -> dict[str, Any]:
    """Unpacks the environment's working_dir and py_modules and puts them on sys.path (the working_dir
    also as the current directory); returns the environment. fetch(object id, timeout) reads a package's zip."""
    env: dict[str, Any] = json.loads(cfg["runtime_env"]["env"])
    oids = {uri: bytes.fromhex(oid) for uri, oid in cfg["runtime_env"]["packages"].items()}
    root = packaging.cache_root(config.runtime_dir())

    def unpacked(uri: str) -> str:
        oid = oids.get(uri)
        if oid is None:
            raise SetupError(f"no package was sent along for {uri}")
        try:
            return packaging.ensure_unpacked(root, uri, lambda: fetch(oid, setup_timeout(env)))
        except exceptions.RayError as exc:
            raise SetupError(f"could not fetch the package {uri} from the object store: {exc}") from None

    paths = [unpacked(uri) for uri in env_spec.packages_of(env)]
    sys.path[:0] = [p for p in paths if p not in sys.path]
    working_dir = env.get("working_dir")
    if isinstance(working_dir, str) and env_spec.is_package_uri(working_dir):
        os.chdir(paths[0])
    return env
