"""Ray-compatibility harness: runs the corpus of small Ray programs in
tests/compat/programs/ under Ray and/or raylite and compares what they print.

Each program is a plain Ray program (`import ray`). It runs in a fresh
process with a timeout; its stdout and exit status (and, for programs whose
header says `# compat: stderr-last-line`, the last line of stderr) are
compared with the golden files recorded from Ray 2.60 in tests/compat/expected/
(<name>.out for stdout, <name>.status for the exit status and that stderr line).

Under raylite the program's source is run unchanged, with
scripts/compat_shim/ first on PYTHONPATH: its `ray` package is an alias of
`raylite` (every `ray.X` module is `raylite.X`), in the driver and in every
process the run starts, since they inherit the environment. That is what a
user's `import raylite as ray` does, without a source rewrite that could miss
`import ray.util.queue`, an `import ray` inside a task, or a helper module.
When comparing the last stderr line, `raylite.` is read as `ray.` (the module
path of an exception's class is the one thing the alias changes there).

    python scripts/compat.py record --ray-python /work/rayenv/bin/python -j 3 --repeat 2
    python scripts/compat.py check                       # raylite against the goldens
    python scripts/compat.py check --backend ray         # Ray against the goldens (flakiness)
    python scripts/compat.py check -k actors_ --json /tmp/compat.json -v

`--ray-python` defaults to $RAYLITE_BENCH_RAY_PYTHON.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT / "tests" / "compat"
PROGRAMS = COMPAT / "programs"
EXPECTED = COMPAT / "expected"
SHIM = ROOT / "scripts" / "compat_shim"
DEFAULT_TIMEOUT = 60.0

# Environment that would make a program join some other cluster, or change its output.
_SCRUB = ("RAY_ADDRESS", "RAYLITE_ADDRESS", "RAY_NAMESPACE", "PYTHONPATH")


@dataclass
class Run:
    stdout: str
    stderr: str
    exit: int | None  # None: killed at the timeout
    seconds: float


@dataclass
class Verdict:
    name: str
    group: str
    status: str  # pass | fail | timeout | no-golden
    seconds: float
    exit: int | None
    expected_exit: int | None
    first_diff: dict | None = None
    stderr_tail: list[str] = field(default_factory=list)


def program_names(pattern: str | None = None) -> list[str]:
    names = sorted(p.stem for p in PROGRAMS.glob("*.py"))
    if pattern:
        rx = re.compile(pattern)
        names = [n for n in names if rx.search(n)]
    return names


def group_of(name: str) -> str:
    return name.split("_", 1)[0]


def directives(name: str) -> set[str]:
    """`# compat: a, b` lines of the program's header."""
    found: set[str] = set()
    for line in (PROGRAMS / f"{name}.py").read_text().splitlines()[:10]:
        m = re.match(r"#\s*compat:\s*(.*)", line)
        if m:
            found.update(w.strip() for w in m.group(1).split(",") if w.strip())
    return found


def run_program(name: str, backend: str, ray_python: str | None, timeout: float) -> Run:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONHASHSEED"] = "0"
    if backend == "raylite":
        python = sys.executable
        # the raylite of this tree (a worktree's, not whatever the interpreter has installed)
        env["PYTHONPATH"] = os.pathsep.join([str(SHIM), str(ROOT)])
    else:
        if not ray_python:
            raise SystemExit("no Ray interpreter: pass --ray-python or set RAYLITE_BENCH_RAY_PYTHON")
        python = ray_python
        # Ray prints autoscaler notices ("No available node types can fulfill ...") on the
        # driver's stdout when a task waits for resources: not the program's output.
        env["RAY_SCHEDULER_EVENTS"] = "0"
        # On a loaded machine the raylet gives up on a slow dashboard agent after ~15 s
        # ("The current node timed out during startup"): wait longer.
        env.setdefault("RAY_agent_register_timeout_ms", "120000")
        # Ray forwards its raylet's and workers' log lines to the driver's stdout from a
        # thread, and they can land inside a line the program prints ("True(raylet) A worker
        # died..."): not forwarded. No corpus program prints from a task.
        env.setdefault("RAY_LOG_TO_DRIVER", "0")
    # A private temporary folder per run: Ray looks for a running cluster to join in
    # $TMPDIR/ray (its ray_current_cluster file), so another user's `ray start` on this
    # machine is not joined; the run's session files go with the folder.
    tmp = tempfile.mkdtemp(prefix="cpt-", dir="/tmp")
    env["TMPDIR"] = tmp
    if backend == "ray":
        env["RAY_TMPDIR"] = tmp
    start = time.monotonic()
    proc = subprocess.Popen(
        [python, str(PROGRAMS / f"{name}.py")],
        cwd=PROGRAMS,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so a timeout ends all it started
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_tree(proc.pid)
        out, err = proc.communicate()
        code = None
    _kill_tree(proc.pid)  # daemons a program left behind
    shutil.rmtree(tmp, ignore_errors=True)
    return Run(clean_stdout(out), err, code, time.monotonic() - start)


# Lines Ray's log forwarding adds to the driver's stdout: "(raylet) A worker died ...",
# "(autoscaler +30s) ...", "(f pid=123) ..." from a task's own print. They are the
# runtime's logs (with pids and ids), not what the program printed; the corpus's
# programs print only from the driver.
_LOG_LINE = re.compile(r"(\x1b\[[0-9;]*m)?\((raylet|gcs_server|autoscaler \+\d+s|[^()]*pid=\d+[^()]*)\)")


# A fragment of such a traceback that landed inside a printed line: Ray colours the
# "ray::f()" of its messages (the corpus's programs strip colours from what they print).
_LOG_FRAGMENT = re.compile(r"\x1b\[36mray::[^\x1b\n]*\x1b\[39m *")


def clean_stdout(out: str) -> str:
    out = _LOG_FRAGMENT.sub("", out)
    kept = []
    in_log = False  # inside a multi-line log message (a traceback Ray reports for a retried task)
    for line in out.splitlines(keepends=True):
        m = _LOG_LINE.search(line)
        if m is None:
            if in_log and _LOG_CONTINUATION.match(line):
                continue
            in_log = False
            kept.append(line)
        else:
            in_log = True
            if m.start() > 0:
                # the log line landed between the program's text and its newline, which follows
                kept.append(line[: m.start()])
    return "".join(kept)


# The lines after "(raylet) Task f failed. There are 2 retries remaining ... Error:": the
# remote traceback, which Ray prints without a prefix ("ray::f()   File ...", indented
# source lines, the exception line, possibly "[repeated 2x across cluster]").
_LOG_CONTINUATION = re.compile(
    r"(\s|\x1b\[[0-9;]*mray::|Traceback \(most recent call last\)|[A-Za-z_][\w.]*(Error|Exception)(\(\w+\))?: |.*\[repeated \d+x across cluster\])"
)


def _kill_tree(pid: int) -> None:
    """Ends the program's process group and every process it started.

    Ray's workers put themselves in process groups of their own, so the group
    alone is not enough: the descendants are found (before the group goes,
    while they are still descendants) and ended by pid.
    """
    victims = []
    try:
        import psutil

        victims = psutil.Process(pid).children(recursive=True)
    except Exception:  # psutil missing, or the program is already gone
        pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for p in victims:
        try:
            p.kill()
        except Exception:
            pass


def last_stderr_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def normalize_stderr_line(line: str) -> str:
    return re.sub(r"\braylite\.", "ray.", line)


def golden(name: str) -> tuple[str, dict] | None:
    out = EXPECTED / f"{name}.out"
    status = EXPECTED / f"{name}.status"
    if not out.exists() or not status.exists():
        return None
    return out.read_text(), json.loads(status.read_text())


def compare(name: str, run: Run) -> Verdict:
    g = golden(name)
    tail = run.stderr.splitlines()[-15:]
    if g is None:
        return Verdict(name, group_of(name), "no-golden", run.seconds, run.exit, None, None, tail)
    want_out, want = g
    v = Verdict(name, group_of(name), "pass", run.seconds, run.exit, want["exit"], None, tail)
    if run.exit is None:
        v.status = "timeout"
    diff = first_diff(want_out, run.stdout)
    if diff is not None:
        v.first_diff = diff
    elif run.exit != want["exit"]:
        v.first_diff = {"what": "exit status", "expected": str(want["exit"]), "got": str(run.exit)}
    elif "stderr_last_line" in want:
        got_line = normalize_stderr_line(last_stderr_line(run.stderr))
        if got_line != want["stderr_last_line"]:
            v.first_diff = {"what": "last stderr line", "expected": want["stderr_last_line"], "got": got_line}
    if v.first_diff is not None and v.status == "pass":
        v.status = "fail"
    return v


def first_diff(want: str, got: str) -> dict | None:
    a, b = want.splitlines(), got.splitlines()
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else "<end of output>"
        y = b[i] if i < len(b) else "<end of output>"
        if x != y:
            return {"what": f"stdout line {i + 1}", "expected": x, "got": y}
    if want != got:  # differences only in trailing newlines
        return {"what": "stdout end", "expected": repr(want[-20:]), "got": repr(got[-20:])}
    return None


def infrastructure_failure(run: Run) -> bool:
    return run.exit is None or "timed out during startup" in run.stderr


def record(names: list[str], args: argparse.Namespace) -> int:
    """Runs every program under Ray `--repeat` times; writes goldens for those that agree with themselves."""
    EXPECTED.mkdir(parents=True, exist_ok=True)
    bad = 0

    def one(name: str) -> tuple[str, list[Run]]:
        runs: list[Run] = []
        tries = 0
        while len(runs) < args.repeat:
            r = run_program(name, "ray", args.ray_python, args.timeout)
            if infrastructure_failure(r) and tries < 4:
                tries += 1  # Ray itself did not start (an overloaded machine): not the program's fault
                continue
            runs.append(r)
        return name, runs

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for name, runs in pool.map(one, names):
            first = runs[0]
            problems = []
            if any(r.exit is None for r in runs):
                problems.append("timed out")
            for r in runs[1:]:
                d = first_diff(first.stdout, r.stdout)
                if d or r.exit != first.exit:
                    problems.append(f"differs between runs: {d or ('exit', first.exit, r.exit)}")
            secs = max(r.seconds for r in runs)
            if problems:
                bad += 1
                print(f"BAD   {name:45s} {secs:5.1f}s {'; '.join(problems)}")
                for ln in first.stderr.splitlines()[-5:]:
                    print(f"        {ln}")
                continue
            status: dict = {"exit": first.exit}
            if "stderr-last-line" in directives(name):
                status["stderr_last_line"] = last_stderr_line(first.stderr)
            elif first.exit != 0 and "expect-exit" not in directives(name):
                bad += 1
                print(f"BAD   {name:45s} {secs:5.1f}s exit {first.exit} without `# compat: expect-exit`")
                for ln in first.stderr.splitlines()[-5:]:
                    print(f"        {ln}")
                continue
            (EXPECTED / f"{name}.out").write_text(first.stdout)
            (EXPECTED / f"{name}.status").write_text(json.dumps(status, indent=1, sort_keys=True) + "\n")
            print(f"ok    {name:45s} {secs:5.1f}s")
    print(f"{len(names) - bad} recorded, {bad} bad")
    return 1 if bad else 0


def check(names: list[str], args: argparse.Namespace) -> int:
    verdicts: list[Verdict] = []
    start = time.monotonic()

    def one(name: str) -> Verdict:
        saved = Path(args.reuse) / f"{name}.json" if args.reuse else None
        if saved is not None and saved.exists():
            run = Run(**json.loads(saved.read_text()))
        else:
            run = run_program(name, args.backend, args.ray_python, args.timeout)
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                (Path(args.save) / f"{name}.json").write_text(json.dumps(asdict(run)))
        return compare(name, run)

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for v in pool.map(one, names):
            verdicts.append(v)
            if args.verbose or v.status != "pass":
                print_verdict(v, args.verbose)
    wall = time.monotonic() - start
    summary = summarize(verdicts, args.backend, wall)
    print_table(summary)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
        print(f"JSON summary in {args.json}")
    if args.write_known_failures:
        write_known_failures(Path(args.write_known_failures), verdicts)
    return 0 if summary["passed"] == summary["total"] else 1


def failure_reason(v: Verdict) -> str:
    """A one-line reason for known_failures.txt: the exception that ended the program, or the first difference."""
    if v.status == "timeout":
        return "hangs: killed at the timeout"
    d = v.first_diff or {}
    if v.exit not in (0, v.expected_exit):
        exc = [ln for ln in v.stderr_tail if re.match(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b", ln)]
        if exc:
            return exc[-1].strip()[:160]
    return f"{d.get('what')}: expected {d.get('expected', '')[:60]!r}, got {d.get('got', '')[:60]!r}"


def write_known_failures(path: Path, verdicts: list[Verdict]) -> None:
    """Rewrites the list with the programs that fail now; a reason already written by hand is kept."""
    old: dict[str, str] = {}
    header: list[str] = []
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("#") or not line.strip():
                if not old:
                    header.append(line)
                continue
            name, _, reason = line.partition(":")
            old[name.strip()] = reason.strip()
    failing = sorted((v for v in verdicts if v.status in ("fail", "timeout")), key=lambda v: v.name)
    lines = header or [
        "# Corpus programs that fail under raylite today: `name: reason` (scripts/compat.py check",
        "# --write-known-failures rewrites it, keeping reasons written by hand).",
    ]
    entries = {n: r for n, r in old.items() if n not in {v.name for v in verdicts}}  # not run this time: kept
    entries.update({v.name: old.get(v.name) or failure_reason(v) for v in failing})
    lines += [f"{n}: {r}" for n, r in sorted(entries.items())]
    path.write_text("\n".join(lines) + "\n")
    print(f"{len(entries)} known failures written to {path}")


def print_verdict(v: Verdict, verbose: bool) -> None:
    print(f"{v.status.upper():8s} {v.name:45s} {v.seconds:5.1f}s")
    if v.first_diff:
        d = v.first_diff
        print(
            f"         {d['what']}:\n           expected: {d['expected'][:200]}\n           got:      {d['got'][:200]}"
        )
        if verbose:
            for ln in v.stderr_tail[-6:]:
                print(f"           stderr| {ln[:200]}")


def summarize(verdicts: list[Verdict], backend: str, wall: float) -> dict:
    groups: dict[str, dict[str, int]] = {}
    for v in verdicts:
        g = groups.setdefault(v.group, {"total": 0, "passed": 0})
        g["total"] += 1
        g["passed"] += v.status == "pass"
    return {
        "backend": backend,
        "total": len(verdicts),
        "passed": sum(v.status == "pass" for v in verdicts),
        "wall_seconds": round(wall, 1),
        "groups": dict(sorted(groups.items())),
        "programs": {v.name: asdict(v) for v in sorted(verdicts, key=lambda v: v.name)},
    }


def print_table(summary: dict) -> None:
    print(f"\n{'program':45s} {'result':8s} first difference")
    for name, v in summary["programs"].items():
        d = v["first_diff"]
        why = f"{d['what']}: expected {d['expected'][:50]!r} got {d['got'][:50]!r}" if d else ""
        print(f"{name:45s} {v['status']:8s} {why}")
    print(f"\n{'group':14s} passed/total")
    for g, c in summary["groups"].items():
        print(f"{g:14s} {c['passed']:3d}/{c['total']:<3d}")
    print(
        f"{'all':14s} {summary['passed']:3d}/{summary['total']:<3d} "
        f"({summary['backend']}, {summary['wall_seconds']} s wall)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["record", "check", "list"])
    ap.add_argument("--backend", choices=["raylite", "ray"], default="raylite", help="what `check` runs")
    ap.add_argument("--ray-python", default=os.environ.get("RAYLITE_BENCH_RAY_PYTHON"))
    ap.add_argument("-k", dest="pattern", help="only programs whose name matches this regex")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="programs run at once")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per program run")
    ap.add_argument("--repeat", type=int, default=2, help="runs per program when recording")
    ap.add_argument("--missing", action="store_true", help="only programs with no golden yet")
    ap.add_argument("--save", metavar="DIR", help="check: keep each run's stdout, stderr and exit in DIR")
    ap.add_argument("--reuse", metavar="DIR", help="check: compare the runs saved in DIR instead of running again")
    ap.add_argument("--write-known-failures", metavar="FILE", help="check: list the failing programs in FILE")
    ap.add_argument("--json", help="write the summary as JSON here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    names = program_names(args.pattern)
    if args.missing:
        names = [n for n in names if golden(n) is None]
    if args.mode == "list":
        print("\n".join(names))
        return 0
    if args.mode == "record":
        return record(names, args)
    return check(names, args)


if __name__ == "__main__":
    sys.exit(main())
