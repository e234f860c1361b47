"""Runtime environments (as `ray.runtime_env`): `RuntimeEnv`, `RuntimeEnvConfig`.

The fields and how they merge: raylite/runtime_env/spec.py. Packing and
unpacking packages: packaging.py. The client's side: raylite/client/runtime_env.py;
the node's: raylite/worker/runtime_env.py.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from raylite.runtime_env.spec import RuntimeEnvError, validate

__all__ = ["RuntimeEnv", "RuntimeEnvConfig", "RuntimeEnvError"]


class RuntimeEnvConfig(dict):
    """Options of how an environment is set up (kept; raylite has no setup timeout)."""

    def __init__(self, setup_timeout_seconds: int = 600, eager_install: bool = True, log_files: Any = None) -> None:
        super().__init__(setup_timeout_seconds=setup_timeout_seconds, eager_install=eager_install)
        if log_files is not None:
            self["log_files"] = log_files


class RuntimeEnv(dict):
    """A runtime_env as a dict, checked when made: RuntimeEnv(env_vars={"A": "1"}, pip=["six"])."""

    def __init__(
        self,
        *,
        py_modules: Any = None,
        working_dir: Any = None,
        pip: Any = None,
        conda: Any = None,
        container: Any = None,
        env_vars: dict[str, str] | None = None,
        worker_process_setup_hook: Any = None,
        config: Any = None,
        _validate: bool = True,
        **kwargs: Any,
    ) -> None:
        given = {
            "py_modules": py_modules,
            "working_dir": working_dir,
            "pip": pip,
            "conda": conda,
            "container": container,
            "env_vars": env_vars,
            "worker_process_setup_hook": worker_process_setup_hook,
            "config": config,
            **kwargs,
        }
        given = {k: v for k, v in given.items() if v is not None}
        if _validate:
            validate(given, job_level=True)
        super().__init__(given)


def load_with_paths(paths: list[str], blob: bytes) -> Any:
    """Unpickles a driver's function or class after putting the driver's folders on sys.path.

    The export of a driver's function carries them (raylite/client/runtime_env.py
    driver_paths), so the modules beside the driver's script import in the
    executor, as they do on Ray's workers.
    """
    import cloudpickle

    for path in paths:
        if path not in sys.path and os.path.isdir(path):
            sys.path.append(path)
    return cloudpickle.loads(blob)


class WithPaths:
    """Stands in an export for a pickled function or class that needs the driver's folders."""

    def __init__(self, paths: list[str], blob: bytes) -> None:
        self.paths = paths
        self.blob = blob

    def __reduce__(self) -> tuple[Any, ...]:
        return (load_with_paths, (self.paths, self.blob))
