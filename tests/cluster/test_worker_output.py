"""What tasks and actors print, in their driver's terminal and in `raylite logs`, on a two-node
`raylite start` cluster shared by the module (drivers are subprocesses talking on stdin/stdout)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.cluster.state_cluster import StateCluster, state_cluster
from tests.output_driver import Driver

DEADLINE_S = 60

PRINTER = """
import os, sys
import raylite as ray

ray.init(address="auto"{init_args})

@ray.remote
def f(i):
    print("err line of f", i, file=sys.stderr)
    os.system("echo from a subprocess of f")  # fd level: not Python's sys.stdout
    print("hello from f", i, flush=True)
    return ray.get_runtime_context().get_task_id()

@ray.remote
def outer():
    return ray.get(inner.remote())

@ray.remote
def inner():
    print("inner says hi")
    return 1

@ray.remote
class Counter:
    def __init__(self):
        print("Counter constructor ran")
    def inc(self):
        print("Counter.inc ran")
        return ray.get_runtime_context().get_actor_id()

task_id = ray.get(f.remote(1))
counter = Counter.remote()
actor_id = ray.get(counter.inc.remote())
assert ray.get(outer.remote()) == 1
print("IDS", task_id, actor_id, flush=True)
sys.stdin.readline()
"""

REPEATER = """
import sys
import raylite as ray

ray.init(address="auto")

@ray.remote
class Echo:
    def ready(self):
        return True

    def say(self, i):
        print(f"the same line from worker {i}")
        return i

echoes = [Echo.remote() for _ in range(4)]
assert all(ray.get([e.ready.remote() for e in echoes]))  # every process up: the lines come together
assert ray.get([e.say.remote(i) for i, e in enumerate(echoes)]) == [0, 1, 2, 3]
print("SAID", flush=True)
sys.stdin.readline()
"""


def driver(cluster: StateCluster, code: str, env: dict[str, str] | None = None) -> Driver:
    return Driver([sys.executable, "-c", code], {**cluster.env, **(env or {})})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateCluster]:
    with state_cluster(tmp_path_factory.mktemp("output"), [{"cpus": 2}], head_cpus=2) as c:
        yield c


@pytest.fixture(scope="module")
def printed(cluster: StateCluster) -> Iterator[tuple[Driver, str, str]]:
    printer = driver(cluster, PRINTER.format(init_args=""))
    try:
        ids = printer.line(r"IDS \w+ \w+").split()
        yield printer, ids[1], ids[2]
    finally:
        printer.finish()


def test_a_task_prints_in_its_driver_with_rays_prefix(printed: tuple[Driver, str, str]) -> None:
    driver, _, _ = printed
    line = driver.line(r"\(f pid=\d+\) hello from f 1")
    pid = re.search(r"pid=(\d+)", line).group(1)  # type: ignore[union-attr]
    driver.line(rf"\(f pid={pid}\) from a subprocess of f")  # what a child process wrote on the fd
    driver.line(rf"\(f pid={pid}\) err line of f 1", err=True)  # stderr to stderr
    assert not any("err line" in x for x in driver.out)
    driver.line(r"\(inner pid=\d+\) inner says hi")  # a nested task: its own name


def test_an_actor_prints_with_its_class_name(printed: tuple[Driver, str, str]) -> None:
    driver, _, _ = printed
    ctor = driver.line(r"\(Counter pid=\d+\) Counter constructor ran")
    call = driver.line(r"\(Counter pid=\d+\) Counter.inc ran")
    assert ctor.split(")")[0] == call.split(")")[0]  # one process


def test_repeated_lines_are_folded_and_dedup_can_be_turned_off(cluster: StateCluster) -> None:
    folded = driver(cluster, REPEATER, {"RAYLITE_DEDUP_LOGS_AGG_WINDOW_S": "2", "RAYLITE_COLOR_PREFIX": "0"})
    every = driver(cluster, REPEATER, {"RAYLITE_DEDUP_LOGS": "0"})
    try:
        # the first once, at once; the three others (numbers differ) as one line after the window
        folded.line(r"\(Echo pid=\d+\) the same line from worker \d \[repeated 3x across cluster\].*")
        firsts = [x for x in folded.out if "the same line" in x and "repeated" not in x]
        assert len(firsts) == 1, folded.out
        every.wait_for("4 lines", lambda: sum("the same line" in x for x in every.out) == 4)
        assert not any("repeated" in x for x in every.out)
    finally:
        folded.finish()
        every.finish()


def test_log_to_driver_false_and_other_jobs_lines_stay_away(
    cluster: StateCluster, printed: tuple[Driver, str, str]
) -> None:
    # the module's printer job ran first; a quiet job runs the same program, then a third job prints
    quiet = driver(cluster, PRINTER.format(init_args=", log_to_driver=False"))
    try:
        task_id = quiet.line(r"IDS \w+ \w+").split()[1]
        # its task's line reached the node's log file: the daemon had it to forward
        got = cluster.cli("logs", "--task", task_id)
        assert "hello from f 1" in got.stdout, got.stderr
        loud = driver(cluster, PRINTER.format(init_args=""))
        try:
            loud.line(r"\(Counter pid=\d+\) Counter.inc ran")
            loud.line(r"IDS \w+ \w+")
        finally:
            loud.finish()
        # each driver saw one f, one Counter constructor: its own
        assert sum("Counter constructor ran" in x for x in loud.out) == 1, loud.out
        assert sum("hello from f" in x for x in printed[0].out) == 1, printed[0].out
    finally:
        quiet.finish()
    assert [x for x in quiet.out if "pid=" in x] == [] and [x for x in quiet.err if "pid=" in x] == []


def test_raylite_logs_lists_prints_and_finds_a_task_and_an_actor(
    cluster: StateCluster, printed: tuple[Driver, str, str]
) -> None:
    driver, task_id, actor_id = printed
    driver.line(r"\(Counter pid=\d+\) Counter.inc ran")
    listing = cluster.cli("logs")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.count("Node ") == 2 and "(head)" in listing.stdout
    assert "head.log" in listing.stdout and "executor-" in listing.stdout
    task = cluster.cli("logs", "--task", task_id)
    assert task.returncode == 0, task.stderr
    assert "hello from f 1" in task.stdout and "err line of f 1" in task.stdout
    assert "Counter" not in task.stdout and "raylite-log" not in task.stdout  # only its part, no markers
    actor = cluster.cli("logs", "--actor", actor_id)
    assert "Counter constructor ran" in actor.stdout and "Counter.inc ran" in actor.stdout, actor.stderr
    head = cluster.cli("logs", "head.log", "--tail", "5")
    assert head.returncode == 0 and 0 < len(head.stdout.splitlines()) <= 5, head.stderr


def test_a_file_of_the_other_node_and_a_path_out_of_the_folder(cluster: StateCluster) -> None:
    from raylite.util.state.exception import RayStateApiException

    listing = cluster.cli("logs")
    worker_node = [x.split()[1] for x in listing.stdout.splitlines() if x.startswith("Node ") and "(head)" not in x]
    assert len(worker_node) == 1, listing.stdout
    other = cluster.cli("logs", "worker-*.log", "--node", worker_node[0][:8])
    assert other.returncode == 0 and "serving at" in other.stdout, other.stderr
    escaping = cluster.cli("logs", "--node", worker_node[0][:8], "x", "--tail", "1")
    assert escaping.returncode == 1 and "no log file matches" in escaping.stderr
    code = (
        "from raylite.util.state import logs\n"
        "try:\n"
        "    print(list(logs.get_log(filename='../head.log')))\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    refused = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cluster.env, timeout=DEADLINE_S
    )
    assert RayStateApiException.__name__ in refused.stdout and "not the name of a file" in refused.stdout, (
        refused.stdout + refused.stderr
    )


FOLLOWED = """
import os, sys
import raylite as ray

ray.init(address="auto")

@ray.remote
class Speaker:
    def say(self, text):
        print(text, flush=True)
        return os.getpid()

speaker = Speaker.remote()
print("PID", ray.get(speaker.say.remote("first words")), flush=True)
sys.stdin.readline()
ray.get(speaker.say.remote("words said later"))
print("SAID", flush=True)
sys.stdin.readline()
"""


def test_follow_streams_what_is_appended_and_list_logs_groups_files(cluster: StateCluster) -> None:
    speaker = driver(cluster, FOLLOWED)
    follower = None
    try:
        pid = speaker.line(r"PID \d+").split()[1]
        code = (
            "from raylite.util.state import list_logs\n"
            "print(sorted(list_logs()), [n for n in list_logs()['worker_out'] if n.startswith('executor-')][:1])\n"
        )
        listed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cluster.env)
        assert "'gcs_server'" in listed.stdout and "'worker_out'" in listed.stdout, listed.stderr
        follower = Driver(
            [sys.executable, "-m", "raylite.cli", "logs", f"executor-{pid}.out", "--follow"], dict(cluster.env)
        )
        follower.line("first words")
        assert speaker.proc.stdin is not None
        speaker.proc.stdin.write("\n")
        speaker.proc.stdin.flush()
        speaker.line("SAID")
        follower.line("words said later")  # appended after the follow began
    finally:
        if follower is not None:
            follower.proc.terminate()  # Ctrl-C's stand-in: the follow never ends by itself
            follower.proc.wait(timeout=DEADLINE_S)
        speaker.finish()
