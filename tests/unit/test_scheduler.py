"""Placement policies (raylite.head.state.scheduler) on hand-built NodeRecords."""

from __future__ import annotations

from raylite.head.state import scheduler
from raylite.head.state.model import NodeRecord, Strategy

ONE_CPU = {"CPU": 1.0}


def node(
    node_id: bytes, total: dict[str, float], used: dict[str, float] | None = None, alive: bool = True
) -> NodeRecord:
    available = dict(total)
    for name, amount in (used or {}).items():
        available[name] = available.get(name, 0.0) - amount
    return NodeRecord(node_id, dict(total), available, alive=alive)


def affinity(node_id: bytes, soft: bool = False) -> Strategy:
    return Strategy("NODE_AFFINITY", node_id, soft)


# ---- feasible_anywhere ------------------------------------------------------------


def test_feasible_anywhere_looks_at_totals_not_availability() -> None:
    busy = node(b"n1", {"CPU": 2.0}, used={"CPU": 2.0})
    assert scheduler.feasible_anywhere({"CPU": 2.0}, [busy])
    assert not scheduler.feasible_anywhere({"CPU": 3.0}, [busy])


def test_feasible_anywhere_ignores_dead_nodes_and_empty_clusters() -> None:
    assert not scheduler.feasible_anywhere(ONE_CPU, [node(b"n1", {"CPU": 8.0}, alive=False)])
    assert not scheduler.feasible_anywhere(ONE_CPU, [])


# ---- pick_default ---------------------------------------------------------------


def test_default_returns_none_without_room() -> None:
    assert scheduler.pick_default(ONE_CPU, [], {}) is None
    nodes = [node(b"n1", {"CPU": 1.0}, used={"CPU": 1.0}), node(b"n2", {"GPU": 1.0})]
    assert scheduler.pick_default(ONE_CPU, nodes, {}) is None


def test_default_skips_dead_nodes() -> None:
    nodes = [node(b"dead", {"CPU": 8.0}, alive=False), node(b"n2", {"CPU": 1.0})]
    assert scheduler.pick_default(ONE_CPU, nodes, {}) == b"n2"


def test_default_picks_least_loaded_node() -> None:
    nodes = [
        node(b"n1", {"CPU": 4.0}, used={"CPU": 3.0}),  # 75% loaded
        node(b"n2", {"CPU": 2.0}, used={"CPU": 0.5}),  # 25% loaded
        node(b"n3", {"CPU": 8.0}, used={"CPU": 4.0}),  # 50% loaded
    ]
    assert scheduler.pick_default(ONE_CPU, nodes, {}) == b"n2"


def test_default_load_is_relative_not_absolute() -> None:
    # n1 has more free CPUs (4) but is busier (50%) than n2 (1 free of 1, 0%).
    nodes = [node(b"n1", {"CPU": 8.0}, used={"CPU": 4.0}), node(b"n2", {"CPU": 1.0})]
    assert scheduler.pick_default(ONE_CPU, nodes, {}) == b"n2"


def test_default_ties_go_to_the_first_node() -> None:
    nodes = [node(b"n1", {"CPU": 2.0}), node(b"n2", {"CPU": 2.0})]
    assert scheduler.pick_default(ONE_CPU, nodes, {}) == b"n1"


def test_default_prefers_locality_over_load_when_it_has_room() -> None:
    nodes = [
        node(b"idle", {"CPU": 4.0}),
        node(b"data", {"CPU": 4.0}, used={"CPU": 3.0}),
    ]
    assert scheduler.pick_default(ONE_CPU, nodes, {b"data": 1000}) == b"data"


def test_default_prefers_node_with_most_locality_bytes() -> None:
    nodes = [node(b"n1", {"CPU": 2.0}), node(b"n2", {"CPU": 2.0}), node(b"n3", {"CPU": 2.0})]
    assert scheduler.pick_default(ONE_CPU, nodes, {b"n1": 10, b"n2": 5000, b"n3": 200}) == b"n2"


def test_default_falls_back_to_least_loaded_when_locality_node_is_full() -> None:
    nodes = [
        node(b"data", {"CPU": 2.0}, used={"CPU": 2.0}),
        node(b"busy", {"CPU": 4.0}, used={"CPU": 3.0}),
        node(b"idle", {"CPU": 4.0}),
    ]
    assert scheduler.pick_default(ONE_CPU, nodes, {b"data": 10**6}) == b"idle"


def test_default_ignores_zero_byte_locality() -> None:
    nodes = [node(b"busy", {"CPU": 4.0}, used={"CPU": 2.0}), node(b"idle", {"CPU": 4.0})]
    assert scheduler.pick_default(ONE_CPU, nodes, {b"busy": 0}) == b"idle"


def test_default_ignores_locality_on_dead_node() -> None:
    nodes = [node(b"data", {"CPU": 4.0}, alive=False), node(b"n2", {"CPU": 4.0})]
    assert scheduler.pick_default(ONE_CPU, nodes, {b"data": 500}) == b"n2"


def test_default_matches_custom_resources() -> None:
    nodes = [node(b"cpu", {"CPU": 8.0}), node(b"gpu", {"CPU": 8.0, "GPU": 1.0}, used={"CPU": 7.0})]
    assert scheduler.pick_default({"CPU": 1.0, "GPU": 1.0}, nodes, {}) == b"gpu"


# ---- pick_spread -----------------------------------------------------------------


def test_spread_starts_after_the_cursor_and_wraps() -> None:
    nodes = [node(b"n0", ONE_CPU), node(b"n1", ONE_CPU), node(b"n2", ONE_CPU)]
    assert scheduler.pick_spread(ONE_CPU, nodes, 0) == b"n1"
    assert scheduler.pick_spread(ONE_CPU, nodes, 1) == b"n2"
    assert scheduler.pick_spread(ONE_CPU, nodes, 2) == b"n0"


def test_spread_skips_full_and_dead_nodes() -> None:
    nodes = [
        node(b"n0", ONE_CPU),
        node(b"full", ONE_CPU, used=ONE_CPU),
        node(b"dead", ONE_CPU, alive=False),
    ]
    assert scheduler.pick_spread(ONE_CPU, nodes, 0) == b"n0"


def test_spread_may_pick_the_cursor_node_itself_last() -> None:
    nodes = [node(b"n0", ONE_CPU, used=ONE_CPU), node(b"n1", ONE_CPU)]
    assert scheduler.pick_spread(ONE_CPU, nodes, 1) == b"n1"


def test_spread_returns_none_without_room() -> None:
    assert scheduler.pick_spread(ONE_CPU, [], 0) is None
    assert scheduler.pick_spread(ONE_CPU, [node(b"n0", ONE_CPU, used=ONE_CPU)], 0) is None


def test_spread_round_robins_when_cursor_follows_picks() -> None:
    nodes = [node(b"n0", {"CPU": 8.0}), node(b"n1", {"CPU": 8.0}), node(b"n2", {"CPU": 8.0})]
    cursor, picks = 0, []
    for _ in range(6):
        picked = scheduler.pick_spread(ONE_CPU, nodes, cursor)
        picks.append(picked)
        cursor = [n.node_id for n in nodes].index(picked)
    assert picks == [b"n1", b"n2", b"n0", b"n1", b"n2", b"n0"]


# ---- pick_node --------------------------------------------------------------------


def test_pick_node_default_and_spread_dispatch() -> None:
    nodes = [node(b"n0", ONE_CPU), node(b"n1", ONE_CPU)]
    assert scheduler.pick_node(ONE_CPU, Strategy(), nodes, {}, 0) == b"n0"
    assert scheduler.pick_node(ONE_CPU, Strategy("SPREAD"), nodes, {}, 0) == b"n1"


def test_hard_affinity_picks_target_with_room() -> None:
    nodes = [node(b"n0", {"CPU": 4.0}), node(b"n1", {"CPU": 4.0}, used={"CPU": 3.0})]
    assert scheduler.pick_node(ONE_CPU, affinity(b"n1"), nodes, {b"n0": 999}, 0) == b"n1"


def test_hard_affinity_waits_for_busy_target_even_if_others_are_free() -> None:
    nodes = [node(b"n0", {"CPU": 4.0}), node(b"n1", ONE_CPU, used=ONE_CPU)]
    assert scheduler.pick_node(ONE_CPU, affinity(b"n1"), nodes, {}, 0) is None


def test_hard_affinity_returns_none_for_dead_unknown_or_infeasible_target() -> None:
    nodes = [node(b"n0", {"CPU": 4.0}), node(b"dead", {"CPU": 4.0}, alive=False), node(b"small", ONE_CPU)]
    assert scheduler.pick_node(ONE_CPU, affinity(b"dead"), nodes, {}, 0) is None
    assert scheduler.pick_node(ONE_CPU, affinity(b"nope"), nodes, {}, 0) is None
    assert scheduler.pick_node({"CPU": 2.0}, affinity(b"small"), nodes, {}, 0) is None


def test_soft_affinity_picks_target_with_room() -> None:
    nodes = [node(b"n0", {"CPU": 4.0}), node(b"n1", {"CPU": 4.0}, used={"CPU": 2.0})]
    assert scheduler.pick_node(ONE_CPU, affinity(b"n1", soft=True), nodes, {}, 0) == b"n1"


def test_soft_affinity_falls_back_when_target_is_dead_unknown_or_infeasible() -> None:
    nodes = [
        node(b"n0", {"CPU": 4.0}),
        node(b"dead", {"CPU": 4.0}, alive=False),
        node(b"small", ONE_CPU),
    ]
    assert scheduler.pick_node(ONE_CPU, affinity(b"dead", soft=True), nodes, {}, 0) == b"n0"
    assert scheduler.pick_node(ONE_CPU, affinity(b"nope", soft=True), nodes, {}, 0) == b"n0"
    assert scheduler.pick_node({"CPU": 2.0}, affinity(b"small", soft=True), nodes, {}, 0) == b"n0"


def test_soft_affinity_waits_for_busy_but_feasible_target() -> None:
    # Ray semantics: soft only spills when the target is dead or infeasible;
    # a live target that can fit the request is waited for.
    nodes = [node(b"n0", {"CPU": 4.0}), node(b"n1", ONE_CPU, used=ONE_CPU)]
    assert scheduler.pick_node(ONE_CPU, affinity(b"n1", soft=True), nodes, {}, 0) is None


def test_soft_affinity_fallback_uses_locality() -> None:
    nodes = [node(b"n0", {"CPU": 4.0}), node(b"n1", {"CPU": 4.0}, used={"CPU": 3.0})]
    assert scheduler.pick_node(ONE_CPU, affinity(b"gone", soft=True), nodes, {b"n1": 64}, 0) == b"n1"


def test_policies_do_not_mutate_nodes() -> None:
    nodes = [node(b"n0", {"CPU": 2.0}, used={"CPU": 1.0}), node(b"n1", {"CPU": 2.0})]
    before = [(n.total.copy(), n.available.copy(), n.alive) for n in nodes]
    for strategy in (Strategy(), Strategy("SPREAD"), affinity(b"n0"), affinity(b"n0", soft=True)):
        scheduler.pick_node(ONE_CPU, strategy, nodes, {b"n0": 10}, 0)
    assert [(n.total, n.available, n.alive) for n in nodes] == before


# ---- NodeTable.least_loaded: the default policy without walking every node -------------------


def test_least_loaded_agrees_with_pick_default_through_random_changes() -> None:
    import random

    from raylite.head.state.nodes import NodeTable
    from raylite.head.state.sink import Sink

    rng = random.Random(7)
    table = NodeTable(Sink())
    requests = [ONE_CPU, {"CPU": 2.0}, {"CPU": 0.5, "GPU": 1.0}, {"CPU": 3.0}, {}]
    held: list[tuple[bytes, dict[str, float]]] = []
    decided = 0
    for step in range(3000):
        roll = rng.random()
        if roll < 0.02 or not table.nodes:
            total = {"CPU": float(rng.choice([1, 2, 4, 8, 0]))} | ({"GPU": 1.0} if rng.random() < 0.3 else {})
            table.add(f"n{step}".encode(), total, None)
        elif roll < 0.03:
            table.remove(rng.choice(list(table.nodes)))
        elif roll < 0.06:
            node_id = rng.choice(list(table.nodes))
            table.grow(node_id, {"CPU": 1.0})
            table.shrink(node_id, {"CPU": 1.0})
        elif roll < 0.5 and held:
            table.give_back(*held.pop(rng.randrange(len(held))))
        request = rng.choice(requests)
        expected = scheduler.pick_default(request, list(table.nodes.values()), {})
        quick = table.least_loaded(request)
        if quick is not False:
            decided += 1
            assert quick == expected, f"step {step}: least_loaded {quick!r}, pick_default {expected!r}"
        if expected is not None and roll >= 0.5:
            table.take(expected, request)
            held.append((expected, request))
        assert len(table._by_load) <= 4 * len(table.nodes) + 65, "stale heap entries pile up"
    assert decided > 2000, f"only {decided} of 3000 choices were made without a walk"
