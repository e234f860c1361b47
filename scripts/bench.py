#!/usr/bin/env python3
"""Run the same Ray Core workloads on Ray or raylite and compare them.

    python scripts/bench.py --backend raylite            # this interpreter
    /path/to/rayvenv/bin/python scripts/bench.py --backend ray
    python scripts/bench.py --compare --ray-python /path/to/rayvenv/bin/python [--repeat 3]
    python scripts/bench.py --compare --ray-python RAYPY --rounds 3 --baseline-tree /work/wt-before --markdown

The Ray interpreter is --ray-python, else $RAYLITE_BENCH_RAY_PYTHON (a virtualenv
with `pip install ray==2.60.0 numpy psutil`).

A single-backend run prints a table, then one line ``BENCH_RESULT_JSON {...}``.
``--compare`` runs each side in a fresh subprocess (own process group,
RAY_ADDRESS removed so Ray starts a local cluster) and parses that line. The
sides are raylite (the tree of --tree, default this checkout, put first on
PYTHONPATH), with --baseline-tree a second raylite tree (the same workloads:
this script, another source tree), and Ray. ``--rounds N`` runs every side N
times, alternating the order (raylite ray, ray raylite, ...), and reports per
workload the median of the rounds, every round's value and the ratios of the
medians; ``--markdown`` adds the table for docs/performance.md with the
command, the date, the machine and its load (scripts/bench_table.py).
Needs only the standard library and the backend; numpy and psutil are optional.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_table  # noqa: E402
from bench_table import Metric, Value  # noqa: E402  (a sibling script, found through sys.path above)

RESULT_PREFIX = "BENCH_RESULT_JSON "
REPO_ROOT = Path(__file__).resolve().parent.parent


METRICS: dict[str, Metric] = {
    "init_s": Metric("init time", "s", "lower"),
    "idle_rss_mib": Metric("idle RSS, runtime child procs", "MiB", "lower"),
    "idle_uss_mib": Metric("idle USS, runtime child procs", "MiB", "lower"),
    "idle_procs": Metric("runtime child processes", "count", "lower"),
    "driver_rss_mib": Metric("driver RSS after warm-up", "MiB", "lower"),
    "tasks_batch": Metric("tasks submit-then-gather", "tasks/s", "higher"),
    "tasks_sync": Metric("tasks one-at-a-time", "tasks/s", "higher"),
    "tasks_chain": Metric("chain of dependent tasks", "tasks/s", "higher"),
    "tasks_nested": Metric("tasks submitted from inside tasks", "tasks/s", "higher"),
    "actor_sync": Metric("actor calls sync", "calls/s", "higher"),
    "actor_async": Metric("actor calls pipelined (submit-then-gather)", "calls/s", "higher"),
    "actor_create": Metric("actor creation (until ready)", "actors/s", "higher"),
    "put_small": Metric("put 1 KiB bytes", "puts/s", "higher"),
    "get_small": Metric("get 1 KiB bytes", "gets/s", "higher"),
    "put_large": Metric("put 100 MiB ndarray", "GB/s", "higher"),
    "get_large": Metric("get 100 MiB ndarray", "GB/s", "higher"),
    "get_large_zero_copy": Metric("get ndarray is shm view", "bool", "yes"),
}


# --- task / actor bodies (wrapped with ray.remote at runtime) --------------
def _echo(x: Any) -> Any:
    return x


def _inc(x: int) -> int:
    return x + 1


def _source(module: str) -> str:
    """The source tree the backend was imported from, in the process that runs this."""
    return str(Path(importlib.import_module(module).__file__ or "?").resolve().parent.parent)


def _fan_out(module: str, n: int) -> int:
    """A task that submits n children and gathers them (the backend is imported by name inside the task)."""
    ray = importlib.import_module(module)
    child = ray.remote(_echo)
    return sum(ray.get([child.remote(i) for i in range(n)]))


class _Counter:
    n = 0

    def m(self) -> int:
        self.n += 1
        return self.n


@dataclass
class Ctx:
    ray: ModuleType
    notes: list[str] = field(default_factory=list)
    _actor: Any = None

    def __post_init__(self) -> None:
        self.echo = self.ray.remote(_echo)
        self.inc = self.ray.remote(_inc)
        self.counter_cls = self.ray.remote(_Counter)
        self.fan_out = self.ray.remote(_fan_out)

    def actor(self) -> Any:
        """One Counter actor shared by the actor workloads (started lazily)."""
        if self._actor is None:
            self._actor = self.counter_cls.remote()
        return self._actor


def check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(f"wrong result: {what}")


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


# --- workloads: each returns {metric_name: value}, registered in run order ---
WorkloadFn = Callable[[Ctx], dict[str, Value]]
WORKLOADS: dict[str, tuple[WorkloadFn, bool]] = {}  # name -> (fn, run only once)


def workload(once: bool = False) -> Callable[[WorkloadFn], WorkloadFn]:
    def register(fn: WorkloadFn) -> WorkloadFn:
        WORKLOADS[fn.__name__.removeprefix("wl_")] = (fn, once)
        return fn

    return register


@workload(once=True)
def wl_warmup(c: Ctx) -> dict[str, Value]:
    out = c.ray.get([c.echo.remote(i) for i in range(2000)])
    check(out == list(range(2000)), "warm-up batch")
    return {}


@workload(once=True)
def wl_idle_memory(c: Ctx) -> dict[str, Value]:
    try:
        import psutil
    except ImportError:
        c.notes.append("psutil missing: idle memory skipped")
        return {}
    time.sleep(1.0)  # let pre-started workers settle
    procs = psutil.Process(os.getpid()).children(recursive=True)
    rss = uss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
            rss, uss = rss + info.rss, uss + info.uss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    driver = psutil.Process(os.getpid()).memory_info().rss
    return {
        "idle_rss_mib": rss / 2**20,
        "idle_uss_mib": uss / 2**20,
        "idle_procs": float(len(procs)),
        "driver_rss_mib": driver / 2**20,
    }


@workload()
def wl_tasks_batch(c: Ctx, n: int = 2000) -> dict[str, Value]:
    c.ray.get([c.echo.remote(i) for i in range(200)])
    out, dt = timed(lambda: c.ray.get([c.echo.remote(i) for i in range(n)]))
    check(out == list(range(n)), "gathered task results")
    return {"tasks_batch": n / dt}


@workload()
def wl_tasks_sync(c: Ctx, n: int = 300) -> dict[str, Value]:
    for i in range(20):
        c.ray.get(c.echo.remote(i))
    out, dt = timed(lambda: [c.ray.get(c.echo.remote(i)) for i in range(n)])
    check(out == list(range(n)), "one-at-a-time task results")
    return {"tasks_sync": n / dt}


@workload()
def wl_tasks_chain(c: Ctx, n: int = 200) -> dict[str, Value]:
    def chain(k: int) -> int:
        x = c.inc.remote(0)
        for _ in range(k - 1):
            x = c.inc.remote(x)
        return c.ray.get(x)

    check(chain(20) == 20, "warm-up chain")
    out, dt = timed(lambda: chain(n))
    check(out == n, f"chain end value {out!r} != {n}")
    return {"tasks_chain": n / dt}


@workload()
def wl_tasks_nested(c: Ctx, parents: int = 2, children: int = 250) -> dict[str, Value]:
    """Tasks submitted from inside tasks: `parents` tasks each submit `children` and gather them."""
    module = c.ray.__name__
    check(c.ray.get(c.fan_out.remote(module, 20)) == sum(range(20)), "warm-up nested")
    out, dt = timed(lambda: c.ray.get([c.fan_out.remote(module, children) for _ in range(parents)]))
    check(out == [sum(range(children))] * parents, "nested task sums")
    return {"tasks_nested": parents * children / dt}


@workload()
def wl_actor_sync(c: Ctx, n: int = 500) -> dict[str, Value]:
    a = c.actor()
    base = [c.ray.get(a.m.remote()) for _ in range(20)][-1]
    out, dt = timed(lambda: [c.ray.get(a.m.remote()) for _ in range(n)])
    check(out == list(range(base + 1, base + n + 1)), "sync actor call order")
    return {"actor_sync": n / dt}


@workload()
def wl_actor_async(c: Ctx, n: int = 2000) -> dict[str, Value]:
    a = c.actor()
    base = c.ray.get([a.m.remote() for _ in range(100)])[-1]
    out, dt = timed(lambda: c.ray.get([a.m.remote() for _ in range(n)]))
    check(out == list(range(base + 1, base + n + 1)), "async actor call order")
    return {"actor_async": n / dt}


@workload()
def wl_actor_create(c: Ctx, n: int = 8) -> dict[str, Value]:
    """Actors created at once, until every one answered `__ray_ready__`; then killed (not timed)."""

    def create() -> list[Any]:
        actors = [c.counter_cls.remote() for _ in range(n)]
        check(c.ray.get([a.__ray_ready__.remote() for a in actors]) == [True] * n, "actors ready")
        return actors

    actors, dt = timed(create)
    for a in actors:
        c.ray.kill(a)
    return {"actor_create": n / dt}


# A timed loop of small operations shorter than this swings with any thread wake-up on a shared
# machine (one loop of 2,000 puts took 7-20 ms and its rounds spanned +-50 %): docs/performance.md.
MIN_TIMED_S = 0.2


def rate(batch: Callable[[int], int], min_s: float = MIN_TIMED_S) -> float:
    """Operations per second of `batch(i)` (i = 0, 1, ...; it returns how many it did), called until min_s passed."""
    done, i, t0 = 0, 0, time.perf_counter()
    while True:
        done += batch(i)
        i += 1
        dt = time.perf_counter() - t0
        if dt >= min_s:
            return done / dt


@workload()
def wl_small_objects(c: Ctx, n: int = 2000) -> dict[str, Value]:
    """Batches of n puts of new objects, then batches of n gets over them (again from the first once all
    were read), each until MIN_TIMED_S passed; every object put is kept until the end, as before."""
    payloads = [i.to_bytes(4, "little") + bytes(1020) for i in range(n)]
    warm = [c.ray.put(p) for p in payloads[:100]]
    check([c.ray.get(r) for r in warm] == payloads[:100], "warm-up put/get")
    batches: list[list[Any]] = []

    def put_batch(_: int) -> int:
        batches.append([c.ray.put(p) for p in payloads])
        return n

    def get_batch(i: int) -> int:
        out = [c.ray.get(r) for r in batches[i % len(batches)]]
        if i < len(batches):
            got.append(out == payloads)  # (a compare of 2,000 short bytes: about 1 % of the batch)
        return n

    got: list[bool] = []
    put_rate = rate(put_batch)
    get_rate = rate(get_batch)
    check(bool(got) and all(got), "1 KiB objects round trip")
    return {"put_small": put_rate, "get_small": get_rate}


def _in_shared_mapping(addr: int) -> bool | None:
    """True if addr lies in a MAP_SHARED mapping of this process (Linux only)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                span, perms = line.split()[:2]
                lo, hi = (int(x, 16) for x in span.split("-"))
                if lo <= addr < hi:
                    return perms[3] == "s"
    except OSError:
        return None
    return False


@workload()
def wl_large_array(c: Ctx) -> dict[str, Value]:
    try:
        import numpy as np
    except ImportError:
        c.notes.append("numpy missing: 100 MiB ndarray workload skipped")
        return {}
    arr = np.arange(100 * 2**20 // 8, dtype=np.int64)
    check(bool((c.ray.get(c.ray.put(arr[: 2**17])) == arr[: 2**17]).all()), "warm-up")
    ref, dt_put = timed(lambda: c.ray.put(arr))
    out, dt_get = timed(lambda: c.ray.get(ref))
    check(out.shape == arr.shape and out.dtype == arr.dtype, "ndarray shape/dtype")
    check(bool(np.array_equal(out, arr)), "ndarray contents")
    shared = _in_shared_mapping(out.__array_interface__["data"][0])
    if shared is None:  # no /proc: fall back to the flags heuristic
        shared = not out.flags.writeable
    zero_copy = bool(shared and not out.flags.owndata)
    gb = arr.nbytes / 1e9
    return {"put_large": gb / dt_put, "get_large": gb / dt_get, "get_large_zero_copy": zero_copy}


# --- single-backend runner ----------------------------------------------------
def import_backend(name: str) -> ModuleType:
    if name == "raylite" and importlib.util.find_spec("raylite") is None:
        sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "src")]
    return importlib.import_module("ray" if name == "ray" else "raylite")


def run_backend(backend: str, repeat: int, num_cpus: int, only: list[str] | None = None) -> dict[str, Any]:
    ray = import_backend(backend)
    metrics: dict[str, Value] = {}
    errors: dict[str, str] = {}
    t0 = time.perf_counter()
    ray.init(num_cpus=num_cpus)
    metrics["init_s"] = time.perf_counter() - t0
    ctx: Ctx | None = None
    try:
        task_source = ray.get(ray.remote(_source).remote(ray.__name__))
        ctx = Ctx(ray)
        for name, (fn, once) in WORKLOADS.items():
            if only and name not in only and name != "warmup":
                continue
            samples: dict[str, list[Value]] = {}
            try:
                for _ in range(1 if once else repeat):
                    for k, v in fn(ctx).items():
                        samples.setdefault(k, []).append(v)
            except Exception as e:  # a broken backend reports an error, not a number
                errors[name] = f"{type(e).__name__}: {e}"[:300]
                continue
            for k, vs in samples.items():
                is_bool = isinstance(vs[0], bool)
                metrics[k] = all(vs) if is_bool else statistics.median(vs)  # type: ignore
    finally:
        ray.shutdown()
    return {
        "backend": backend,
        "version": getattr(ray, "__version__", "?"),
        "source": str(Path(ray.__file__).resolve().parent.parent),
        "task_source": task_source,
        "python": sys.version.split()[0],
        "repeat": repeat,
        "num_cpus": num_cpus,
        "metrics": metrics,
        "errors": errors,
        "notes": ctx.notes if ctx else [],
    }


# --- subprocess driver for --compare -----------------------------------------
@dataclass(frozen=True)
class Side:
    name: str  # "raylite", "baseline" or "ray"
    python: str
    backend: str
    tree: Path | None = None  # the raylite source tree it imports


def run_child(side: Side, args: argparse.Namespace) -> dict[str, Any]:
    """One fresh driver of one side; its result line, or {"errors": ...} saying why there is none."""
    cmd = [side.python, str(Path(__file__).resolve()), "--backend", side.backend]
    cmd += ["--repeat", str(args.repeat), "--num-cpus", str(args.num_cpus)]
    if args.workloads:
        cmd += ["--workloads", args.workloads]
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    if side.tree is not None:  # ahead of the editable install of /work/main and of anything else
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(side.tree), env.get("PYTHONPATH")) if p)
    print(f"running {side.name} with {side.python} ...", file=sys.stderr, flush=True)
    # `python -m` puts the current directory first on sys.path, ahead of PYTHONPATH: the daemons
    # the driver starts that way import the raylite of their cwd. So a raylite side runs in its tree.
    cwd = str(side.tree) if side.tree is not None else None
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=cwd, start_new_session=True)
    try:
        stdout, _ = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # takes the backend's daemons too
        proc.communicate()
        return {"errors": {"run": f"timed out after {args.timeout}s"}}
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            res: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            for key in ("source", "task_source"):
                if side.tree is not None and Path(res.get(key, "")) != side.tree:
                    res.setdefault("errors", {})[key] = f"{key}: raylite from {res.get(key)}, not {side.tree}"
            return res
    sys.stderr.write(stdout[-2000:])
    return {"errors": {"run": f"exit code {proc.returncode}, no result line"}}


def describe_tree(tree: Path) -> str:
    """`/work/wt-x at 1a2b3c4 (+ uncommitted changes)`, or just the path when it is not a git checkout."""
    try:
        head = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        )
    except OSError:
        return str(tree)
    if head.returncode != 0:
        return str(tree)
    return f"{tree} at {head.stdout.strip()}" + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")


def print_extras(res: dict[str, Any], tag: str) -> None:
    lines = [f"note: {n}" for n in res.get("notes", [])]
    lines += [f"ERROR in {k}: {e}" for k, e in res.get("errors", {}).items()]
    print("".join(f"[{tag}] {line}\n" for line in lines), end="")


def compare(args: argparse.Namespace) -> None:
    """Rounds of fresh drivers, the sides alternating; per metric the median of the rounds and the ratios."""
    sides = [Side("raylite", sys.executable, "raylite", Path(args.tree).resolve())]
    if args.baseline_tree:
        sides.append(Side("baseline", sys.executable, "raylite", Path(args.baseline_tree).resolve()))
    if args.ray_python:
        sides.append(Side("ray", args.ray_python, "ray"))
    by_name = {s.name: s for s in sides}
    load_start, started = bench_table.load_average(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in sides}
    for i, order in enumerate(bench_table.round_orders([s.name for s in sides], args.rounds)):
        for name in order:
            res = run_child(by_name[name], args)
            results[name].append(res)
            print_extras(res, f"{name} round {i + 1}")
    load_end = bench_table.load_average()
    names = [s.name for s in sides]
    ratios = [
        (a, b)
        for a, b in (("raylite", "ray"), ("raylite", "baseline"), ("baseline", "ray"))
        if a in names and b in names
    ]
    metrics = {k: [r.get("metrics", {}) for r in rounds] for k, rounds in results.items()}
    rows = bench_table.summarize(METRICS, metrics)
    print(
        f"num_cpus={args.num_cpus}; each round a fresh driver per side, each value the median of {args.repeat} "
        f"repeats in it (init and idle memory: 1); {args.rounds} rounds, order alternating"
    )
    print(bench_table.text_table(rows, names, ratios))
    if args.markdown:
        what = {
            s.name: f"{results[s.name][0].get('version', '?')}"
            + (f", {describe_tree(s.tree)}" if s.tree else f", {s.python}")
            for s in sides
        }
        info = bench_table.RunInfo(
            " ".join(["python", *sys.argv]), started, bench_table.machine(), load_start, load_end, what
        )
        print()
        print(bench_table.markdown_table(rows, names, ratios, info, args.rounds))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["ray", "raylite"], default="raylite")
    ap.add_argument("--compare", action="store_true", help="run the sides in fresh drivers, print a table")
    ap.add_argument(
        "--ray-python",
        default=os.environ.get("RAYLITE_BENCH_RAY_PYTHON"),
        help="the interpreter of a virtualenv with Ray installed (default: $RAYLITE_BENCH_RAY_PYTHON)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per workload in one driver (median)")
    ap.add_argument("--rounds", type=int, default=1, help="--compare: fresh drivers per side, alternating (median)")
    ap.add_argument("--tree", default=str(REPO_ROOT), help="--compare: the raylite source tree (default: this one)")
    ap.add_argument("--baseline-tree", default="", help="--compare: a second raylite tree, run in the same rounds")
    ap.add_argument("--markdown", action="store_true", help="--compare: also print a table for docs/performance.md")
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=600, help="per driver, --compare")
    ap.add_argument(
        "--workloads", default="", help=f"comma-separated subset to run (of {', '.join(WORKLOADS)}); default all"
    )
    args = ap.parse_args()
    only = [w for w in args.workloads.split(",") if w]

    if not args.compare:
        res = run_backend(args.backend, args.repeat, args.num_cpus, only)
        print(
            f"{res['backend']} {res['version']} (python {res['python']}, "
            f"num_cpus={args.num_cpus}, median of {args.repeat}, from {res['source']})"
        )
        rows = bench_table.summarize(METRICS, {res["backend"]: [res["metrics"]]})
        print(bench_table.text_table(rows, [res["backend"]], []))
        print_extras(res, res["backend"])
        print(RESULT_PREFIX + json.dumps(res), flush=True)
        return
    if not args.ray_python and not args.baseline_tree:
        ap.error("--compare needs Ray's interpreter (--ray-python PATH or RAYLITE_BENCH_RAY_PYTHON) or --baseline-tree")
    compare(args)


if __name__ == "__main__":
    main()
