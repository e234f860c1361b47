"""The executor pool's decisions (raylite/worker/state/pool.py), without processes.

Every step runs PoolState.validate(). Payloads are plain strings here: the
state passes them through untouched.
"""

from __future__ import annotations

import random

import pytest

from raylite.worker.state.pool import (
    ActorCallAssigned,
    ActorCreationAssigned,
    ActorKillRequested,
    AnswerCancelled,
    BounceActorCall,
    CallPortOpened,
    CancelRequested,
    DoneReported,
    Event,
    ExecutorExited,
    ExecutorSaidHello,
    ExecutorStarted,
    ExitAnnounced,
    ForwardResult,
    IdleTick,
    Instruction,
    Interrupt,
    Kill,
    PoolStarted,
    PoolState,
    PoolStopping,
    ReleaseReservations,
    ReportDeath,
    ResultReported,
    Retire,
    Send,
    Spawn,
    TaskAssigned,
    Warn,
)

ACTOR = b"actor-1"


def task(n: int, attempt: int = 0, function_id: bytes = b"", function: bytes = b"") -> TaskAssigned:
    return TaskAssigned(f"t{n}".encode(), attempt, function_id, function, f"task {n}")


def creation(actor_id: bytes = ACTOR, attempt: int = 0) -> ActorCreationAssigned:
    return ActorCreationAssigned(actor_id, attempt, b"", b"", f"create {actor_id.decode()}#{attempt}")


def call(n: int, actor_id: bytes = ACTOR) -> ActorCallAssigned:
    return ActorCallAssigned(actor_id, b"", b"", f"call {n}")


class Pool:
    """PoolState driven the way the shell drives it; validates after every step."""

    def __init__(self, size: int) -> None:
        self.state = PoolState(size)

    def step(self, *events: Event) -> list[Instruction]:
        out = self.state.handle(*events)
        self.state.validate()
        return out

    def up(self, ex: int) -> list[Instruction]:
        """The executor's process started (pid 1000 + its number) and said hello."""
        return self.step(ExecutorStarted(ex, 1000 + ex), ExecutorSaidHello(ex))

    def exit(self, ex: int, reason: str = "killed") -> list[Instruction]:
        return self.step(ExecutorExited(ex, reason))

    def started(self) -> list[int]:
        """Starts the pool and brings every prestarted executor up; returns their numbers."""
        spawned = [i.executor for i in self.step(PoolStarted()) if isinstance(i, Spawn)]
        for ex in spawned:
            self.up(ex)
        return spawned


def spawns(out: list[Instruction]) -> list[int]:
    return [i.executor for i in out if isinstance(i, Spawn)]


def sends(out: list[Instruction]) -> list[tuple[int, object]]:
    return [(i.executor, i.payload) for i in out if isinstance(i, Send)]


def deaths(out: list[Instruction]) -> list[ReportDeath]:
    return [i for i in out if isinstance(i, ReportDeath)]


# ---- pooled executors ------------------------------------------------------------


def test_the_pool_prestarts_its_size_and_idle_executors_take_tasks() -> None:
    pool = Pool(2)
    out = pool.step(PoolStarted())
    assert out == [Spawn(1), Spawn(2)] and pool.state.starting() == 2
    assert pool.step(ExecutorStarted(1, 1001)) == []
    assert pool.step(ExecutorSaidHello(1)) == [] and pool.state.starting() == 1
    assert sends(pool.step(task(1))) == [(1, "task 1")]
    assert pool.state.running() == ["task 1"]


def test_a_task_waits_for_an_executor_started_for_it_and_the_pool_grows_past_its_size() -> None:
    """A task blocked in get keeps its executor; the nested task it waits for needs another."""
    pool = Pool(1)
    [ex] = pool.started()
    assert sends(pool.step(task(1))) == [(ex, "task 1")]  # the parent, soon blocked in get
    out = pool.step(task(2))  # the nested task
    assert spawns(out) == [2] and sends(out) == [] and pool.state.starting() == 1
    assert pool.state.running() == ["task 1", "task 2"]  # waiting tasks count as running
    assert sends(pool.up(2)) == [(2, "task 2")]
    assert pool.state.pooled() == 2


def test_one_executor_starts_per_waiting_task_not_more() -> None:
    pool = Pool(1)
    pool.step(PoolStarted())  # executor 1 starting, no hello yet
    assert spawns(pool.step(task(1))) == []  # executor 1 is starting: it will take this one
    assert spawns(pool.step(task(2))) == [2]  # two wait, one starts: one more
    assert pool.state.starting() == 2 and len(pool.state.waiting) == 2
    assert sends(pool.up(1)) == [(1, "task 1")]
    assert sends(pool.up(2)) == [(2, "task 2")]
    assert pool.state.starting() == 0 and not pool.state.waiting


def test_an_executor_that_finishes_takes_the_next_waiting_task_first() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(task(1))
    pool.step(task(2))  # waits; executor 2 starts for it
    out = pool.step(ResultReported(1, b"result 1"))
    assert out == [Send(1, "task 2", None), ForwardResult(b"result 1")]
    assert sends(pool.up(2)) == []  # nothing waits any more: the new one is idle
    assert list(pool.state.idle) == [pool.state.executors[2]]


def test_a_task_takes_the_executor_that_went_idle_last() -> None:
    """As Ray's worker pool (the most recently pushed idle worker): after a burst of nested tasks
    grew the pool, tasks go on running in the few executors that were just used, which have the
    function's code and its imports (numpy: 0.1-0.15 s of CPU each); taking the oldest idle one
    instead cycled every later task through all of them, each paying those costs once
    (scripts/bench_patterns.py's array_args after tree3: 4.75 s against Ray's 1.0 s)."""
    pool = Pool(1)
    pool.started()
    for n in range(1, 4):  # three parents blocked in get: executors 2 and 3 start for the others
        pool.step(task(n))
    for ex in (2, 3):
        pool.up(ex)
    for ex in (1, 2, 3):  # all three finish: 3 went idle last
        pool.step(DoneReported(ex))
    for n in range(4, 8):  # then tasks one at a time
        assert sends(pool.step(task(n))) == [(3, f"task {n}")]
        pool.step(DoneReported(3))
    assert [ex.id for ex in pool.state.idle] == [1, 2, 3]


def test_executors_past_the_pool_size_idle_for_a_whole_tick_are_retired_longest_idle_first() -> None:
    """After a burst of tasks blocked in get the pool shrinks back to its size, as Ray's worker pool
    ends idle workers above its soft limit (bench_patterns' tree3 left 44 executors, 993 MiB)."""
    pool = Pool(1)
    pool.started()
    for n in range(1, 4):
        pool.step(task(n))
    for ex in (2, 3):
        pool.up(ex)
    assert pool.state.over_size()
    assert pool.step(IdleTick()) == []  # nobody idle yet
    for ex in (1, 2, 3):
        pool.step(DoneReported(ex))
    assert pool.step(IdleTick()) == []  # idle for less than a whole tick
    assert pool.step(IdleTick()) == [Retire(1), Retire(2)]  # 3 went idle last: it stays
    assert not pool.state.over_size() and [ex.id for ex in pool.state.idle] == [3]
    pool.exit(1, "retired")
    pool.exit(2, "retired")
    assert pool.state.pooled() == 1 and pool.step(IdleTick()) == []


def test_an_executor_that_took_work_since_the_last_tick_is_not_retired() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(task(1))
    pool.step(task(2))
    pool.up(2)
    pool.step(DoneReported(1))
    pool.step(DoneReported(2))
    pool.step(IdleTick())
    assert sends(pool.step(task(3))) == [(2, "task 3")]
    pool.step(DoneReported(2))  # idle again: its count starts over
    assert pool.step(IdleTick()) == [Retire(1)]


def test_when_an_executor_dies_before_its_hello_the_waiting_task_gets_another() -> None:
    """outer holds the only executor blocked on inner; the executor started for
    inner dies before it says hello. Another must start, although the pool has
    its size, or outer waits for ever (found by the chaos test, b69756d)."""
    pool = Pool(1)
    pool.started()
    pool.step(task(1))
    [for_inner] = spawns(pool.step(task(2)))
    pool.step(ExecutorStarted(for_inner, 2002))
    out = pool.exit(for_inner, "pid 2002 was killed by SIGKILL")
    assert deaths(out) == [] and spawns(out) == [3]
    assert sends(pool.up(3)) == [(3, "task 2")]


def test_a_dead_executor_is_replaced_to_keep_the_pool_size() -> None:
    pool = Pool(2)
    pool.started()
    out = pool.exit(1)
    assert spawns(out) == [3] and pool.state.pooled() == 2


# ---- deaths ---------------------------------------------------------------------


def test_a_death_while_running_a_task_is_reported_with_its_attempt() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(task(1, attempt=2))
    out = pool.exit(1, "pid 1001 exited with code 1")
    assert out[0] == ReleaseReservations(1001)
    assert deaths(out) == [ReportDeath(b"t1", b"", 2, "pid 1001 exited with code 1")]
    assert pool.state.running() == []


def test_a_death_after_done_is_still_reported_for_the_done_task() -> None:
    """DONE means the executor sent the result on its own client's stream, which
    may die with it before the result left: the head must hear of the death."""
    pool = Pool(1)
    pool.started()
    pool.step(task(1, attempt=1))
    pool.step(DoneReported(1))
    out = pool.exit(1, "gone")
    assert deaths(out) == [ReportDeath(b"t1", b"", 1, "gone")]
    assert not [i for i in out if isinstance(i, Warn)]  # not reported as an idle executor's exit


def test_the_last_done_task_is_reported_with_the_task_it_runs_when_it_dies() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(task(1))
    pool.step(DoneReported(1))
    pool.step(task(2))
    assert [(d.task_id, d.attempt) for d in deaths(pool.exit(1))] == [(b"t2", 0), (b"t1", 0)]


def test_a_result_reported_through_the_daemon_does_not_replace_the_last_done() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(task(1))
    pool.step(DoneReported(1))
    pool.step(task(2))
    pool.step(ResultReported(1, b"r2"))  # t2's result went through the daemon: nothing to fear for it
    assert [d.task_id for d in deaths(pool.exit(1))] == [b"t1"]


def test_an_idle_executor_that_dies_is_only_logged() -> None:
    pool = Pool(1)
    pool.started()
    out = pool.exit(1, "pid 1001 exited with code 0")
    assert out == [
        ReleaseReservations(1001),
        Warn("idle executor pid 1001 exited: pid 1001 exited with code 0"),
        Spawn(2),
    ]


# ---- actors --------------------------------------------------------------------------


def test_an_actor_takes_an_idle_executor_and_the_pool_is_refilled() -> None:
    pool = Pool(1)
    [ex] = pool.started()
    out = pool.step(creation(attempt=3))
    assert out == [Send(ex, "create actor-1#3", None), Spawn(2)]
    assert pool.state.live_actors() == [(ACTOR, 3)] and pool.state.starting() == 1
    assert sends(pool.step(call(1))) == [(ex, "call 1")]
    assert pool.state.running() == []  # actor calls are not the node's normal tasks


def test_an_actor_with_no_idle_executor_gets_a_new_one_whose_frames_wait_for_its_hello() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(task(1))  # the only pooled executor is busy
    out = pool.step(creation(), call(1))
    assert out == [Spawn(2)]  # no refill: the pool still has its one pooled executor
    assert pool.state.starting() == 0  # an actor's executor is not a pooled one starting
    assert pool.up(2) == [Send(2, "create actor-1#0", None), Send(2, "call 1", None)]
    assert pool.step(ResultReported(2, b"r")) == [ForwardResult(b"r")]
    assert pool.step(DoneReported(2)) == []  # an actor's executor never becomes idle
    assert not pool.state.idle


def test_a_call_for_an_actor_without_executor_here_bounces() -> None:
    pool = Pool(1)
    pool.started()
    assert pool.step(call(1)) == [BounceActorCall("call 1")]


def test_an_actor_executor_death_is_reported_and_later_calls_bounce() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(creation(attempt=2))
    pool.up(2)
    out = pool.exit(1, "segfault")
    assert deaths(out) == [ReportDeath(b"", ACTOR, 2, "segfault")] and spawns(out) == []
    assert pool.state.live_actors() == []
    assert pool.step(call(1)) == [BounceActorCall("call 1")]


def test_a_killed_actor_is_not_reported_dead_but_gives_back_its_reservations() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(creation())
    assert pool.step(ActorKillRequested(ACTOR)) == [Kill(1)]
    assert pool.state.live_actors() == []
    assert pool.exit(1) == [ReleaseReservations(1001)]
    assert pool.step(ActorKillRequested(ACTOR)) == []  # twice: nothing left to kill


def test_an_actor_killed_before_its_process_started_is_killed_when_it_starts() -> None:
    """A kill right after the creation, while the process is being spawned, found
    no process to signal: the actor's executor used to live on, unknown to the head."""
    pool = Pool(1)
    pool.started()
    pool.step(task(1))
    assert pool.step(creation()) == [Spawn(2)]
    assert pool.step(ActorKillRequested(ACTOR)) == []  # nothing to signal yet
    assert pool.step(ExecutorStarted(2, 1002)) == [Kill(2)]
    assert pool.exit(2) == [ReleaseReservations(1002)]  # and no death report: the head asked


def test_an_actor_that_announced_its_exit_is_reported_as_an_intended_death() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(creation(attempt=1))
    pool.up(2)
    assert pool.step(ExitAnnounced(1, "exit_actor() was called in A.quit")) == []
    out = pool.exit(1, "pid 1002 exited with code 0")
    assert deaths(out) == [ReportDeath(b"", ACTOR, 1, "exit_actor() was called in A.quit", intentional=True)]
    assert pool.step(call(1)) == [BounceActorCall("call 1")]


def test_the_call_port_an_actor_opened_is_kept_for_a_restarted_heads_hello_until_its_executor_goes() -> None:
    pool = Pool(1)
    [ex] = pool.started()
    pool.step(creation(attempt=2))
    assert pool.state.call_ports() == {}  # (direct calls off, or not opened yet)
    assert pool.step(CallPortOpened(ex, "10.0.0.1:4711")) == []
    assert pool.state.live_actors() == [(ACTOR, 2)] and pool.state.call_ports() == {ACTOR: "10.0.0.1:4711"}
    pool.exit(ex, "pid 1001 was killed by SIGKILL")
    assert pool.state.call_ports() == {}


def test_a_restarted_actor_is_not_unseated_by_the_death_of_its_old_executor() -> None:
    """The head may place a new incarnation here while the old process is still dying."""
    pool = Pool(2)
    pool.started()
    pool.step(creation(attempt=0))  # executor 2 (the idle one that said hello last)
    pool.step(creation(attempt=1))  # executor 1
    assert pool.state.actors[ACTOR].id == 1
    out = pool.exit(2)
    assert deaths(out) == [ReportDeath(b"", ACTOR, 0, "killed")]  # stale: the head ignores attempt 0
    assert pool.state.live_actors() == [(ACTOR, 1)]


# ---- function code -----------------------------------------------------------------------


def test_a_function_s_code_goes_to_each_executor_once() -> None:
    pool = Pool(2)
    pool.started()
    # the head sends the code with the first task of the function on this node
    assert pool.step(task(1, function_id=b"f", function=b"code")) == [Send(2, "task 1", b"code")]
    assert pool.step(task(2, function_id=b"f")) == [Send(1, "task 2", b"code")]  # from the pool's cache
    pool.step(DoneReported(2))
    assert pool.step(task(3, function_id=b"f")) == [Send(2, "task 3", None)]  # executor 2 has it
    pool.step(DoneReported(1))
    # code that comes again with a task for an executor that has it is stripped
    assert pool.step(task(4, function_id=b"f", function=b"code")) == [Send(1, "task 4", None)]


def test_code_that_never_came_is_not_sent_and_the_executor_fetches_it() -> None:
    pool = Pool(1)
    pool.started()
    assert pool.step(task(1, function_id=b"g")) == [Send(1, "task 1", None)]


# ---- stopping, head restart -------------------------------------------------------------


def test_stopping_kills_every_executor_and_their_exits_report_nothing() -> None:
    pool = Pool(2)
    pool.started()
    pool.step(task(1), creation())  # the refill, executor 3, has no process yet
    out = pool.step(PoolStopping())
    assert sorted(i.executor for i in out if isinstance(i, Kill)) == [1, 2]
    assert pool.step(ExecutorStarted(3, 1003)) == [Kill(3)]  # as soon as it exists
    for ex in (1, 2, 3):
        assert pool.exit(ex) == []
    assert not pool.state.executors and pool.state.starting() == 0


def test_running_and_live_actors_are_what_a_resuming_node_reports() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(task(1, attempt=1), task(2), creation(b"a", 4))
    assert pool.state.running() == ["task 1", "task 2"]
    assert pool.state.live_actors() == [(b"a", 4)]


# ---- invariants ---------------------------------------------------------------------------


# ---- cancels ---------------------------------------------------------------------------


def test_a_cancelled_task_waiting_for_an_executor_is_answered_here_and_never_sent() -> None:
    pool = Pool(1)
    [ex] = pool.started()
    pool.step(task(1))
    pool.step(task(2))  # waits; executor 2 starts for it
    assert pool.step(CancelRequested(b"t2")) == [AnswerCancelled("task 2")]
    assert pool.state.running() == ["task 1"]
    assert sends(pool.up(2)) == []  # it finds nothing waiting
    assert sends(pool.step(ResultReported(ex, b"r1"))) == []


def test_a_running_task_is_interrupted_or_with_force_its_executor_killed() -> None:
    pool = Pool(2)
    runs_t2, runs_t1 = pool.started()  # the executor that said hello last takes the first task
    pool.step(task(1), task(2))
    assert pool.step(CancelRequested(b"t1")) == [Interrupt(runs_t1, b"t1")]
    assert pool.step(CancelRequested(b"t2", force=True)) == [Kill(runs_t2)]
    assert pool.step(CancelRequested(b"t2", force=True)) == []  # killed once
    out = pool.exit(runs_t2, "pid 1001 was killed by SIGKILL")
    [death] = deaths(out)
    assert death.task_id == b"t2" and "cancel(force=True)" in death.reason
    assert spawns(out)  # the pool keeps its size


def test_a_cancel_of_a_task_not_here_is_dropped() -> None:
    pool = Pool(1)
    [ex] = pool.started()
    pool.step(task(1))
    pool.step(ResultReported(ex, b"r1"))
    assert pool.step(CancelRequested(b"t1")) == []
    assert pool.step(CancelRequested(b"t9", force=True)) == []
    assert pool.step(CancelRequested(b"c1", ACTOR)) == []  # no such actor here


def test_a_cancelled_call_goes_to_its_actor_s_executor_even_before_its_hello() -> None:
    pool = Pool(1)
    pool.started()
    out = pool.step(creation())  # the idle executor becomes the actor's
    [(actor_ex, _)] = sends(out)
    assert pool.step(call(1), CancelRequested(b"c1", ACTOR, force=True)) == [
        Send(actor_ex, "call 1", None),
        Interrupt(actor_ex, b"c1"),  # never a kill: the process holds the actor
    ]
    late = Pool(1)
    late.step(PoolStarted())  # executor 1 starting, no hello yet
    [(spawned)] = spawns(late.step(creation()))
    assert late.step(CancelRequested(b"c1", ACTOR)) == [Interrupt(spawned, b"c1")]


def test_validate_notices_a_waiting_task_with_no_executor_starting_for_it() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(task(1))
    pool.step(task(2))
    # as if the executor started for task 2 were forgotten
    forgotten = max((e for e in pool.state.executors.values() if not e.ready), key=lambda e: e.id)
    del pool.state.executors[forgotten.id]
    with pytest.raises(AssertionError, match="starting"):
        pool.state.validate()


@pytest.mark.parametrize("seed", range(20))
def test_random_histories_keep_the_invariants(seed: int) -> None:
    """A scripted shell: executors start, say hello, finish and die in random order."""
    rng = random.Random(seed)
    pool = Pool(rng.randint(1, 3))
    alive: set[int] = set()  # processes started, not exited
    unstarted: list[int] = []
    runs: dict[int, list[object]] = {}  # executor -> payloads sent to it
    reported: list[ReportDeath] = []
    actors = [b"a", b"b"]
    retiring: list[int] = []  # retired, and will exit once they sent what they have

    def apply(out: list[Instruction]) -> None:
        for i in out:
            if isinstance(i, Spawn):
                unstarted.append(i.executor)
            elif isinstance(i, Send):
                assert i.executor in alive, "sent to an executor that is not running"
                runs.setdefault(i.executor, []).append(i.payload)
            elif isinstance(i, ReportDeath):
                reported.append(i)
            elif isinstance(i, Retire):
                retiring.append(i.executor)

    apply(pool.step(PoolStarted()))
    n = 0
    for _ in range(400):
        choice = rng.random()
        state = pool.state
        if choice < 0.25:
            n += 1
            apply(pool.step(task(n)))
        elif choice < 0.3:
            apply(pool.step(creation(rng.choice(actors), rng.randint(0, 3))))
        elif choice < 0.35:
            n += 1
            apply(pool.step(call(n, rng.choice(actors))))
        elif choice < 0.5 and unstarted:
            ex = unstarted.pop(rng.randrange(len(unstarted)))
            alive.add(ex)
            apply(pool.step(ExecutorStarted(ex, ex)))
            if rng.random() < 0.9:
                apply(pool.step(ExecutorSaidHello(ex)))
        elif choice < 0.55:
            for ex in list(alive):
                if not state.executors[ex].ready:
                    apply(pool.step(ExecutorSaidHello(ex)))
        elif choice < 0.8:
            busy = [ex for ex in alive if state.executors[ex].task_id]
            if busy:
                ex = rng.choice(busy)
                done = rng.random() < 0.5
                apply(pool.step(DoneReported(ex) if done else ResultReported(ex, b"r")))
        elif choice < 0.9 and alive:
            ex = rng.choice(sorted(alive))
            running = state.executors[ex].task_id
            alive.discard(ex)
            out = pool.step(ExecutorExited(ex, "died"))
            apply(out)
            if running:
                assert running in [d.task_id for d in deaths(out)]
        elif choice < 0.92:
            apply(pool.step(ActorKillRequested(rng.choice(actors))))
        elif choice < 0.96 and n:
            # a cancel of some task so far: waiting ones are answered, running ones stopped
            target = f"t{rng.randint(1, n)}".encode()
            was_waiting = any(t.task_id == target for t in state.waiting)
            out = pool.step(CancelRequested(target, force=rng.random() < 0.5))
            apply(out)
            if was_waiting:
                assert [type(i) for i in out] == [AnswerCancelled]
                assert not any(t.task_id == target for t in pool.state.waiting)
        elif choice < 0.98:
            apply(pool.step(IdleTick()))
        elif retiring:
            ex = retiring.pop(0)
            if ex in alive:
                alive.discard(ex)
                apply(pool.step(ExecutorExited(ex, "retired")))
    # every normal task went to exactly one executor, or still waits for one
    sent = [p for payloads in runs.values() for p in payloads if str(p).startswith("task")]
    assert len(sent) > 20 and reported, "the history exercised too little"
    assert len(sent) == len(set(sent))
    waiting = [t.payload for t in pool.state.waiting]
    assert not set(sent) & set(waiting)
