#!/usr/bin/env python3
"""Run the same Ray Core workloads on Ray or raylite and compare them.

    python scripts/bench.py --backend raylite            # this interpreter
    /path/to/rayvenv/bin/python scripts/bench.py --backend ray
    python scripts/bench.py --compare --ray-python /path/to/rayvenv/bin/python [--repeat 3]

The Ray interpreter is --ray-python, else $RAYLITE_BENCH_RAY_PYTHON (a virtualenv
with `pip install ray==2.60.0 numpy psutil`).

A single-backend run prints a table, then one line ``BENCH_RESULT_JSON {...}``.
``--compare`` runs each backend in a fresh subprocess (own process group,
RAY_ADDRESS removed so Ray starts a local cluster) and parses that line.
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

RESULT_PREFIX = "BENCH_RESULT_JSON "
REPO_ROOT = Path(__file__).resolve().parent.parent
Value = float | bool


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str
    better: str  # "higher", "lower" or "yes" (for booleans)


METRICS: dict[str, Metric] = {
    "init_s": Metric("init time", "s", "lower"),
    "idle_rss_mib": Metric("idle RSS, runtime child procs", "MiB", "lower"),
    "idle_uss_mib": Metric("idle USS, runtime child procs", "MiB", "lower"),
    "idle_procs": Metric("runtime child processes", "count", "lower"),
    "driver_rss_mib": Metric("driver RSS after warm-up", "MiB", "lower"),
    "tasks_batch": Metric("tasks submit-then-gather", "tasks/s", "higher"),
    "tasks_sync": Metric("tasks one-at-a-time", "tasks/s", "higher"),
    "tasks_chain": Metric("chain of dependent tasks", "tasks/s", "higher"),
    "actor_sync": Metric("actor calls sync", "calls/s", "higher"),
    "actor_async": Metric("actor calls async (batch)", "calls/s", "higher"),
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
def wl_small_objects(c: Ctx, n: int = 2000) -> dict[str, Value]:
    payloads = [i.to_bytes(4, "little") + bytes(1020) for i in range(n)]
    warm = [c.ray.put(p) for p in payloads[:100]]
    check([c.ray.get(r) for r in warm] == payloads[:100], "warm-up put/get")
    refs, dt_put = timed(lambda: [c.ray.put(p) for p in payloads])
    out, dt_get = timed(lambda: [c.ray.get(r) for r in refs])
    check(out == payloads, "1 KiB objects round trip")
    return {"put_small": n / dt_put, "get_small": n / dt_get}


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
        "python": sys.version.split()[0],
        "repeat": repeat,
        "num_cpus": num_cpus,
        "metrics": metrics,
        "errors": errors,
        "notes": ctx.notes if ctx else [],
    }


# --- subprocess driver for --compare -----------------------------------------
def run_child(python: str, backend: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--backend", backend]
    cmd += ["--repeat", str(args.repeat), "--num-cpus", str(args.num_cpus)]
    if args.workloads:
        cmd += ["--workloads", args.workloads]
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    if backend == "raylite":
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), str(REPO_ROOT / "src"), env.get("PYTHONPATH")) if p
        )
    print(f"running {backend} with {python} ...", file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        stdout, _ = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # takes the backend's daemons too
        proc.communicate()
        return {"errors": {"run": f"timed out after {args.timeout}s"}}
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    sys.stderr.write(stdout[-2000:])
    return {"errors": {"run": f"exit code {proc.returncode}, no result line"}}


# --- output -------------------------------------------------------------------
def fmt(v: Value | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if abs(v) >= 1000 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}"


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    for j, row in enumerate([headers, *rows]):
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells))
        if j == 0:
            print("  ".join("-" * w for w in widths))


def ratio_cell(a: Value | None, b: Value | None, better: str) -> str:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or b == 0:
        return "-"
    r = a / b
    wins = r > 1 if better == "higher" else r < 1
    return f"{r:.2f}x" + ("" if abs(r - 1) < 0.05 else " raylite" if wins else " ray")


def print_extras(res: dict[str, Any], tag: str) -> None:
    lines = [f"note: {n}" for n in res.get("notes", [])]
    lines += [f"ERROR in {k}: {e}" for k, e in res.get("errors", {}).items()]
    print("".join(f"[{tag}] {line}\n" for line in lines), end="")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["ray", "raylite"], default="raylite")
    ap.add_argument("--compare", action="store_true", help="run both, print a table")
    ap.add_argument(
        "--ray-python",
        default=os.environ.get("RAYLITE_BENCH_RAY_PYTHON"),
        help="the interpreter of a virtualenv with Ray installed (default: $RAYLITE_BENCH_RAY_PYTHON)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per workload (median)")
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=600, help="per backend, --compare")
    ap.add_argument(
        "--workloads", default="", help=f"comma-separated subset to run (of {', '.join(WORKLOADS)}); default all"
    )
    args = ap.parse_args()
    only = [w for w in args.workloads.split(",") if w]

    if not args.compare:
        res = run_backend(args.backend, args.repeat, args.num_cpus, only)
        print(
            f"{res['backend']} {res['version']} (python {res['python']}, "
            f"num_cpus={args.num_cpus}, median of {args.repeat})"
        )
        print_table(
            ["workload", "unit", "better", "value"],
            [[m.label, m.unit, m.better, fmt(res["metrics"].get(k))] for k, m in METRICS.items()],
        )
        print_extras(res, res["backend"])
        print(RESULT_PREFIX + json.dumps(res), flush=True)
        return

    if not args.ray_python:
        ap.error("--compare needs Ray's interpreter: --ray-python PATH or RAYLITE_BENCH_RAY_PYTHON")
    lite = run_child(sys.executable, "raylite", args)
    ray = run_child(args.ray_python, "ray", args)
    print(
        f"raylite {lite.get('version', '?')} vs ray {ray.get('version', '?')} "
        f"(num_cpus={args.num_cpus}, median of {args.repeat}; init and idle memory: 1 sample)"
    )
    rows = []
    for k, m in METRICS.items():
        a, b = lite.get("metrics", {}).get(k), ray.get("metrics", {}).get(k)
        rows.append([m.label, m.unit, m.better, fmt(a), fmt(b), ratio_cell(a, b, m.better)])
    print_table(["workload", "unit", "better", "raylite", "ray", "raylite/ray (winner)"], rows)
    print_extras(lite, "raylite")
    print_extras(ray, "ray")


if __name__ == "__main__":
    main()
