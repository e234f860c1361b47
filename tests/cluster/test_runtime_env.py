"""Runtime environments on a real local cluster: env_vars, working_dir, py_modules, pip, the driver's folders.

Each test runs a driver program in its own process (a job-level runtime_env
is given to init()), with its own RAYLITE_TMPDIR so that node caches
(unpacked packages, pip virtualenvs) start empty.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

CLEAN_ENV = {"RAY_ADDRESS": "", "RAYLITE_ADDRESS": ""}
ROOT = Path(__file__).resolve().parents[2]


def run_driver(
    tmp_path: Path, code: str, cwd: Path | None = None, script: Path | None = None, timeout: float = 300
) -> list[str]:
    """Runs code as a driver script (in `script`, from `cwd`); returns its stdout lines."""
    script = script or tmp_path / "driver.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(code)
    env = {
        **os.environ,
        **CLEAN_ENV,
        "RAYLITE_TMPDIR": str(tmp_path / "rt"),
        "PYTHONPATH": str(ROOT),  # this checkout's raylite, in the driver and every process it starts
    }
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd or tmp_path,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-4000:]}"
    return done.stdout.splitlines()


ENV_VARS = """
import json, os
import raylite as ray

ray.init(num_cpus=2, runtime_env={"env_vars": {"JOB": "job", "SHARED": "job"}})

@ray.remote
def read():
    return os.getpid(), os.environ.get("JOB"), os.environ.get("SHARED")

@ray.remote
def parent():
    return os.environ.get("SHARED"), ray.get(read.remote())[2]

@ray.remote
class Reader:
    def read(self):
        return os.environ.get("JOB"), os.environ.get("SHARED"), ray.get_runtime_context().runtime_env

seen = {}
for i in range(12):
    shared = f"task-{i % 3}"
    env = {"env_vars": {"SHARED": shared}} if i % 4 else None
    pid, job, got = ray.get(read.options(runtime_env=env).remote())
    assert job == "job", job
    assert got == (shared if env else "job"), (got, env)
    seen.setdefault(pid, set()).add(got)
print("shared", json.dumps(sorted(len(v) for v in seen.values())))
print("nested", json.dumps(ray.get(parent.options(runtime_env={"env_vars": {"SHARED": "p"}}).remote())))
a = Reader.options(runtime_env={"env_vars": {"SHARED": "actor"}}).remote()
print("actor", json.dumps(ray.get(a.read.remote())))
print("driver", json.dumps(ray.get_runtime_context().runtime_env))
print("os", os.environ.get("JOB"))
"""


def test_env_vars_merge_reach_tasks_and_actors_and_never_share_executors(tmp_path: Path) -> None:
    out = dict(line.split(" ", 1) for line in run_driver(tmp_path, ENV_VARS))
    # no executor ever ran tasks of two environments
    assert set(json.loads(out["shared"])) == {1}
    assert json.loads(out["nested"]) == ["p", "p"]  # a nested task inherits its parent's env
    job, shared, env = json.loads(out["actor"])
    assert (job, shared) == ("job", "actor") and env == {"env_vars": {"JOB": "job", "SHARED": "actor"}}
    assert json.loads(out["driver"]) == {"env_vars": {"JOB": "job", "SHARED": "job"}}
    assert out["os"] == "None"  # the driver's own environment is untouched


WORKING_DIR = """
import os, shutil, sys
import raylite as ray

wd = sys.argv[0].replace("driver.py", "project")
ray.init(num_cpus=1, runtime_env={"working_dir": wd, "excludes": ["*.log", "big/"]})
uri = ray.get_runtime_context().runtime_env["working_dir"]
print("uri", uri.startswith("gcs://_ray_pkg_") and uri.endswith(".zip"))
shutil.rmtree(wd)  # from here on only the uploaded package has the module

@ray.remote
def use():
    import helper
    with open("data.txt") as f:
        data = f.read().strip()
    return helper.shout("hi"), data, os.path.exists("noise.log"), os.path.exists("big"), \\
        ray.get_runtime_context().runtime_env["working_dir"], os.getcwd() == sys.path[0]

print("task", *ray.get(use.remote()))
print("again", ray.get(use.options(runtime_env={"env_vars": {"X": "1"}}).remote())[0])

@ray.remote
def outer():
    return ray.get(use.remote())[0]

print("nested", ray.get(outer.remote()))
"""


def test_working_dir_is_shipped_imported_and_the_current_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "big").mkdir(parents=True)
    (project / "helper.py").write_text("def shout(s):\n    return s.upper() + '!'\n")
    (project / "data.txt").write_text("file contents\n")
    (project / "noise.log").write_text("left out\n")
    (project / "big" / "blob.bin").write_bytes(b"x" * 1000)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = run_driver(tmp_path, WORKING_DIR, cwd=elsewhere)
    assert out[0] == "uri True"
    task = out[1].split(" ")
    assert task[1:4] == ["HI!", "file", "contents"] and task[4:6] == ["False", "False"]
    assert task[6].startswith("gcs://_ray_pkg_") and task[7] == "True"
    assert out[2] == "again HI!"
    assert out[3] == "nested HI!"  # a nested task inherits its parent's working_dir


PY_MODULES = """
import sys
import raylite as ray

base = sys.argv[0].replace("driver.py", "mods")
ray.init(num_cpus=1, runtime_env={"py_modules": [base + "/mypkg", base + "/solo.py"]})

@ray.remote
def use():
    import mypkg, solo
    return mypkg.VALUE, solo.double(21)

print(*ray.get(use.remote()))
"""


def test_py_modules_packages_and_single_files_import(tmp_path: Path) -> None:
    (tmp_path / "mods" / "mypkg").mkdir(parents=True)
    (tmp_path / "mods" / "mypkg" / "__init__.py").write_text("VALUE = 'from py_modules'\n")
    (tmp_path / "mods" / "solo.py").write_text("def double(x):\n    return 2 * x\n")
    # run from elsewhere, so that mods/ is on no path of the executors
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert run_driver(tmp_path, PY_MODULES, cwd=elsewhere) == ["from py_modules 42"]


SIBLING = """
import raylite as ray
import sibling_module

ray.init(num_cpus=1)

@ray.remote
def use():
    return sibling_module.greet()

@ray.remote
def use_inside():
    import sibling_module as m
    return m.greet()

print(ray.get(use.remote()), ray.get(use_inside.remote()))
"""


def test_a_module_beside_the_drivers_script_imports_in_tasks(tmp_path: Path) -> None:
    """As on Ray without a runtime_env: the script's folder (and the current one) are on the tasks' sys.path."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "sibling_module.py").write_text("def greet():\n    return 'sibling'\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = run_driver(tmp_path, SIBLING, cwd=elsewhere, script=scripts / "driver.py")
    assert out == ["sibling sibling"]


def make_wheel(folder: Path, name: str, version: str, source: str) -> Path:
    """A pure-Python wheel, written by hand so that no build tool or network is needed."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": source,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: raylite-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return wheel


PIP = """
import sys
import raylite as ray

ray.init(num_cpus=1)
wheel = sys.argv[0].replace("driver.py", "{wheel}")

@ray.remote
def use():
    import rlwheeldemo
    return rlwheeldemo.WHO, sys.prefix != sys.base_prefix

@ray.remote
def plain():
    try:
        import rlwheeldemo  # noqa: F401
        return "importable"
    except ImportError:
        return "absent"

@ray.remote
class A:
    def f(self):
        return 1

env = {{"pip": {{"packages": [wheel], "pip_install_options": ["--no-index"]}}}}
print("pip", *ray.get(use.options(runtime_env=env).remote(), timeout=240))
print("default", ray.get(plain.remote()))
print("shown", ray.get(use.options(runtime_env=env).remote())[0])
bad = {{"pip": {{"packages": ["rl-no-such-package-zzz"], "pip_install_options": ["--no-index"]}}}}
try:
    ray.get(use.options(runtime_env=bad).remote(), timeout=240)
except ray.exceptions.RuntimeEnvSetupError as e:
    print("task", "rl-no-such-package-zzz" in str(e))
try:
    ray.get(A.options(runtime_env=bad).remote().f.remote(), timeout=240)
except ray.exceptions.RuntimeEnvSetupError as e:
    print("actor", "rl-no-such-package-zzz" in str(e), "Could not create the actor" in str(e))
"""


def test_pip_installs_into_a_virtualenv_of_its_own_and_a_bad_package_fails(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "rlwheeldemo", "0.1", "WHO = 'from a wheel'\n")
    out = run_driver(tmp_path, PIP.format(wheel=wheel.name), timeout=600)
    assert out == ["pip from a wheel True", "default absent", "shown from a wheel", "task True", "actor True True"]


UNSUPPORTED = """
import raylite as ray

@ray.remote
def f():
    return 1

for env in ({"conda": "myenv"}, {"env_vars": {"A": 1}}, {"working_dir": "/tmp"}):
    try:
        f.options(runtime_env=env)
        print("accepted")
    except (TypeError, ValueError) as e:
        print(type(e).__name__, next(iter(env)) in str(e))
try:
    ray.init(runtime_env={"working_dir": "/no/such/folder"})
except ValueError as e:
    print("init", "/no/such/folder" in str(e), ray.is_initialized())
"""


def test_bad_and_unsupported_envs_are_refused_where_they_are_written(tmp_path: Path) -> None:
    out = run_driver(tmp_path, UNSUPPORTED, timeout=120)
    assert out == ["RuntimeEnvError True", "TypeError True", "RuntimeEnvError True", "init True False"]
