"""What a runtime_env says, checked and merged: no I/O.

Theory of operation
-------------------
A runtime_env is a dict a user passes to `init(runtime_env=)` (the job's)
or to `@remote(runtime_env=)` / `.options(runtime_env=)` (a task's or an
actor's). raylite acts on these fields, as Ray does:

- env_vars: {name: value}, strings only, set in the executor's environment;
- working_dir: a local directory or .zip (job level only) or the URI of one
  uploaded before; the executor runs in it, and it is first on sys.path;
- py_modules: local package directories, .py files, .zip files or imported
  modules (job level only), or URIs; each is put on sys.path;
- excludes: gitignore-style patterns of files left out of those packages;
- pip: requirements (a list, a requirements.txt path, or {"packages": ...}),
  installed into a virtualenv made for the environment on each node;
- config: kept, as Ray's (setup timeout and eager install do not apply).

Fields raylite knows of but does not support (conda, container, uv, ...)
are refused where they are given, naming the field. Other fields are kept
and shown by get_runtime_context(), as Ray keeps fields of plugins it does
not know.

A task's environment is its parent's (the job's for a driver's tasks, the
calling task's for a nested one) with the task's own fields on top: each
field given replaces the parent's, except env_vars, merged variable by
variable. The effective environment travels in the task's spec as canonical
JSON, which is also the key that keeps executors of different environments
apart (`key`): two tasks share executors only if their environments are
equal.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

# fields raylite acts on
SUPPORTED = ("env_vars", "working_dir", "py_modules", "excludes", "pip", "config")
# fields of Ray's that raylite does not have: refused with the field's name
UNSUPPORTED = (
    "conda",
    "container",
    "image_uri",
    "uv",
    "py_executable",
    "nsight",
    "mpi",
    "java_jars",
    "rocprof_sys",
    "worker_process_setup_hook",
)
PACKAGE_SCHEME = "gcs://"  # as Ray names an uploaded package; raylite keeps it in the object store
PACKAGE_PREFIX = "_ray_pkg_"
JOB_LEVEL_ONLY = (
    "Passing directories or modules to be uploaded is only supported at the job level (i.e. passed to "
    "`raylite.init(runtime_env=...)`); a task or actor may name one the job uploaded by its URI"
)


class RuntimeEnvError(ValueError):
    """A runtime_env that cannot be used, named by field."""


def is_package_uri(value: str) -> bool:
    return value.startswith(PACKAGE_SCHEME + PACKAGE_PREFIX) and value.endswith(".zip")


def package_uri(digest: str) -> str:
    return f"{PACKAGE_SCHEME}{PACKAGE_PREFIX}{digest}.zip"


def package_name(uri: str) -> str:
    """The folder name an unpacked package gets in a node's cache ("_ray_pkg_<hash>")."""
    return uri[len(PACKAGE_SCHEME) : -len(".zip")]


def validate(env: Any, *, job_level: bool) -> dict[str, Any]:
    """The runtime_env checked and normalized (pip as {"packages": [...], "pip_check": False}).

    Local paths of working_dir and py_modules are kept as given (the client
    packs them); at task level they are refused, as Ray refuses them.
    Raises TypeError or RuntimeEnvError naming the field.
    """
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise TypeError(f"runtime_env must be a dict, got {type(env).__name__}: {env!r}")
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not isinstance(name, str):
            raise TypeError(f"runtime_env field names must be strings, got {name!r}")
        if name in UNSUPPORTED:
            raise RuntimeEnvError(
                f"runtime_env field {name!r} is not supported by raylite (it supports "
                f"{', '.join(SUPPORTED)}); install what the tasks need with 'pip' or on the nodes instead"
            )
        if value is None:
            continue
        if name == "env_vars":
            out[name] = _env_vars(value)
        elif name == "working_dir":
            out[name] = _working_dir(value, job_level)
        elif name == "py_modules":
            out[name] = _py_modules(value, job_level)
        elif name == "excludes":
            if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) for p in value):
                raise TypeError(f"runtime_env['excludes'] must be a list of strings, got {value!r}")
            out[name] = list(value)
        elif name == "pip":
            out[name] = normalize_pip(value)
        elif name == "config":
            if not isinstance(value, Mapping):
                raise TypeError(f"runtime_env['config'] must be a dict, got {value!r}")
            out[name] = dict(value)
        else:
            out[name] = value  # a field raylite does not act on: kept, as Ray keeps a plugin's
    return out


def _env_vars(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"runtime_env['env_vars'] must be of type Dict[str, str], got {type(value).__name__}")
    for k, v in value.items():
        if not isinstance(k, str):
            raise TypeError(f"runtime_env['env_vars'] must be of type Dict[str, str], but the key {k!r} is not a str")
        if not isinstance(v, str):
            raise TypeError(
                f"runtime_env['env_vars'] must be of type Dict[str, str], but the value {v!r} of {k!r} "
                f"is of type {type(v).__name__}"
            )
        if not k or "=" in k or "\0" in k + v:
            raise RuntimeEnvError(
                f"runtime_env['env_vars'] {k!r}: a variable's name must be non-empty without '=' or NUL, "
                "and its value without NUL"
            )
    return dict(value)


def _working_dir(value: Any, job_level: bool) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"runtime_env['working_dir'] must be a string (a path or a URI), got {value!r}")
    if is_package_uri(value):
        return value
    if "://" in value:
        raise RuntimeEnvError(
            f"runtime_env['working_dir'] {value!r}: raylite cannot fetch remote URIs; give a local directory "
            "or .zip file to init(runtime_env=...)"
        )
    if not job_level:
        raise RuntimeEnvError(f"runtime_env['working_dir'] {value!r} is not a valid URI. {JOB_LEVEL_ONLY}")
    return value


def _py_modules(value: Any, job_level: bool) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"runtime_env['py_modules'] must be a list, got {type(value).__name__}: {value!r}")
    out: list[Any] = []
    for item in value:
        if isinstance(item, os.PathLike):
            item = os.fspath(item)
        if isinstance(item, str) and is_package_uri(item):
            out.append(item)
            continue
        if isinstance(item, str) and "://" in item:
            raise RuntimeEnvError(f"runtime_env['py_modules'] entry {item!r}: raylite cannot fetch remote URIs")
        if not isinstance(item, str) and not _is_module(item):
            raise TypeError(f"runtime_env['py_modules'] entries must be paths, URIs or modules, got {item!r}")
        if not job_level:
            raise RuntimeEnvError(f"runtime_env['py_modules'] entry {item!r} is not a valid URI. {JOB_LEVEL_ONLY}")
        out.append(item)
    return out


def _is_module(item: Any) -> bool:
    return type(item).__name__ == "module" and hasattr(item, "__name__")


def normalize_pip(value: Any) -> dict[str, Any]:
    """pip as Ray shows it: {"packages": [...], "pip_check": False} (and "pip_version" if given)."""
    if isinstance(value, str):
        # a requirements file, read where the runtime_env is given
        try:
            with open(value) as f:
                lines = f.read().splitlines()
        except OSError as exc:
            raise RuntimeEnvError(f"runtime_env['pip'] {value!r}: cannot read the requirements file: {exc}") from None
        value = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    if isinstance(value, (list, tuple)):
        value = {"packages": list(value)}
    if not isinstance(value, Mapping):
        raise TypeError(f"runtime_env['pip'] must be a list of requirements, a file path or a dict, got {value!r}")
    unknown = sorted(set(value) - {"packages", "pip_check", "pip_version", "pip_install_options"})
    if unknown:
        raise RuntimeEnvError(f"runtime_env['pip'] has unknown keys {unknown}")
    packages = value.get("packages")
    if isinstance(packages, str):
        packages = normalize_pip(packages)["packages"]
    if not isinstance(packages, (list, tuple)) or not all(isinstance(p, str) and p.strip() for p in packages):
        raise TypeError(f"runtime_env['pip']['packages'] must be a list of requirement strings, got {packages!r}")
    out: dict[str, Any] = {"packages": [p.strip() for p in packages], "pip_check": bool(value.get("pip_check", False))}
    if value.get("pip_version"):
        out["pip_version"] = str(value["pip_version"])
    options = value.get("pip_install_options")
    if options is not None:
        if not isinstance(options, (list, tuple)) or not all(isinstance(o, str) for o in options):
            raise TypeError(f"runtime_env['pip']['pip_install_options'] must be a list of strings, got {options!r}")
        out["pip_install_options"] = list(options)
    return out


def merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """The child's environment on top of its parent's: fields replace, env_vars merge per variable."""
    out = dict(parent)
    for name, value in child.items():
        if name == "env_vars" and isinstance(out.get("env_vars"), Mapping):
            out["env_vars"] = {**out["env_vars"], **value}
        else:
            out[name] = value
    return out


def canonical(env: Mapping[str, Any]) -> str:
    """The environment as JSON with sorted keys ("" when empty): equal environments give equal strings.

    It is the key executors are kept apart by. Fields that say nothing
    (empty env_vars, no py_modules) are left out, so that they do not split
    executors that run alike.
    """
    kept = {k: v for k, v in env.items() if v not in ({}, [], None) and k != "excludes"}
    if not kept:
        return ""
    try:
        return json.dumps(kept, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"runtime_env must be JSON-serializable: {exc}") from None


def packages_of(env: Mapping[str, Any]) -> list[str]:
    """The package URIs an environment uses: its working_dir first, then its py_modules."""
    uris: list[str] = []
    working_dir = env.get("working_dir")
    if isinstance(working_dir, str) and is_package_uri(working_dir):
        uris.append(working_dir)
    uris.extend(m for m in env.get("py_modules") or () if isinstance(m, str) and is_package_uri(m))
    return uris


def pip_packages(env: Mapping[str, Any]) -> list[str]:
    pip = env.get("pip")
    return list(pip.get("packages") or []) if isinstance(pip, Mapping) else []
