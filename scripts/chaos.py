"""Chaos rounds: a mixed workload on the namespace cluster while executors and a worker host die.

    sudo python scripts/chaos.py --seeds 0-19            # builds a cluster (prefix "chaos"), 20 rounds
    sudo python scripts/chaos.py --seeds 3 --keep        # one round; leaves the cluster up to look at
    sudo python scripts/chaos.py --seeds 3 --reuse       # runs on the cluster left up

Each round (one per seed) runs scripts/chaos_driver.py on the `drv` host and,
from this process, SIGKILLs executor processes of the worker daemons (on
head, w1 and w2) at moments drawn from the seed, and once per round the
worker daemon of w1 or w2 with its executors. The driver checks every result
itself; this side checks its report: no wrong result, and exactly the errors
that no runtime could avoid: the put objects whose only copy was on the
killed host. A round must end within --round-timeout seconds. The killed
host is started again (as a new node) before the next round.

Exit status 0 when every round passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import netns_cluster  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).resolve().parent / "chaos_driver.py"
VICTIMS = ("w1", "w2")  # hosts whose whole worker daemon may be killed
EXECUTOR_HOSTS = ("head", "w1", "w2")
EXECUTOR_MODULE = "raylite.worker.executor_main"


# ---- pure: the plan of a round and the verdict on its report ---------------------------------


@dataclass(frozen=True)
class FaultPlan:
    """When (seconds after the driver started) each fault is due."""

    executor_kills: tuple[float, ...]
    host: str
    host_at: float

    @property
    def max_faults(self) -> int:
        return len(self.executor_kills) + 1


def plan_faults(seed: int, intensity: float = 1.0) -> FaultPlan:
    """The faults of a round; `intensity` multiplies the number of executor kills."""
    rng = random.Random(f"faults-{seed}")
    count = round(rng.randint(3, 6) * intensity)
    kills = tuple(sorted(round(rng.uniform(0.3, 8.0), 2) for _ in range(count)))
    return FaultPlan(kills, rng.choice(VICTIMS), round(rng.uniform(1.0, 6.0), 2))


def parse_seeds(text: str) -> list[int]:
    """ "0-19" or "1,5,9-11" -> the seeds, in order."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"bad seed list {text!r}: use numbers and ranges such as 0-19 or 1,5,9-11")
        seeds.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    return seeds


def judge(report: dict[str, Any], killed_node: str | None) -> tuple[list[str], list[str]]:
    """(problems, expected lost puts) for a driver's report, given the node id the host kill took down.

    Expected errors: the puts made on the killed node (a put has one copy, and
    the driver only reads puts after the kill, from a host without a store,
    so no copy is made elsewhere). Every other read must succeed and be right.
    """
    expected = sorted(p["what"] for p in report["puts"] if killed_node is not None and p["node"] == killed_node)
    problems = [f"wrong result: {w}" for w in report["wrong"]]
    for err in report["errors"]:
        if err["what"] not in expected or err["type"] != "ObjectLostError":
            problems.append(f"unexpected {err['type']} reading {err['what']} ({err.get('object')}): {err['message']}")
    lost = {p["what"] for p in report["puts"] if p["lost"]}
    for what in expected:
        if what not in lost:
            problems.append(f"{what} lived only on the killed node, yet it was read after the kill")
    return problems, expected


# ---- faults ----------------------------------------------------------------------------------


def worker_record(cluster: netns_cluster.Cluster, host: str) -> dict[str, Any] | None:
    """The running worker daemon of a host, as `raylite start` recorded it (pid, node_id)."""
    for path in (cluster.runtime_root / cluster.prefix / host / "daemons").glob("worker-*.json"):
        facts = json.loads(path.read_text())
        if _alive(facts["pid"]):
            return facts
    return None


def executors_of(daemon_pid: int) -> list[int]:
    """The executor processes a worker daemon started (pids are global: no pid namespaces here)."""
    import psutil

    try:
        children = psutil.Process(daemon_pid).children(recursive=True)  # forked executors: its fork server's
    except psutil.NoSuchProcess:
        return []
    out = []
    for child in children:
        try:
            if EXECUTOR_MODULE in child.cmdline():
                out.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return sorted(out)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Fault:
    at: float  # seconds after the driver started
    kind: str  # "executor" or "host"
    host: str
    detail: str


@dataclass
class RoundResult:
    seed: int
    ok: bool
    seconds: float
    faults: list[Fault] = field(default_factory=list)
    checked: int = 0
    cancelled: int = 0  # of them, cancelled tasks and calls that raised TaskCancelledError
    expected_errors: int = 0
    got_errors: int = 0
    problems: list[str] = field(default_factory=list)
    driver_stderr: str = ""

    def summary(self) -> str:
        kills = [f for f in self.faults if f.kind == "executor"]
        per_host = {h: sum(1 for f in kills if f.host == h) for h in EXECUTOR_HOSTS}
        host = next((f for f in self.faults if f.kind == "host"), None)
        return (
            f"seed {self.seed:>3}: {'PASS' if self.ok else 'FAIL'}  "
            f"executor kills {len(kills)} ({', '.join(f'{h} {n}' for h, n in per_host.items())}), "
            f"host {host.host + f' at {host.at:.1f}s' if host else 'none'}; "
            f"checked {self.checked} ({self.cancelled} cancelled); errors expected {self.expected_errors} got {self.got_errors}; "
            f"{self.seconds:.1f}s"
        )


class DriverProcess:
    """The driver on `drv`, with its stdout lines read by a thread into a queue."""

    def __init__(self, cluster: netns_cluster.Cluster, seed: int, max_faults: int) -> None:
        argv = [sys.executable, str(DRIVER), "--seed", str(seed), "--max-faults", str(max_faults)]
        env = cluster.env("drv")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            cluster.exec_argv("drv", argv),
            env=env,
            cwd=ROOT,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("CHAOS "):
                self.events.put(json.loads(line[len("CHAOS ") :]))
        self.events.put(None)  # end of output

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def next_event(self, timeout: float) -> dict[str, Any] | None:
        """The next event, None at the end of output; raises queue.Empty on timeout."""
        return self.events.get(timeout=max(0.0, timeout))

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # the `ip netns exec` wrapper execs python: this is the driver itself
        self.proc.wait(timeout=30)


class RoundFailed(Exception):
    pass


def run_round(
    cluster: netns_cluster.Cluster,
    seed: int,
    timeout: float = 240.0,
    intensity: float = 1.0,
    host_fault: str = "kill",
    object_store_memory: int | None = None,
    log: Any = None,
) -> RoundResult:
    """One chaos round on a cluster whose three worker hosts are up; restarts the killed host after.

    host_fault "kill" SIGKILLs the host's worker daemon and executors; "cut"
    takes its network link down instead (the head notices by keepalive).
    """
    plan = plan_faults(seed, intensity)
    rng = random.Random(f"victims-{seed}")  # which executor each kill takes
    started = time.monotonic()
    deadline = started + timeout
    result = RoundResult(seed, ok=False, seconds=0.0)
    driver = DriverProcess(cluster, seed, plan.max_faults)
    killed_node: str | None = None
    try:
        first = driver.next_event(deadline - time.monotonic())
        if first is None or first.get("event") != "started":
            raise RoundFailed(f"the driver did not start: {first}")
        t0 = time.monotonic()
        pending = sorted([(at, "executor") for at in plan.executor_kills] + [(plan.host_at, "host")])
        report: dict[str, Any] | None = None
        done = False
        while report is None:
            if time.monotonic() > deadline:
                raise RoundFailed(f"the round did not finish within {timeout:.0f}s (a hang)")
            wait = deadline - time.monotonic()
            if pending and not done:
                wait = min(wait, pending[0][0] - (time.monotonic() - t0))
            try:
                event = driver.next_event(wait)
            except queue.Empty:
                event = {"event": "tick"}
            if event is None:
                raise RoundFailed(f"the driver exited (code {driver.proc.wait(timeout=30)}) without a report")
            kind = event["event"]
            if kind == "crashed":
                raise RoundFailed(f"the driver crashed: {event['error']}\n{event['traceback']}")
            if kind == "report":
                report = event
                continue
            now = time.monotonic() - t0
            if kind == "workload_done":
                done = True
                if killed_node is None:  # the host kill is due before the puts are read
                    killed_node = _kill_host(cluster, plan.host, host_fault, now, result)
                driver.say("go")
                continue
            while pending and not done and pending[0][0] <= now:
                _, what = pending.pop(0)
                if what == "host":
                    killed_node = _kill_host(cluster, plan.host, host_fault, now, result)
                else:
                    _kill_executor(cluster, rng, now, result)
                if log:
                    f = result.faults[-1]
                    log(f"  seed {seed}: {f.at:5.1f}s {f.kind} {f.host}: {f.detail}")
        result.checked = report["checked"]
        result.cancelled = report.get("cancelled", 0)
        if log:
            hosts = {v: k for k, v in report["nodes"].items()}
            placed = ", ".join(f"{p['what']} -> {hosts.get(p['node'], 'a new node')}" for p in report["puts"])
            log(f"  seed {seed}: workload done at {now:.1f}s; puts: {placed or 'none'}")
        problems, expected = judge(report, killed_node)
        result.expected_errors = len(expected)
        result.got_errors = len(report["errors"])
        result.problems = problems
        result.ok = not problems
        driver.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except (RoundFailed, subprocess.TimeoutExpired) as exc:
        result.problems.append(str(exc))
    finally:
        driver.stop()
        result.driver_stderr = "".join(driver.stderr)
        result.seconds = time.monotonic() - started
        # the next round starts from three live worker hosts
        if host_fault == "cut":
            cluster.set_link(plan.host, up=True)
        if killed_node is not None or worker_record(cluster, plan.host) is None:
            cluster.restart_host(plan.host, object_store_memory)
    return result


def _kill_host(cluster: netns_cluster.Cluster, host: str, how: str, now: float, result: RoundResult) -> str | None:
    record = worker_record(cluster, host)
    if record is None:
        raise RoundFailed(f"no live worker daemon on {host} to kill")
    if how == "cut":
        cluster.set_link(host, up=False)
        result.faults.append(Fault(now, "host", host, "link cut"))
        return record["node_id"]
    executors = executors_of(record["pid"])
    _kill(record["pid"])
    for pid in executors:
        _kill(pid)
    result.faults.append(Fault(now, "host", host, f"daemon pid {record['pid']} and {len(executors)} executors"))
    return record["node_id"]


def _kill_executor(cluster: netns_cluster.Cluster, rng: random.Random, now: float, result: RoundResult) -> None:
    candidates = []
    for host in EXECUTOR_HOSTS:
        record = worker_record(cluster, host)
        if record is not None:
            candidates.extend((host, pid) for pid in executors_of(record["pid"]))
    if not candidates:
        result.faults.append(Fault(now, "none", "-", "no executor to kill"))
        return
    host, pid = rng.choice(candidates)
    if _kill(pid):
        result.faults.append(Fault(now, "executor", host, f"pid {pid}"))


# ---- the command ------------------------------------------------------------------------


def cluster_is_up(cluster: netns_cluster.Cluster) -> bool:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return cluster.ns("drv") in listed and all(worker_record(cluster, h) for h in EXECUTOR_HOSTS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-19", help="seeds to run, e.g. 0-19 or 1,5,9-11")
    parser.add_argument("--prefix", default="chaos", help="namespace prefix of the cluster")
    parser.add_argument("--reuse", action="store_true", help="run on a cluster already up with this prefix")
    parser.add_argument("--keep", action="store_true", help="leave the cluster up afterwards")
    parser.add_argument("--round-timeout", type=float, default=240.0, help="seconds a round may take")
    parser.add_argument("--intensity", type=float, default=1.0, help="multiplies the executor kills per round")
    parser.add_argument(
        "--host-fault",
        choices=("kill", "cut"),
        default="kill",
        help="kill the host's daemon (default) or cut its network link",
    )
    parser.add_argument(
        "--object-store-memory",
        type=int,
        default=None,
        help="bytes of store per node when building the cluster (small: objects spill)",
    )
    parser.add_argument("--stop-on-failure", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each fault as it happens")
    opts = parser.parse_args()
    seeds = parse_seeds(opts.seeds)
    reason = netns_cluster.namespaces_available()
    if reason:
        print(f"chaos: cannot build the namespace cluster: {reason}", file=sys.stderr)
        return 1
    cluster = netns_cluster.Cluster(prefix=opts.prefix)
    if opts.reuse and cluster_is_up(cluster):
        print(f"chaos: reusing the cluster {opts.prefix}-*", flush=True)
    else:
        cluster.up(opts.object_store_memory)
    results = []
    try:
        for seed in seeds:
            r = run_round(
                cluster,
                seed,
                opts.round_timeout,
                opts.intensity,
                opts.host_fault,
                opts.object_store_memory,
                log=print if opts.verbose else None,
            )
            results.append(r)
            print(r.summary(), flush=True)
            if not r.ok:
                for p in r.problems:
                    print(f"    {p}", flush=True)
                tail = r.driver_stderr.strip().splitlines()[-15:]
                if tail:
                    print("    driver stderr (last lines):\n      " + "\n      ".join(tail), flush=True)
                if opts.stop_on_failure:
                    break
    finally:
        if not opts.keep:
            cluster.down()
    passed = sum(r.ok for r in results)
    print(f"chaos: {passed}/{len(results)} rounds passed in {sum(r.seconds for r in results):.0f}s")
    return 0 if passed == len(seeds) else 1


if __name__ == "__main__":
    sys.exit(main())
