"""A randomized test of the head's state: a simulated cluster drives HeadState.

Hypothesis picks a sequence of things that happen in a cluster (nodes join,
die and rejoin a restarted head; clients submit tasks with arguments, create
and call actors, put, hold and release refs, subscribe, disconnect; tasks
finish well, badly or retryably; executors die; tasks block in `get`; actors
are killed; tasks and calls are cancelled, gently or by force, with or
without their children; copies are pulled and evicted; placement groups are
created and removed, and tasks and actors run in them; the head restarts
and recovery ends) and feeds them to HeadState as the servicer would. A small model of the
world outside the head carries out the effects: nodes run what they are
dispatched and store what they are told, kill what they are told to kill and
report the deaths; clients keep their refs and their unfinished tasks, and
resume their sessions with a restarted head as raylite/client/core.py does.

After every step: HeadState.validate(), and cross-checks from outside:
- a dispatch goes to a live node, with every argument of a normal task or an
  actor creation existing and no error, and a fresh attempt;
- a normal task or actor creation was READY just before it was dispatched;
- no node has more taken than it has, unless a task blocked or resumed there
  (resuming may overcommit by design, and a restarted head cannot tell which
  of a node's tasks were blocked);
- no stored object is delivered unless it exists (or is freed only after
  the delivery, at the end of that step: a result its owner no longer holds);
- what the head places in a node's store is there (no FreeObject of an
  object the head still keeps), and no running task is on a dead node;
- the scheduling pass leaves no READY task that a node could take right now,
  and no waiting placement group that the nodes could hold right now;
- a PLACED actor is on a live node; a named actor is alive;
- when a driver leaves, no task of its job that had not started stays queued;
- a cancelled task never runs again (no dispatch of a task marked cancelled),
  one cancelled before it ran leaves the table at once, one running is
  marked, and a cancel is refused only for an id the head knows nothing of
  (or a forced cancel of an actor call);
- illegal transitions raise (the state refuses them itself).

CI runs a short search; RAYLITE_STATE_EXAMPLES (examples, default 40) and
RAYLITE_STATE_STEPS (steps per example, default 40) make it longer. Such a
search outlasts pytest-timeout's limit for one test (pyproject.toml), and
shrinking a failure takes minutes more, so lift the limit:

    RAYLITE_STATE_EXAMPLES=1500 RAYLITE_STATE_STEPS=80 pytest -x --timeout=0 tests/unit/test_head_state_random.py

(1500 examples of 80 steps take about 7 minutes on one core.) A failure
found this way deserves a plain test of HeadState events beside the related
ones (test_head_restart.py, test_lineage.py, ...), which keeps it fixed.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from raylite.head.state import HeadState, TaskState, scheduler
from raylite.head.state.model import (
    ACTOR_CREATION,
    ACTOR_METHOD,
    DYNAMIC,
    NORMAL,
    NOT_GENERATOR,
    STREAMING,
    ActorChanged,
    ActorKillRequested,
    ActorRecord,
    CancelRefused,
    CancelRequested,
    CancelTask,
    ClientConnected,
    ClientDisconnected,
    Deliver,
    Dispatch,
    ExecutorDied,
    FreeObject,
    GeneratorConsumed,
    GeneratorItemReported,
    GeneratorProgressed,
    HeadRestarted,
    KillActor,
    NodeAdded,
    NodeRemoved,
    ObjectCopiesChanged,
    ObjectInfo,
    ObjectsPut,
    ObjectsSubscribed,
    PromoteObject,
    RecoveryEnded,
    RefsChanged,
    Strategy,
    StreamReceivedReported,
    TaskBlockChanged,
    TaskFinished,
    TaskRecord,
    TaskSubmitted,
)
from raylite.head.state.placement_model import (
    PlacementGroupCreated,
    PlacementGroupRecord,
    PlacementGroupRemoveRequested,
)
from raylite.head.state.placement_policy import place
from raylite.ids import TASK_ID_BYTES, object_id, task_of
from raylite.resources import fits

EXAMPLES = int(os.environ.get("RAYLITE_STATE_EXAMPLES", "40"))
STEPS = int(os.environ.get("RAYLITE_STATE_STEPS", "40"))

JOBS = [b"job-A\0\0\0", b"job-B\0\0\0"]
NODE_IDS = [f"node-{i}".encode().ljust(16, b"\0") for i in range(5)]
REQUESTS = [{"CPU": 1.0}, {"CPU": 1.0}, {"CPU": 1.0}, {}, {"CPU": 2.0}, {"GPU": 1.0}, {"CPU": 64.0}]
NODE_SHAPES = [{"CPU": 1.0}, {"CPU": 3.0}, {"CPU": 2.0, "GPU": 1.0}]
BUNDLES = [{"CPU": 1.0}, {"CPU": 0.5}, {"CPU": 2.0}, {"GPU": 1.0}]
PG_STRATEGIES = ["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"]
SPEC_FIELDS = (
    "task_id job_id client_id name kind resources deps num_returns max_retries actor_id strategy placement "
    "actor_name actor_namespace detached actor_meta function_id max_restarts max_task_retries borrowed parent_id spec generator"
).split()


class Picks:
    """Choices a rule makes, drawn up front as integers so that a failing example prints replayably."""

    def __init__(self, values: list[int]) -> None:
        self.values = values
        self.i = 0

    def next(self) -> int:
        value = self.values[self.i % len(self.values)] + self.i
        self.i += 1
        return value

    def choose(self, seq: Any) -> Any:
        seq = list(seq)
        return seq[self.next() % len(seq)]

    def flag(self) -> bool:
        return self.next() % 2 == 1

    def int(self, lo: int, hi: int) -> int:
        return lo + self.next() % (hi - lo + 1)

    def some(self, seq: list[Any], most: int) -> tuple[Any, ...]:
        return tuple(self.choose(seq) for _ in range(self.int(0, most)))

    def __repr__(self) -> str:
        return f"Picks({self.values})"


PICKS = st.lists(st.integers(0, 1000), min_size=1, max_size=8).map(Picks)


def respec(task: TaskRecord, requests: dict[bytes, tuple[dict[str, float], dict[str, float]]]) -> TaskRecord:
    """The record a peer sends again: its spec's fields only (as raylite/head/wire.py decodes it),
    with the request its client made (`requests`), not the head's rewrite of it."""
    fresh = TaskRecord(**{name: getattr(task, name) for name in SPEC_FIELDS})
    resources, placement = requests.get(task.task_id, (task.resources, task.placement))
    fresh.resources = dict(resources)
    fresh.placement = dict(placement)
    return fresh


def describe(events: tuple[Any, ...]) -> str:
    out = []
    for e in events:
        if isinstance(e, TaskSubmitted):
            t = e.task
            out.append(
                f"TaskSubmitted({t.name} {t.task_id.hex()[-4:]} kind={t.kind} generator={t.generator} "
                f"deps={[d.hex()[-12:] for d in t.deps]})"
            )
        else:
            out.append(type(e).__name__ + ("" if not hasattr(e, "__dict__") else ""))
    return ", ".join(out)


@dataclass
class SimNode:
    node_id: bytes
    resources: dict[str, float]
    alive: bool = True
    joined: bool = True  # to the current head
    running: dict[bytes, TaskRecord] = field(default_factory=dict)  # what it was dispatched, not finished
    attempts: dict[bytes, int] = field(default_factory=dict)
    actors: dict[bytes, int] = field(default_factory=dict)  # live actor processes -> attempt
    store: dict[bytes, ObjectInfo] = field(default_factory=dict)  # primary copies
    yielded: dict[bytes, int] = field(default_factory=dict)  # generator task -> items its attempt yielded
    copies: dict[bytes, ObjectInfo] = field(default_factory=dict)  # secondary copies
    deaths: list[ExecutorDied] = field(default_factory=list)  # to report
    overcommit: bool = False  # a task blocked or resumed here: the node may be overcommitted


@dataclass
class SimClient:
    client_id: bytes
    job_id: bytes
    is_driver: bool
    connected: bool = True  # to the current head
    held: set[bytes] = field(default_factory=set)
    unfinished: dict[bytes, TaskRecord] = field(default_factory=dict)
    done: dict[bytes, TaskRecord] = field(default_factory=dict)
    values: dict[bytes, ObjectInfo] = field(default_factory=dict)  # inline values it knows
    received: dict[bytes, set[int]] = field(default_factory=dict)  # its streams: item indices delivered


class HeadStateMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = HeadState()
        self.now = 0.0
        self.nodes: dict[bytes, SimNode] = {}
        self.clients: dict[bytes, SimClient] = {}
        self.saved_actors: dict[bytes, ActorRecord] = {}
        self.saved_nodes: set[bytes] = set()
        self.recovering = False
        self.counter = 0
        self.tasks_before: set[bytes] = set()  # the head's tasks before the step being applied
        self.sessions = 0
        self.actor_ids: list[bytes] = []
        self.restarts = 0
        self.groups: dict[bytes, int] = {}  # placement groups made -> bundle count
        # What each task asked for as its client sent it (the head rewrites a placement group
        # task's request): what a node reports, the storage saves and a client resends.
        self.requests: dict[bytes, tuple[dict[str, float], dict[str, float]]] = {}

    @initialize(shapes=st.lists(st.sampled_from(NODE_SHAPES), min_size=1, max_size=3), two_jobs=st.booleans())
    def cluster(self, shapes: list[dict[str, float]], two_jobs: bool) -> None:
        """A cluster at work: some nodes, a driver and one of its executors' clients (and another driver)."""
        for shape in shapes:
            self.node_joins(shape)
        self.client_connects(True, JOBS[0])
        self.client_connects(False, JOBS[0])
        if two_jobs:
            self.client_connects(True, JOBS[1])

    # ---- helpers -----------------------------------------------------------------

    def fresh_id(self, prefix: bytes) -> bytes:
        self.counter += 1
        return prefix[:8].ljust(8, b"-") + self.counter.to_bytes(8, "big")

    def apply(self, *events: Any) -> list[Any]:
        self.now += 1.0
        note(f"step {int(self.now)}: {describe(events)}")
        self.tasks_before = set(self.state.tasks)
        effects = self.state.handle(*events, now=self.now)
        self.state.validate()
        self.carry_out(effects)
        self.check()
        return effects

    def live_clients(self) -> list[SimClient]:
        return [c for c in self.clients.values() if c.connected]

    def joined_nodes(self) -> list[SimNode]:
        return [n for n in self.nodes.values() if n.alive and n.joined]

    def carry_out(self, effects: list[Any]) -> None:
        state = self.state
        for at, e in enumerate(effects):
            kind = type(e)
            if kind is Dispatch:
                node = state.nodes.get(e.node_id)
                assert node is not None and node.alive, f"dispatch to a node that is not alive: {e.node_id!r}"
                task = e.task
                sim = self.nodes[e.node_id]
                assert sim.alive and sim.joined
                if task.kind != ACTOR_METHOD:
                    for dep in task.deps:
                        # An argument exists, or was lost after the task was READY: it is being
                        # made again (its maker is queued) or it is the head's ObjectLostError,
                        # which the executor raises as the task's error.
                        info = state.objects.get(dep)
                        if info is None:
                            assert task_of(dep) in state.tasks, f"{task.name} dispatched without {dep!r}"
                        else:
                            assert not info.is_error or info.failure is not None, f"{task.name}: error argument"
                    for other in self.joined_nodes():
                        assert task.task_id not in other.running, f"{task.name} dispatched while it still runs"
                    story = self.state.task_story(task.task_id)
                    placed = [i for i, m in enumerate(story) if m.state is TaskState.RUNNING and m.at == self.now]
                    assert placed and placed[-1] > 0, f"{task.name} dispatched with no move to RUNNING: {story}"
                    assert story[placed[-1] - 1].state is TaskState.READY, f"{task.name} dispatched: {story}"
                assert not task.cancel, f"{task.name} was dispatched again after it was cancelled"
                sim.running[task.task_id] = task
                sim.attempts[task.task_id] = task.attempt
                sim.yielded[task.task_id] = 0  # a new attempt runs the generator from the start
                if task.kind == ACTOR_CREATION:
                    sim.actors[task.actor_id] = task.attempt
            elif kind is Deliver:
                oid = e.obj.object_id
                if e.obj.node_id is not None:  # a location: it must be there when the client fetches
                    later = effects[at:]
                    freed_after = any(type(f) is FreeObject and f.object_id == oid for f in later)
                    assert oid in state.objects or freed_after, f"object {oid!r} delivered after it was freed"
                client = self.clients.get(e.client_id)
                if client is not None and client.connected:
                    if e.obj.node_id is None:
                        client.values[oid] = e.obj
                    stream = client.unfinished.get(task_of(oid))
                    if stream is not None and stream.generator == STREAMING and oid[TASK_ID_BYTES:] != bytes(4):
                        # an item: the stream goes on until its return 0 (raylite/client/streams.py)
                        client.received.setdefault(stream.task_id, set()).add(
                            int.from_bytes(oid[TASK_ID_BYTES:], "big") - 1
                        )
                        continue
                    spec = client.unfinished.pop(task_of(oid), None)
                    if spec is not None:
                        client.done[spec.task_id] = spec
            elif kind is FreeObject:
                assert e.object_id not in state.objects, f"freed {e.object_id!r} that the head keeps"
                sim = self.nodes[e.node_id]
                sim.store.pop(e.object_id, None)
                sim.copies.pop(e.object_id, None)
            elif kind is PromoteObject:
                sim = self.nodes[e.node_id]
                assert e.object_id in sim.copies, "promoted a copy the node does not have"
                # (what it holds: the head may free the object later in this step's effects)
                sim.store[e.object_id] = sim.copies.pop(e.object_id)
            elif kind is KillActor:
                sim = self.nodes.get(e.node_id)
                if sim is None or not sim.alive:
                    continue
                attempt = sim.actors.pop(e.actor_id, None)
                if attempt is not None:
                    self.kill_calls(sim, e.actor_id)
                    sim.deaths.append(ExecutorDied(sim.node_id, b"", e.actor_id, "killed", attempt))
            elif kind is CancelTask:
                sim = self.nodes[e.node_id]
                assert e.node_id in state.nodes and state.nodes[e.node_id].alive, "a cancel sent to a dead node"
                running = sim.running.get(e.task_id)
                if e.force and running is not None and running.kind == NORMAL:
                    # its executor is killed: the death is reported like any other
                    del sim.running[e.task_id]
                    sim.deaths.append(ExecutorDied(sim.node_id, e.task_id, b"", "cancel", sim.attempts[e.task_id]))
            elif kind is CancelRefused:
                tid = task_of(e.object_id)
                known = tid in state.tasks or tid in state.lineage or tid in state.actors
                if e.actor_call:
                    assert state.tasks[tid].kind == ACTOR_METHOD, "a forced cancel refused for a normal task"
                else:
                    assert not known and e.object_id not in state.objects, f"refused a cancel of a known {tid!r}"
            elif kind is GeneratorProgressed:
                # (or that ran until this step ended it: a driver leaving drops its refs to the stream,
                # which frees the executor, and then its actor, at the end of the step)
                assert e.task_id in state.tasks or e.task_id in self.tasks_before, "progress of a generator never run"
            elif kind is ActorChanged:
                actor = state.actors[e.actor_id]
                if actor.state == "DEAD":
                    self.saved_actors.pop(e.actor_id, None)
                else:
                    self.saved_actors[e.actor_id] = self.snapshot(actor)

    def kill_calls(self, sim: SimNode, actor_id: bytes) -> None:
        for tid, t in list(sim.running.items()):
            if t.actor_id == actor_id and t.kind != NORMAL:
                del sim.running[tid]

    def snapshot(self, actor: ActorRecord) -> ActorRecord:
        """What HeadStorage keeps of an actor (raylite/head/storage.py)."""
        assert actor.creation is not None
        creation = respec(actor.creation, self.requests)
        creation.attempt = actor.creation.attempt
        return ActorRecord(
            actor.actor_id,
            actor.job_id,
            actor.name,
            actor.detached,
            actor.meta,
            state=actor.state,
            node_id=actor.node_id,
            creation=creation,
            restarts_left=actor.restarts_left,
            restarts=actor.restarts,
            max_task_retries=actor.max_task_retries,
            ready=actor.ready,
            namespace=actor.namespace,
            owner=actor.creation.client_id,
        )

    def check(self) -> None:
        state = self.state
        for node in state.nodes.values():
            if node.alive and not self.nodes[node.node_id].overcommit:
                for name, amount in node.available.items():
                    assert amount >= -1e-9, f"node {node.node_id!r} has {amount} {name}"
        for task in state.tasks.values():
            if task.state == "RUNNING" and task.node_id is not None:
                assert state.nodes[task.node_id].alive, f"{task.name} runs on a dead node"
        for oid, info in state.objects.items():
            if info.node_id is not None and info.node_id in state.nodes:
                assert state.nodes[info.node_id].alive, f"object {oid!r} on a dead node"
                sim = self.nodes[info.node_id]
                assert oid in sim.store, f"object {oid!r} is not in the store of its node"
        for actor in state.actors.values():
            if actor.state == "PLACED":
                assert actor.node_id is not None and state.nodes[actor.node_id].alive
            if actor.state == "DEAD":
                assert not actor.held
        for name, actor_id in state.named_actors.items():
            assert state.actors[actor_id].state != "DEAD", f"named actor {name} is dead"
            assert name == (state.actors[actor_id].namespace, state.actors[actor_id].name)
        if not self.recovering:
            for actor in state.actors.values():
                # fate-sharing: a non-detached actor lives only while the process that created it does
                if actor.state != "DEAD" and not actor.detached:
                    assert actor.owner in state.clients, f"actor {actor.actor_id!r} outlived its owner"
        if not state.recovering:
            self.check_nothing_placeable()

    def check_nothing_placeable(self) -> None:
        state = self.state
        nodes = list(state.nodes.values())
        for task in state.tasks.values():
            if task.state != "READY":
                continue
            request = task.placement if task.kind == ACTOR_CREATION else task.resources
            strategy = task.strategy
            if strategy.kind == "NODE_AFFINITY" and not strategy.soft:
                target = state.nodes.get(strategy.node_id)
                assert target is not None and target.alive and fits(request, target.total), (
                    f"{task.name} waits for a node that can never run it"
                )
            placed = scheduler.pick_node(request, strategy, nodes, {}, 0)
            assert placed is None, f"{task.name} is READY but fits node {placed!r}"
        for group in state.placement_groups.values():
            if group.state in ("PENDING", "RESCHEDULING"):
                todo = [i for i, n in enumerate(group.nodes) if n is None]
                fixed = {i: n for i, n in enumerate(group.nodes) if n is not None}
                where = place(group.bundles, todo, group.strategy, nodes, fixed)
                assert where is None, f"placement group {group.hex} waits but fits {where}"

    # ---- nodes -------------------------------------------------------------------

    @precondition(lambda self: len(self.nodes) < len(NODE_IDS))
    @rule(shape=st.sampled_from(NODE_SHAPES))
    def node_joins(self, shape: dict[str, float]) -> None:
        node_id = NODE_IDS[len(self.nodes)]
        self.nodes[node_id] = SimNode(node_id, dict(shape))
        self.saved_nodes.add(node_id)
        self.apply(NodeAdded(node_id, dict(shape)))

    @precondition(lambda self: any(n.alive for n in self.nodes.values()))
    @rule(p=PICKS)
    def node_dies(self, p: Picks) -> None:
        alive = [n for n in self.nodes.values() if n.alive]
        if not alive:
            return
        sim = p.choose(alive)
        sim.alive = False
        self.saved_nodes.discard(sim.node_id)
        if sim.joined:
            self.apply(NodeRemoved(sim.node_id, "gone"))

    @precondition(lambda self: any(n.alive and not n.joined for n in self.nodes.values()))
    @rule(p=PICKS)
    def node_rejoins_restarted_head(self, p: Picks) -> None:
        waiting = [n for n in self.nodes.values() if n.alive and not n.joined]
        if not waiting:
            return
        sim = p.choose(waiting)
        sim.joined = True
        self.saved_nodes.add(sim.node_id)
        running = []
        for tid, t in sim.running.items():
            if t.kind == NORMAL:
                again = respec(t, self.requests)
                again.client_id = b""
                again.attempt = sim.attempts[tid]
                running.append(again)
        objects = [
            ObjectInfo(oid, value=info.value, node_id=sim.node_id, size=info.size, contained=info.contained)
            for oid, info in sim.store.items()
        ]
        hello = NodeAdded(
            sim.node_id,
            dict(sim.resources),
            running=running,
            live_actors=list(sim.actors.items()),
            objects=objects,
            copies=sorted(sim.copies),
        )
        deaths, sim.deaths = sim.deaths, []
        self.apply(hello, *deaths)

    @precondition(lambda self: any(n.deaths for n in self.joined_nodes()))
    @rule(p=PICKS)
    def deaths_reported(self, p: Picks) -> None:
        nodes = [n for n in self.joined_nodes() if n.deaths]
        if not nodes:
            return
        sim = p.choose(nodes)
        deaths, sim.deaths = sim.deaths, []
        self.apply(*deaths)

    # ---- clients -----------------------------------------------------------------

    @precondition(lambda self: self.sessions < 8)
    @rule(is_driver=st.booleans(), job=st.sampled_from(JOBS))
    def client_connects(self, is_driver: bool, job: bytes) -> None:
        self.sessions += 1
        client = SimClient(self.fresh_id(b"client"), job, is_driver)
        self.clients[client.client_id] = client
        self.apply(ClientConnected(client.client_id, job, is_driver))

    @precondition(lambda self: len(self.live_clients()) > 1)
    @rule(p=PICKS)
    def client_disconnects(self, p: Picks) -> None:
        live = self.live_clients()
        if not live:
            return
        client = p.choose(live)
        client.connected = False
        del self.clients[client.client_id]  # for good: a new session has a new id
        self.apply(ClientDisconnected(client.client_id))
        if client.is_driver and not any(c.is_driver and c.job_id == client.job_id for c in self.live_clients()):
            queued = [
                t.name
                for t in self.state.tasks.values()
                if t.job_id == client.job_id and t.kind == NORMAL and t.state in ("WAITING", "READY")
            ]
            assert not queued, f"{queued} stay queued after their driver left"

    @precondition(lambda self: bool(self.clients))
    @rule(p=PICKS, same_step=st.booleans())
    def client_reconnects(self, p: Picks, same_step: bool) -> None:
        """Its stream broke and it resumes its session (with this head, or a restarted one)."""
        clients = list(self.clients.values())
        if not clients:
            return
        client = p.choose(clients)
        events: list[Any] = []
        if client.connected:
            if same_step:
                events.append(ClientDisconnected(client.client_id))
            else:
                self.apply(ClientDisconnected(client.client_id))
        client.connected = True
        events.append(ClientConnected(client.client_id, client.job_id, client.is_driver))
        events.extend(self.resume_batch(client))
        self.apply(*events)

    def resume_batch(self, client: SimClient) -> list[Any]:
        """As raylite/client/core.py's _resume_batch, applied in the servicer's order."""
        events: list[Any] = []
        if client.held:
            events.append(RefsChanged(client.client_id, [(oid, True) for oid in sorted(client.held)]))
        needed = {d for t in client.unfinished.values() for d in t.deps}
        done = [t for t in client.done.values() if any(object_id(t.task_id, i) in needed for i in range(t.num_returns))]
        values = [v for oid, v in client.values.items() if oid in client.held or oid in needed]
        if values:
            events.append(ObjectsPut(values))
        for t in done + list(client.unfinished.values()):
            events.append(TaskSubmitted(respec(t, self.requests)))
        for t in client.unfinished.values():  # (after the tasks, as the servicer applies them)
            if t.generator == STREAMING:
                indices = client.received.get(t.task_id, set())
                arrived = max(indices, default=-1) + 1
                missing = frozenset(range(arrived)) - indices
                events.append(StreamReceivedReported(client.client_id, t.task_id, arrived, missing))
        return events

    # ---- work ----------------------------------------------------------------------

    def draw_refs(self, p: Picks, client: SimClient, label: str) -> tuple[bytes, ...]:
        if not client.held:
            return ()
        return p.some(sorted(client.held), 2)

    def draw_strategy(self, p: Picks) -> Strategy:
        kind = p.choose(["DEFAULT", "DEFAULT", "SPREAD", "NODE_AFFINITY", "PLACEMENT_GROUP"])
        if kind == "PLACEMENT_GROUP":
            if not self.groups:
                return Strategy()
            pg_id = p.choose(sorted(self.groups))
            return Strategy(kind, placement_group_id=pg_id, bundle_index=p.int(-1, self.groups[pg_id] - 1))
        if kind != "NODE_AFFINITY":
            return Strategy(kind)
        return Strategy(kind, p.choose(NODE_IDS[:3]), p.flag())

    def submit(self, client: SimClient, task: TaskRecord) -> None:
        client.unfinished[task.task_id] = task
        returns = [object_id(task.task_id, i) for i in range(task.num_returns)]
        client.held.update(returns)
        self.requests[task.task_id] = (dict(task.resources), dict(task.placement))
        self.apply(
            RefsChanged(client.client_id, [(o, True) for o in returns]), TaskSubmitted(respec(task, self.requests))
        )

    @precondition(lambda self: bool(self.live_clients()))
    @rule(p=PICKS)
    def submit_task(self, p: Picks) -> None:
        live = self.live_clients()
        if not live:
            return
        client = p.choose(live)
        task_id = self.fresh_id(client.client_id)
        task = TaskRecord(
            task_id,
            client.job_id,
            client.client_id,
            f"f{task_id[-1]}",
            resources=dict(p.choose(REQUESTS)),
            deps=self.draw_refs(p, client, "deps"),
            borrowed=self.draw_refs(p, client, "borrowed"),
            num_returns=p.int(1, 2),
            max_retries=p.choose([0, 1, -1]),
            strategy=self.draw_strategy(p),
            parent_id=self.draw_parent(p, client),
            generator=p.choose([NOT_GENERATOR, NOT_GENERATOR, STREAMING, DYNAMIC]),
        )
        if task.generator:
            task.num_returns = 1  # (raylite/head/validate.py refuses others)
        self.submit(client, task)

    def draw_parent(self, p: Picks, client: SimClient) -> bytes:
        """Sometimes a task of the client's job submits it (a nested task), as its executor says."""
        if client.is_driver or not p.flag():
            return b""
        jobs = sorted(t.task_id for t in self.state.tasks.values() if t.job_id == client.job_id)
        return p.choose(jobs) if jobs else self.fresh_id(b"gone")

    @precondition(lambda self: bool(self.live_clients()) and len(self.actor_ids) < 6)
    @rule(p=PICKS)
    def create_actor(self, p: Picks) -> None:
        live = self.live_clients()
        if not live:
            return
        client = p.choose(live)
        actor_id = self.fresh_id(b"actor")
        named = p.flag()
        held = p.choose([{"CPU": 1.0}, {}, {"GPU": 1.0}])
        task = TaskRecord(
            actor_id,
            client.job_id,
            client.client_id,
            "A.__init__",
            kind=ACTOR_CREATION,
            actor_id=actor_id,
            # as raylite/client/actor.py makes them: it is placed where what it holds fits
            resources=dict(held),
            placement=dict(held or p.choose([{"CPU": 1.0}, {}])),
            deps=self.draw_refs(p, client, "deps"),
            max_restarts=p.choose([0, 1, -1]),
            max_task_retries=p.choose([0, 1, -1]),
            detached=p.flag(),
            # few names in two namespaces: names are taken, and freed by deaths
            actor_name=f"actor-{p.int(0, 2)}" if named else "",
            actor_namespace=p.choose(["", "ns"]),
            strategy=self.draw_strategy(p),
        )
        self.actor_ids.append(actor_id)
        self.submit(client, task)

    @precondition(lambda self: bool(self.live_clients()) and bool(self.actor_ids))
    @rule(p=PICKS)
    def call_actor(self, p: Picks) -> None:
        live = self.live_clients()
        if not live or not self.actor_ids:
            return
        client = p.choose(live)
        actor_id = p.choose(self.actor_ids)
        task_id = self.fresh_id(client.client_id)
        handle = object_id(actor_id, 0)
        task = TaskRecord(
            task_id,
            client.job_id,
            client.client_id,
            "A.method",
            kind=ACTOR_METHOD,
            actor_id=actor_id,
            deps=self.draw_refs(p, client, "deps"),
            borrowed=(handle,) if handle in client.held else (),
            num_returns=p.int(1, 2),
            parent_id=self.draw_parent(p, client),
            generator=p.choose([NOT_GENERATOR, NOT_GENERATOR, STREAMING]),
        )
        if task.generator:
            task.num_returns = 1
        self.submit(client, task)

    @precondition(lambda self: any(c.held for c in self.live_clients()))
    @rule(p=PICKS, force=st.booleans(), recursive=st.booleans(), unknown=st.booleans())
    def cancel_requested(self, p: Picks, force: bool, recursive: bool, unknown: bool) -> None:
        holders = [c for c in self.live_clients() if c.held]
        if not holders:
            return
        client = p.choose(holders)
        oid = self.fresh_id(b"nothing") + b"\0\0\0\0" if unknown else p.choose(sorted(client.held))
        task = self.state.tasks.get(task_of(oid))
        before = task.state if task is not None else None
        effects = self.apply(CancelRequested(client.client_id, oid, force, recursive))
        if task is None or task.kind == ACTOR_CREATION:
            return
        if force and task.kind == ACTOR_METHOD:
            assert CancelRefused(client.client_id, oid, actor_call=True) in effects
        elif before in (TaskState.WAITING, TaskState.READY, TaskState.WAITING_FOR_ACTOR):
            assert task.task_id not in self.state.tasks and task.state is TaskState.FINISHED, f"{task.name} stays"
        elif before is TaskState.RUNNING:
            assert task.cancel or task.task_id not in self.state.tasks, f"running {task.name} not marked"

    @precondition(lambda self: bool(self.live_clients()))
    @rule(p=PICKS, inline=st.booleans())
    def put(self, p: Picks, inline: bool) -> None:
        live = self.live_clients()
        nodes = self.joined_nodes()
        if not live or (not inline and not nodes):
            return
        client = p.choose(live)
        oid = self.fresh_id(b"put") + b"\0\0\0\0"
        contained = self.draw_refs(p, client, "contained")
        if inline:
            info = ObjectInfo(oid, value=("inline", oid), size=1, contained=contained)
            client.values[oid] = info
        else:
            sim = p.choose(nodes)
            info = ObjectInfo(oid, value=("stored", oid), node_id=sim.node_id, size=100, contained=contained)
            sim.store[oid] = info
        client.held.add(oid)
        self.apply(RefsChanged(client.client_id, [(oid, True)]), ObjectsPut([info]))

    @precondition(lambda self: any(c.held for c in self.live_clients()))
    @rule(p=PICKS)
    def ref_released(self, p: Picks) -> None:
        holders = [c for c in self.live_clients() if c.held]
        if not holders:
            return
        client = p.choose(holders)
        oid = p.choose(sorted(client.held))
        client.held.discard(oid)
        self.apply(RefsChanged(client.client_id, [(oid, False)]))

    @precondition(lambda self: any(c.held for c in self.live_clients()) and len(self.live_clients()) > 1)
    @rule(p=PICKS)
    def ref_passed(self, p: Picks) -> None:
        """A ref travels to another process, which holds it before the sender may let go."""
        holders = [c for c in self.live_clients() if c.held]
        if not holders or len(self.live_clients()) < 2:
            return
        src = p.choose(holders)
        dst = p.choose([c for c in self.live_clients() if c is not src])
        oid = p.choose(sorted(src.held))
        dst.held.add(oid)
        self.apply(RefsChanged(dst.client_id, [(oid, True)]))

    @precondition(lambda self: any(c.held for c in self.live_clients()))
    @rule(p=PICKS)
    def subscribe(self, p: Picks) -> None:
        holders = [c for c in self.live_clients() if c.held]
        if not holders:
            return
        client = p.choose(holders)
        oid = p.choose(sorted(client.held))
        self.apply(ObjectsSubscribed(client.client_id, [oid]))

    @precondition(lambda self: bool(self.live_clients()) and len(self.groups) < 4)
    @rule(p=PICKS)
    def create_placement_group(self, p: Picks) -> None:
        live = self.live_clients()
        if not live:
            return
        client = p.choose(live)
        pg_id = self.fresh_id(b"group")
        bundles = [dict(p.choose(BUNDLES)) for _ in range(p.int(1, 3))]
        group = PlacementGroupRecord(
            pg_id,
            f"group-{pg_id[-1]}" if p.flag() else "",
            bundles,
            p.choose(PG_STRATEGIES),
            client.job_id,
            client.client_id,
            detached=p.flag(),
        )
        self.groups[pg_id] = len(bundles)
        self.apply(PlacementGroupCreated(group))

    @precondition(lambda self: bool(self.groups))
    @rule(p=PICKS)
    def remove_placement_group(self, p: Picks) -> None:
        pg_id = p.choose(sorted(self.groups))
        running = [t for _, t in self.running_tasks((NORMAL,)) if t.strategy.placement_group_id == pg_id]
        self.apply(PlacementGroupRemoveRequested(pg_id))
        group = self.state.placement_groups.get(pg_id)
        assert group is None or group.state == "REMOVED"
        for task in running:  # they go on, on their node's own resources
            live = self.state.tasks.get(task.task_id)
            assert live is None or live.state != "RUNNING" or live.resources == self.requests[task.task_id][0]
        for node in self.state.nodes.values():
            assert not node.alive or not any(pg_id.hex() in name for name in node.total), (
                f"{node.node_id!r} keeps the group's resources"
            )

    # ---- what nodes report -----------------------------------------------------------

    def running_tasks(
        self, kinds: tuple[int, ...] = (NORMAL, ACTOR_CREATION, ACTOR_METHOD)
    ) -> list[tuple[SimNode, TaskRecord]]:
        return [(n, t) for n in self.joined_nodes() for t in n.running.values() if t.kind in kinds]

    @precondition(lambda self: bool(self.running_tasks()))
    @rule(p=PICKS, outcome=st.sampled_from(["inline", "stored", "error", "retryable"]))
    def task_finishes(self, p: Picks, outcome: str) -> None:
        running = self.running_tasks()
        if not running:
            return
        sim, task = p.choose(running)
        del sim.running[task.task_id]
        if task.kind == ACTOR_METHOD and task.actor_id not in sim.actors:
            outcome = "bounced"  # the actor's process was gone when the call came
        elif task.kind != NORMAL and outcome == "retryable":
            outcome = "error"
        elif task.kind == ACTOR_CREATION and outcome == "stored":
            outcome = "inline"  # a constructor's result is None, always sent inline (executor_main.py)
        # a task may return a ref it was given; a constructor's result is None (executor_main.py)
        contained = (task.deps + task.borrowed)[:1] if task.kind != ACTOR_CREATION else ()
        results = []
        for i in range(task.num_returns if task.kind != ACTOR_CREATION else 1):
            oid = object_id(task.task_id, i)
            if outcome in ("error", "retryable", "bounced"):
                results.append(ObjectInfo(oid, value="error", size=5, is_error=True))
            elif outcome == "stored":
                info = ObjectInfo(oid, value=("stored", oid), node_id=sim.node_id, size=1000, contained=contained)
                sim.store[oid] = info
                results.append(info)
            else:
                results.append(ObjectInfo(oid, value=("inline", oid), size=1, contained=contained))
        if task.kind == ACTOR_CREATION and outcome == "error":
            sim.actors.pop(task.actor_id, None)  # the process exits after its constructor raised
        summary = "ValueError: no" if outcome != "inline" and outcome != "stored" else ""
        retryable = outcome in ("retryable", "bounced")
        self.apply(TaskFinished(sim.node_id, task.task_id, results, summary, retryable))

    def running_generators(self) -> list[tuple[SimNode, TaskRecord]]:
        return [(n, t) for n, t in self.running_tasks((NORMAL, ACTOR_METHOD)) if t.generator]

    @precondition(lambda self: bool(self.running_generators()) and bool(self.live_clients()))
    @rule(p=PICKS, stored=st.booleans())
    def generator_yields(self, p: Picks, stored: bool) -> None:
        """A running generator's executor stores its next item and reports it on its client stream."""
        running = self.running_generators()
        live = self.live_clients()
        if not running or not live:
            return
        sim, task = p.choose(running)
        if task.kind == ACTOR_METHOD and task.actor_id not in sim.actors:
            return
        reporter = p.choose(live)
        index = sim.yielded.get(task.task_id, 0)
        sim.yielded[task.task_id] = index + 1
        oid = object_id(task.task_id, index + 1)
        contained = (task.deps + task.borrowed)[:1]
        if stored:
            info = ObjectInfo(oid, value=("stored", oid), node_id=sim.node_id, size=1000, contained=contained)
            sim.store[oid] = info
        else:
            info = ObjectInfo(oid, value=("inline", oid), size=1, contained=contained)
        events: list[Any] = []
        if task.generator == DYNAMIC:  # the executor holds a ref to each item it reports
            reporter.held.add(oid)
            events.append(RefsChanged(reporter.client_id, [(oid, True)]))
        events.append(GeneratorItemReported(sim.node_id, reporter.client_id, task.task_id, index, info))
        self.apply(*events)

    @precondition(lambda self: any(c.held for c in self.live_clients()))
    @rule(p=PICKS)
    def stream_item_taken(self, p: Picks) -> None:
        """A caller takes the next items out of its ObjectRefGenerator (or tells how far it got)."""
        callers = [
            (c, oid)
            for c in self.live_clients()
            for oid in sorted(self.state.objects)
            if oid[16:] != b"\0\0\0\0" and object_id(task_of(oid), 0) in c.held and oid not in c.held
        ]
        if not callers:
            return
        client, oid = p.choose(callers)
        client.held.add(oid)
        index = int.from_bytes(oid[16:], "big")
        self.apply(RefsChanged(client.client_id, [(oid, True)]), GeneratorConsumed(client.client_id, oid[:16], index))

    @precondition(lambda self: bool(self.running_tasks((NORMAL,))) or any(n.actors for n in self.joined_nodes()))
    @rule(p=PICKS)
    def executor_dies(self, p: Picks) -> None:
        running = self.running_tasks((NORMAL,))
        actors = [(n, a) for n in self.joined_nodes() for a in n.actors]
        choices: list[Any] = running + actors
        if not choices:
            return
        sim, what = p.choose(choices)
        if isinstance(what, TaskRecord):
            del sim.running[what.task_id]
            self.apply(ExecutorDied(sim.node_id, what.task_id, b"", "crash", sim.attempts[what.task_id]))
        else:
            attempt = sim.actors.pop(what)
            self.kill_calls(sim, what)
            self.apply(ExecutorDied(sim.node_id, b"", what, "crash", attempt))

    @precondition(lambda self: any(n.actors for n in self.joined_nodes()))
    @rule(p=PICKS)
    def actor_exits(self, p: Picks) -> None:
        """An actor ends itself (exit_actor(), __ray_terminate__): its process exits, saying so first."""
        actors = [(n, a) for n in self.joined_nodes() for a in n.actors]
        if not actors:
            return
        sim, actor_id = p.choose(actors)
        attempt = sim.actors.pop(actor_id)
        self.kill_calls(sim, actor_id)
        self.apply(ExecutorDied(sim.node_id, b"", actor_id, "exit_actor() was called", attempt, intentional=True))
        actor = self.state.actors[actor_id]
        if actor.creation is None or actor.creation.attempt in (0, attempt):
            assert actor.state == "DEAD", f"an actor that exited on purpose is {actor.state}"
            assert actor.death == "exit_actor() was called"

    @precondition(lambda self: bool(self.state.tasks) and bool(self.joined_nodes()))
    @rule(p=PICKS)
    def stale_report(self, p: Picks) -> None:
        """A late or misdirected report: a finish from the wrong node, a death of an old attempt."""
        if not self.state.tasks or not self.joined_nodes():
            return
        task = p.choose(sorted(self.state.tasks.values(), key=lambda t: t.task_id))
        sim = p.choose(self.joined_nodes())
        if task.node_id == sim.node_id:
            event: Any = ExecutorDied(sim.node_id, task.task_id, task.actor_id if task.kind else b"", "old", 10**6)
        else:
            event = TaskFinished(sim.node_id, task.task_id, [ObjectInfo(object_id(task.task_id, 0), value="late")])
        self.apply(event)

    @precondition(lambda self: bool(self.running_tasks((NORMAL,))))
    @rule(p=PICKS, blocked=st.booleans())
    def task_blocks_or_resumes(self, p: Picks, blocked: bool) -> None:
        running = self.running_tasks((NORMAL,))
        if not running:
            return
        sim, task = p.choose(running)
        # Resuming may overcommit the node (by design); so may a restarted head adopting
        # a task blocked at the time (a node does not report which of its tasks block).
        sim.overcommit = True
        self.apply(TaskBlockChanged(task.task_id, blocked))

    @precondition(lambda self: bool(self.actor_ids))
    @rule(p=PICKS, no_restart=st.booleans())
    def actor_killed(self, p: Picks, no_restart: bool) -> None:
        if not self.actor_ids:
            return
        actor_id = p.choose(self.actor_ids)
        self.apply(ActorKillRequested(actor_id, no_restart=no_restart))

    @precondition(lambda self: len(self.joined_nodes()) > 1)
    @rule(p=PICKS, evict=st.booleans())
    def copy_pulled_or_evicted(self, p: Picks, evict: bool) -> None:
        nodes = self.joined_nodes()
        if not nodes:
            return
        sim = p.choose(nodes)
        if evict:
            if not sim.copies:
                return
            oid = p.choose(sorted(sim.copies))
            del sim.copies[oid]
            self.apply(ObjectCopiesChanged(sim.node_id, [], [oid]))
            return
        elsewhere = {
            oid: info
            for n in nodes
            if n is not sim
            for oid, info in n.store.items()
            if oid in self.state.objects and oid not in sim.copies
        }
        if not elsewhere:
            return
        oid = p.choose(sorted(elsewhere))
        sim.copies[oid] = elsewhere[oid]
        self.apply(ObjectCopiesChanged(sim.node_id, [oid], []))

    # ---- head restart ------------------------------------------------------------------

    @precondition(lambda self: self.restarts < 2 and not self.recovering and self.now > 10)
    @rule(lose_item=st.booleans())
    def head_restarts(self, lose_item: bool) -> None:
        """The head is killed (lose_item: an instant after it read a generator's item, which it
        took with it: its caller never had it) and restarts."""
        streaming = [(n, t) for n, t in self.running_generators() if t.generator == STREAMING]
        if lose_item and streaming:
            sim, task = streaming[0]
            sim.yielded[task.task_id] = sim.yielded.get(task.task_id, 0) + 1
        self.restarts += 1
        self.state = HeadState()
        self.recovering = True
        for client in self.clients.values():
            client.connected = False
        for sim in self.nodes.values():
            sim.joined = False
        actors = [self.snapshot(a) for a in self.saved_actors.values()]
        self.apply(HeadRestarted(actors, sorted(self.saved_nodes)))

    @precondition(lambda self: self.recovering)
    @rule()
    def recovery_ends(self) -> None:
        self.recovering = False
        for sim in self.nodes.values():
            if sim.alive and not sim.joined:
                self.saved_nodes.discard(sim.node_id)  # rejoins later as if new: the head adopts what it reports
        self.apply(RecoveryEnded())

    @invariant()
    def accounting_holds(self) -> None:
        self.state.validate()


def test_a_node_promotes_a_copy_and_frees_it_in_one_step() -> None:
    """Found by the long search: the head promoted a node's copy whose primary died with
    its node and, in the same step, freed it (the last task needing it failed with that
    node). The simulated node read the promoted object from the head's state after the
    whole step, when the head no longer had it (KeyError); a node has only what it was
    told, and what it holds."""
    machine = HeadStateMachine()
    sim = machine.nodes[NODE_IDS[1]] = SimNode(NODE_IDS[1], {"CPU": 1.0})
    oid = b"put-----".ljust(20, b"\0")
    sim.copies[oid] = ObjectInfo(oid, value=("stored", oid), node_id=NODE_IDS[0], size=100)
    machine.carry_out([PromoteObject(sim.node_id, oid), FreeObject(sim.node_id, oid)])
    assert oid not in sim.store and oid not in sim.copies


def test_a_constructor_result_is_never_stored(monkeypatch: Any) -> None:
    """Found by the long search: a simulated node stored an actor constructor's result,
    which the head keeps as the actor's `ready` (it stands for the handles, and is given
    again to a client that resubmits the creation). A real executor's constructor result
    is None, which is always sent inline (executor_main.py's _pack_results)."""
    monkeypatch.setattr(sys.modules[__name__], "note", lambda _: None)
    machine = HeadStateMachine()
    machine.cluster([{"CPU": 1.0}], two_jobs=False)
    machine.create_actor(Picks([1]))  # (picks that make an actor that fits the node)
    [sim] = machine.nodes.values()
    [(actor_id, _)] = sim.actors.items()
    machine.task_finishes(Picks([0]), "stored")
    ready = machine.state.actors[actor_id].ready
    assert ready is not None and ready.node_id is None and not sim.store


HeadStateMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestHeadStateRandomly = HeadStateMachine.TestCase
