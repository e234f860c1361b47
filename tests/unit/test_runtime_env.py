"""Runtime environments without a cluster: checking, merging, keys, excludes, packing, unpacking."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from raylite.client import runtime_env as client_env
from raylite.rpc import common_pb2
from raylite.runtime_env import RuntimeEnv, ignore, packaging
from raylite.runtime_env import spec as env_spec

# ---- checking ------------------------------------------------------------------------------


@pytest.mark.parametrize("env_vars", [{"A": 1}, "A=1", {1: "a"}])
def test_env_vars_must_be_strings(env_vars: object) -> None:
    with pytest.raises(TypeError, match="env_vars"):
        env_spec.validate({"env_vars": env_vars}, job_level=False)


@pytest.mark.parametrize("field", ["conda", "container", "uv", "image_uri"])
def test_unsupported_fields_are_refused_by_name(field: str) -> None:
    with pytest.raises(env_spec.RuntimeEnvError, match=repr(field)):
        env_spec.validate({field: "x"}, job_level=True)


def test_unknown_fields_are_kept_as_ray_keeps_a_plugins() -> None:
    assert env_spec.validate({"no_such_field": 1}, job_level=False) == {"no_such_field": 1}


def test_local_paths_are_only_for_the_job_level(tmp_path: Path) -> None:
    assert env_spec.validate({"working_dir": str(tmp_path)}, job_level=True) == {"working_dir": str(tmp_path)}
    with pytest.raises(env_spec.RuntimeEnvError, match="job level"):
        env_spec.validate({"working_dir": str(tmp_path)}, job_level=False)
    with pytest.raises(env_spec.RuntimeEnvError, match="job level"):
        env_spec.validate({"py_modules": [str(tmp_path)]}, job_level=False)
    uri = env_spec.package_uri("0123456789abcdef")
    assert env_spec.validate({"working_dir": uri, "py_modules": [uri]}, job_level=False)["working_dir"] == uri


def test_pip_is_normalized_as_ray_shows_it(tmp_path: Path) -> None:
    want = {"packages": ["six", "idna>=3"], "pip_check": False}
    assert env_spec.normalize_pip(["six", "idna>=3"]) == want
    assert env_spec.normalize_pip({"packages": ["six", "idna>=3"]}) == want
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pinned\nsix\n\nidna>=3\n")
    assert env_spec.normalize_pip(str(requirements)) == want
    with pytest.raises(TypeError, match="packages"):
        env_spec.normalize_pip({"packages": [""]})


def test_runtime_env_class_is_a_checked_dict() -> None:
    env = RuntimeEnv(env_vars={"A": "1"})
    assert env == {"env_vars": {"A": "1"}} and env["env_vars"] == {"A": "1"}
    with pytest.raises(TypeError):
        RuntimeEnv(env_vars={"A": 1})  # type: ignore[dict-item]


# ---- merging and keys ------------------------------------------------------------------------


def test_a_child_replaces_fields_and_merges_env_vars() -> None:
    parent = {"env_vars": {"A": "job", "B": "job"}, "working_dir": "gcs://_ray_pkg_1.zip", "pip": {"packages": ["x"]}}
    child = {"env_vars": {"B": "task", "C": "task"}, "pip": {"packages": ["y"]}}
    assert env_spec.merge(parent, child) == {
        "env_vars": {"A": "job", "B": "task", "C": "task"},
        "working_dir": "gcs://_ray_pkg_1.zip",
        "pip": {"packages": ["y"]},
    }
    assert env_spec.merge(parent, {}) == parent


def test_equal_environments_have_equal_keys_and_empty_ones_none() -> None:
    a = env_spec.canonical({"env_vars": {"X": "1", "Y": "2"}, "config": {"k": 1}})
    b = env_spec.canonical({"config": {"k": 1}, "env_vars": {"Y": "2", "X": "1"}})
    assert a == b and a
    assert env_spec.canonical({}) == env_spec.canonical({"env_vars": {}, "py_modules": []}) == ""
    assert env_spec.canonical({"env_vars": {"X": "1"}}) != env_spec.canonical({"env_vars": {"X": "2"}})


def _client(env: dict[str, object], packages: dict[str, bytes]) -> SimpleNamespace:
    client = SimpleNamespace(is_driver=True)
    client_env.set_base(client, env, packages)  # type: ignore[arg-type]
    return client


def test_a_task_spec_carries_the_merged_env_and_borrows_its_packages() -> None:
    uri = env_spec.package_uri("00000000000000aa")
    oid = b"p" * 20
    client = _client({"working_dir": uri, "env_vars": {"A": "1"}}, {uri: oid})
    spec = common_pb2.TaskSpec()
    client_env.apply(client, spec, {"env_vars": {"B": "2"}})  # type: ignore[arg-type]
    assert spec.runtime_env == env_spec.canonical({"working_dir": uri, "env_vars": {"A": "1", "B": "2"}})
    assert dict(spec.runtime_env_packages) == {uri: oid} and list(spec.borrowed) == [oid]
    plain = common_pb2.TaskSpec()
    client_env.apply(_client({}, {}), plain, None)  # type: ignore[arg-type]
    assert plain.runtime_env == "" and not plain.borrowed


def test_a_uri_the_job_did_not_upload_is_refused() -> None:
    spec = common_pb2.TaskSpec()
    with pytest.raises(env_spec.RuntimeEnvError, match="not uploaded"):
        client_env.apply(_client({}, {}), spec, {"working_dir": env_spec.package_uri("ffffffffffffffff")})  # type: ignore[arg-type]


# ---- excludes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "path", "is_dir", "excluded"),
    [
        (["*.log"], "a/b/x.log", False, True),
        (["*.log"], "a/b/x.txt", False, False),
        (["/build"], "build", True, True),
        (["/build"], "src/build", True, False),
        (["build/"], "src/build", True, True),
        (["build/"], "src/build", False, False),
        (["data/*.csv"], "data/x.csv", False, True),
        (["data/*.csv"], "data/sub/x.csv", False, False),
        (["**/cache"], "a/b/cache", True, True),
        (["a/**/z"], "a/b/c/z", False, True),
        (["*.log", "!keep.log"], "keep.log", False, False),
        (["x?.py"], "x1.py", False, True),
        (["[ab].py"], "c.py", False, False),
    ],
)
def test_gitignore_patterns(patterns: list[str], path: str, is_dir: bool, excluded: bool) -> None:
    assert ignore.excluded(ignore.parse(patterns), path, is_dir) is excluded


# ---- packing ---------------------------------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _names(data: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(data)).namelist()


def test_a_package_depends_only_on_its_files(tmp_path: Path) -> None:
    root = _tree(tmp_path / "wd", {"m.py": "X = 1\n", "pkg/__init__.py": ""})
    first = packaging.pack(str(root), [], as_module=False)
    os.utime(root / "m.py", (1, 1))  # another mtime: the same package
    assert packaging.pack(str(root), [], as_module=False) == first
    (root / "m.py").write_text("X = 2\n")
    assert packaging.digest(packaging.pack(str(root), [], as_module=False)) != packaging.digest(first)
    assert _names(first) == ["m.py", "pkg/__init__.py"]


def test_excludes_and_ignore_files_leave_files_out(tmp_path: Path) -> None:
    root = _tree(
        tmp_path / "wd",
        {
            "keep.py": "",
            "big.bin": "x",
            "logs/a.log": "",
            "sub/.gitignore": "*.tmp\n",
            "sub/x.tmp": "",
            "sub/y.py": "",
            ".rayignore": "secret.txt\n",
            "secret.txt": "",
        },
    )
    names = _names(packaging.pack(str(root), ["*.bin", "logs/"], as_module=False))
    assert names == [".rayignore", "keep.py", "sub/.gitignore", "sub/y.py"]


def test_a_py_module_keeps_its_folder_name(tmp_path: Path) -> None:
    pkg = _tree(tmp_path / "mypkg", {"__init__.py": "V = 1\n"})
    assert _names(packaging.pack(str(pkg), [], as_module=True)) == ["mypkg/__init__.py"]
    single = _tree(tmp_path, {"solo.py": "V = 2\n"}) / "solo.py"
    assert _names(packaging.pack(str(single), [], as_module=True)) == ["solo.py"]


def test_a_working_dir_zip_with_one_top_folder_is_that_folder(tmp_path: Path) -> None:
    path = tmp_path / "wd.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project/a.py", "A = 1\n")
        z.writestr("project/data/b.txt", "b")
    assert _names(packaging.pack(str(path), [], as_module=False)) == ["a.py", "data/b.txt"]


def test_a_package_over_the_limit_is_refused_with_advice(tmp_path: Path) -> None:
    root = _tree(tmp_path / "wd", {"a.bin": "x"})
    (root / "a.bin").write_bytes(os.urandom(4096))
    with pytest.raises(packaging.PackageTooLarge, match="excludes"):
        packaging.pack_directory(str(root), [], limit=1024)


def test_missing_paths_are_named(tmp_path: Path) -> None:
    with pytest.raises(env_spec.RuntimeEnvError, match="does not exist"):
        packaging.pack(str(tmp_path / "nope"), [], as_module=False)


def test_a_job_env_is_packed_into_uris(tmp_path: Path) -> None:
    wd = _tree(tmp_path / "wd", {"a.py": "", "skip.log": ""})
    mod = _tree(tmp_path / "mod", {"__init__.py": ""})
    packed = client_env.pack_job_env({"working_dir": str(wd), "py_modules": [str(mod)], "excludes": ["*.log"]})
    assert "excludes" not in packed.env
    uris = [packed.env["working_dir"], *packed.env["py_modules"]]
    assert all(env_spec.is_package_uri(u) for u in uris) and set(packed.packages) == set(uris)
    assert _names(packed.packages[packed.env["working_dir"]]) == ["a.py"]


# ---- unpacking on a node -----------------------------------------------------------------------


def test_a_package_is_fetched_once_and_checked_against_its_hash(tmp_path: Path) -> None:
    data = packaging.pack(str(_tree(tmp_path / "wd", {"h.py": "Y = 3\n"})), [], as_module=False)
    uri = env_spec.package_uri(packaging.digest(data))
    fetched: list[int] = []

    def fetch() -> bytes:
        fetched.append(1)
        return data

    cache = tmp_path / "cache"
    folder = packaging.ensure_unpacked(str(cache), uri, fetch)
    assert (Path(folder) / "h.py").read_text() == "Y = 3\n"
    assert packaging.ensure_unpacked(str(cache), uri, fetch) == folder and len(fetched) == 1
    other = env_spec.package_uri("0" * 16)
    with pytest.raises(ValueError, match="does not match"):
        packaging.ensure_unpacked(str(cache), other, lambda: data)
    assert not (cache / env_spec.package_name(other)).exists()


# ---- an actor whose environment failed ---------------------------------------------------------


def test_an_actors_calls_fail_with_the_set_up_error_when_its_environment_failed() -> None:
    from raylite import error_transport, exceptions
    from raylite.failures import RUNTIME_ENV_ACTOR_FAILED, Failure, actor_death_failure

    default = Failure("ActorDiedError", "dead")
    why = f"its constructor raised RuntimeEnvSetupError: {RUNTIME_ENV_ACTOR_FAILED}\n[Node 1.2.3.4] pip failed"
    failure = actor_death_failure(why, default)
    assert failure.kind == "RuntimeEnvSetupError" and failure.message.endswith("pip failed")
    err = error_transport.system_error(failure.kind, failure.message)
    assert isinstance(err, exceptions.RuntimeEnvSetupError) and "pip failed" in str(err)
    assert actor_death_failure("its constructor raised ValueError: x", default) is default


def test_py_modules_may_name_imported_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    _tree(tmp_path, {"rl_mod_pkg/__init__.py": "A = 1\n", "rl_mod_single.py": "B = 2\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    pkg, single = importlib.import_module("rl_mod_pkg"), importlib.import_module("rl_mod_single")
    packed = client_env.pack_job_env({"py_modules": [pkg, single]})
    names = [_names(packed.packages[uri]) for uri in packed.env["py_modules"]]
    assert names == [["rl_mod_pkg/__init__.py"], ["rl_mod_single.py"]]


def test_a_folder_linked_into_itself_does_not_loop(tmp_path: Path) -> None:
    root = _tree(tmp_path / "wd", {"a.py": "", "real.txt": "r"})
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "alias.txt").symlink_to(root / "real.txt")
    assert _names(packaging.pack(str(root), [], as_module=False)) == ["a.py", "alias.txt", "real.txt"]


def test_gitignore_files_can_be_ignored_as_in_ray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "wd", {".gitignore": "*.tmp\n", ".rayignore": "*.bak\n", "a.tmp": "", "b.bak": ""})
    assert _names(packaging.pack(str(root), [], as_module=False)) == [".gitignore", ".rayignore"]
    monkeypatch.setenv("RAY_RUNTIME_ENV_IGNORE_GITIGNORE", "1")
    assert _names(packaging.pack(str(root), [], as_module=False)) == [".gitignore", ".rayignore", "a.tmp"]


@pytest.mark.parametrize("env_vars", [{"": "1"}, {"A=B": "1"}, {"A": "a\0b"}])
def test_env_vars_a_process_environment_cannot_hold_are_refused(env_vars: dict[str, str]) -> None:
    with pytest.raises(env_spec.RuntimeEnvError, match="env_vars"):
        env_spec.validate({"env_vars": env_vars}, job_level=False)


def test_the_set_up_timeout_comes_from_config_and_minus_one_is_none() -> None:
    from raylite.worker import runtime_env as node_env

    assert node_env.setup_timeout({}) == node_env.SETUP_TIMEOUT_S
    assert node_env.setup_timeout({"config": {"setup_timeout_seconds": 30}}) == 30
    assert node_env.setup_timeout({"config": {"setup_timeout_seconds": -1}}) is None


def test_a_job_cannot_name_a_package_by_uri_it_did_not_upload() -> None:
    with pytest.raises(env_spec.RuntimeEnvError, match="not uploaded by this job"):
        client_env.pack_job_env({"working_dir": env_spec.package_uri("0123456789abcdef")})
