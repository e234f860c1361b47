"""Packages of working_dir and py_modules: packed into a zip by the client, unpacked on each node.

A package is a zip made the same way every time from the same files (sorted
entries, fixed timestamps), so its hash names its content: the URI
`gcs://_ray_pkg_<hash>.zip`, as Ray names its packages. A client uploads a
package once (into the object store, see raylite/client/runtime_env.py);
a node unpacks it once into its cache folder `<cache>/_ray_pkg_<hash>`,
which every executor of every job on that node then shares.

Files matching the runtime_env's `excludes`, or a .gitignore or .rayignore
file of their folder, are left out (raylite/runtime_env/ignore.py). A
package of PACKAGE_MAX_BYTES or more is refused, naming how to shrink it.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import stat
import zipfile
from collections.abc import Callable, Iterator

from raylite.runtime_env import ignore, spec

# as Ray's limit (its gRPC message limit); raylite moves packages in chunks, so it is only a guard
PACKAGE_MAX_BYTES = int(os.environ.get("RAYLITE_PACKAGE_MAX_BYTES", str(512 * 1024 * 1024)))
IGNORE_FILES = (".gitignore", ".rayignore")


def ignore_files() -> tuple[str, ...]:
    """The ignore files read; RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1 leaves .gitignore out, as in Ray."""
    if os.environ.get("RAY_RUNTIME_ENV_IGNORE_GITIGNORE") == "1":
        return (".rayignore",)
    return IGNORE_FILES


_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackageTooLarge(ValueError):
    pass


class _Writer:
    """A deterministic zip being written, refusing to grow past the limit."""

    def __init__(self, what: str, limit: int) -> None:
        self.what = what
        self.limit = limit
        self.buffer = io.BytesIO()
        self.zip = zipfile.ZipFile(self.buffer, "w", zipfile.ZIP_DEFLATED)

    def add(self, name: str, data: bytes, mode: int) -> None:
        info = zipfile.ZipInfo(name, _EPOCH)
        info.external_attr = (stat.S_IFREG | (mode & 0o777)) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        if self.buffer.tell() >= self.limit:
            self._too_large()

    def _too_large(self) -> None:
        raise PackageTooLarge(
            f"the package of {self.what} is larger than the limit of {self.limit // (1024 * 1024)} MiB "
            f"(RAYLITE_PACKAGE_MAX_BYTES). Leave large files out with the runtime_env's 'excludes' or a "
            ".gitignore / .rayignore file, or put large data in the object store or on shared storage"
        )

    def finish(self) -> bytes:
        self.zip.close()
        data = self.buffer.getvalue()
        if len(data) >= self.limit:
            self._too_large()
        return data


def _walk(root: str, excludes: list[str]) -> Iterator[tuple[str, str]]:
    """(absolute path, path relative to root) of each file of root that is not left out, sorted."""
    patterns = ignore.parse(excludes)
    names = ignore_files()

    def visit(folder: str, rel: str, patterns: list[ignore.Pattern]) -> Iterator[tuple[str, str]]:
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                with open(path, errors="replace") as f:
                    patterns = patterns + ignore.parse(f.read().splitlines(), rel)
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            child = f"{rel}/{entry.name}" if rel else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)  # a linked folder could loop: left out
            if ignore.excluded(patterns, child, is_dir):
                continue
            if is_dir:
                yield from visit(entry.path, child, patterns)
            elif entry.is_file():
                yield entry.path, child

    yield from visit(root, "", patterns)


def pack_directory(root: str, excludes: list[str], prefix: str = "", limit: int = PACKAGE_MAX_BYTES) -> bytes:
    """The files of a folder as a zip; with prefix, under that folder name (a py_modules package)."""
    writer = _Writer(root, limit)
    for path, rel in _walk(root, excludes):
        with open(path, "rb") as f:
            data = f.read()
        writer.add(f"{prefix}/{rel}" if prefix else rel, data, os.stat(path).st_mode)
    return writer.finish()


def pack_file(path: str, limit: int = PACKAGE_MAX_BYTES) -> bytes:
    """One .py module as a package."""
    writer = _Writer(path, limit)
    with open(path, "rb") as f:
        writer.add(os.path.basename(path), f.read(), os.stat(path).st_mode)
    return writer.finish()


def repack_zip(path: str, strip_single_top: bool, limit: int = PACKAGE_MAX_BYTES) -> bytes:
    """A user's .zip made deterministic; for a working_dir, one top-level folder holding everything is
    stripped (the folder's contents are the working directory), as Ray reads such a zip."""
    writer = _Writer(path, limit)
    with zipfile.ZipFile(path) as z:
        files = sorted((i for i in z.infolist() if not i.is_dir()), key=lambda i: i.filename)
        names = [i.filename for i in files]
        top = {n.split("/", 1)[0] for n in names}
        strip = ""
        if strip_single_top and len(top) == 1 and all("/" in n for n in names):
            strip = next(iter(top)) + "/"
        for info in files:
            mode = (info.external_attr >> 16) & 0o777 or 0o644
            writer.add(info.filename[len(strip) :], z.read(info), mode)
    return writer.finish()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def pack(path: str, excludes: list[str], *, as_module: bool) -> bytes:
    """A working_dir (as_module=False: its contents) or a py_modules entry (the folder or file itself)."""
    path = os.path.abspath(os.path.expanduser(path))
    what = "py_modules entry" if as_module else "working_dir"
    if os.path.isdir(path):
        return pack_directory(path, excludes, prefix=os.path.basename(path.rstrip(os.sep)) if as_module else "")
    if os.path.isfile(path) and path.endswith(".zip"):
        return repack_zip(path, strip_single_top=not as_module)
    if as_module and os.path.isfile(path) and path.endswith(".py"):
        return pack_file(path)
    if os.path.exists(path):
        kinds = "a directory, a .py file or a .zip file" if as_module else "a directory or a .zip file"
        raise spec.RuntimeEnvError(f"runtime_env {what} {path!r} must be {kinds}")
    raise spec.RuntimeEnvError(f"runtime_env {what} {path!r} does not exist")


# ---- on a node ------------------------------------------------------------------------


def cache_root(runtime_dir: str) -> str:
    return os.path.join(runtime_dir, "runtime_resources", "packages")


def ensure_unpacked(root: str, uri: str, fetch: Callable[[], bytes]) -> str:
    """The folder the package `uri` is unpacked in under root, fetching and unpacking it if it is not yet.

    Executors of one node may ask at once: one fetches under a lock, the
    others find the folder when they get the lock. A folder appears only
    complete (unpacked beside it, then renamed).
    """
    target = os.path.join(root, spec.package_name(uri))
    if os.path.isdir(target):
        return target
    os.makedirs(root, exist_ok=True)
    with open(target + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(target):
            return target
        data = fetch()
        if digest(data) != spec.package_name(uri)[len(spec.PACKAGE_PREFIX) :]:
            raise ValueError(f"the package fetched for {uri} does not match its hash")
        partial = f"{target}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in z.infolist():
                name = os.path.normpath(info.filename)
                if name.startswith("..") or os.path.isabs(name):
                    raise ValueError(f"the package {uri} holds a path outside itself: {info.filename!r}")
                z.extract(info, partial)
                mode = (info.external_attr >> 16) & 0o777
                if mode and not info.is_dir():
                    os.chmod(os.path.join(partial, name), mode)
        os.rename(partial, target)
    return target
