"""A client's runtime environments: the job's, packages uploaded once, each task's merged env in its spec.

The driver's job-level runtime_env (init(runtime_env=)) is checked, its
working_dir and py_modules packed (raylite/runtime_env/packaging.py) and
uploaded into the object store once per content, and the paths replaced by
the packages' URIs: that resolved env is what get_runtime_context() shows
and what every task of the job inherits. An executor's client inherits the
env its executor runs in, so nested tasks inherit their parent's.

Each task's (or actor's) spec carries its effective env as canonical JSON
(`TaskSpec.runtime_env`) and the object ids of the packages it uses
(`runtime_env_packages`), which it also borrows so that they live while it
is queued or running. The client holds its uploads for its whole session.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from raylite.runtime_env import packaging
from raylite.runtime_env import spec as env_spec
from raylite.serialization import serialize

if TYPE_CHECKING:
    from raylite.client.core import Client
    from raylite.rpc import common_pb2


class Packed:
    """A job-level env with its local paths packed (before any cluster is reached)."""

    def __init__(self, env: dict[str, Any], packages: dict[str, bytes]) -> None:
        self.env = env  # working_dir / py_modules replaced by URIs
        self.packages = packages  # URI -> zip bytes not uploaded yet


def pack_job_env(runtime_env: Any) -> Packed:
    """Checks a job-level runtime_env and packs its local working_dir and py_modules."""
    env = env_spec.validate(runtime_env, job_level=True)
    excludes = list(env.pop("excludes", []) or [])
    packages: dict[str, bytes] = {}

    def upload(path: str, as_module: bool) -> str:
        data = packaging.pack(path, excludes, as_module=as_module)
        uri = env_spec.package_uri(packaging.digest(data))
        packages[uri] = data
        return uri

    working_dir = env.get("working_dir")
    if isinstance(working_dir, str) and not env_spec.is_package_uri(working_dir):
        env["working_dir"] = upload(working_dir, as_module=False)
    if env.get("py_modules"):
        env["py_modules"] = [
            m if isinstance(m, str) and env_spec.is_package_uri(m) else upload(_module_path(m), as_module=True)
            for m in env["py_modules"]
        ]
    unknown = [uri for uri in env_spec.packages_of(env) if uri not in packages]
    if unknown:
        # raylite keeps packages in the object store, which a job does not inherit from another
        raise env_spec.RuntimeEnvError(
            f"runtime_env package {unknown[0]} was not uploaded by this job: give init() the local folder "
            "or .zip file instead of its URI"
        )
    return Packed(env, packages)


def _module_path(entry: Any) -> str:
    if isinstance(entry, str):
        return entry
    file = getattr(entry, "__file__", None)
    if not file:
        raise env_spec.RuntimeEnvError(f"runtime_env['py_modules']: the module {entry.__name__} has no file to ship")
    return os.path.dirname(file) if os.path.basename(file) == "__init__.py" else file


def install_job_env(client: Client, packed: Packed) -> None:
    """Uploads the job env's packages and makes it the client's base env."""
    from raylite.client.object_ref import ObjectRef

    for uri, data in packed.packages.items():
        ref = ObjectRef(client.new_put_id())  # held before the head hears of the object, and for the session
        client.put_serialized(serialize(data), ref.binary())
        client.runtime_env_refs.append(ref)
        client.runtime_env_packages[uri] = ref.binary()
    set_base(client, packed.env, client.runtime_env_packages)


def set_base(client: Client, env: Mapping[str, Any], packages: Mapping[str, bytes]) -> None:
    """The env this client's tasks inherit (a driver's job env, an executor's own)."""
    client.runtime_env = dict(env)
    client.runtime_env_packages = dict(packages)
    client.runtime_env_key = env_spec.canonical(env)
    client.runtime_env_cache = {}


def apply(client: Client, spec: common_pb2.TaskSpec, task_env: Any) -> None:
    """Writes the task's effective runtime_env (its parent's with its own on top) into its spec."""
    if task_env is None:
        key, packages = client.runtime_env_key, client.runtime_env_packages
        if not key:
            return
        uris = env_spec.packages_of(client.runtime_env) if packages else []
    else:
        cache_key = json.dumps(task_env, sort_keys=True, default=repr)
        cached = client.runtime_env_cache.get(cache_key)
        if cached is None:
            merged = env_spec.merge(client.runtime_env, env_spec.validate(task_env, job_level=False))
            cached = (env_spec.canonical(merged), env_spec.packages_of(merged))
            client.runtime_env_cache[cache_key] = cached
        key, uris = cached
        packages = client.runtime_env_packages
        if not key:
            return
    spec.runtime_env = key
    for uri in uris:
        oid = packages.get(uri)
        if oid is None:
            raise env_spec.RuntimeEnvError(
                f"runtime_env package {uri} was not uploaded by this job: name a working_dir or py_modules "
                "package the job's init(runtime_env=...) uploaded"
            )
        spec.runtime_env_packages[uri] = oid
        spec.borrowed.append(oid)  # alive while the task may run


def shown(client: Client) -> dict[str, Any]:
    """The env get_runtime_context().runtime_env shows in this process."""
    return dict(client.runtime_env)


def driver_paths(client: Client) -> list[str]:
    """What a driver's tasks get on sys.path when the job has no working_dir, as Ray's workers do:
    the driver's current directory and the folder its own imports start from (its script's folder;
    sys.path[0], "" meaning the current directory)."""
    if not client.is_driver or client.runtime_env.get("working_dir"):
        return []
    cwd = os.getcwd()
    first = os.path.abspath(sys.path[0]) if sys.path and sys.path[0] else cwd
    return [cwd] if first == cwd else [cwd, first]
