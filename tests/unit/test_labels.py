"""Node labels: the pure matching (raylite/labels.py), the scheduler and placement policies
that use it, and the user-facing NodeLabelSchedulingStrategy and label_selector checks."""

from __future__ import annotations

import pytest

from raylite import labels
from raylite.client import submit
from raylite.head.state import placement_policy, scheduler
from raylite.head.state.model import NodeRecord, Strategy
from raylite.util.scheduling_strategies import DoesNotExist, Exists, In, NodeLabelSchedulingStrategy, NotIn

US = {"region": "us", "tier": "gold"}
EU = {"region": "eu"}


def node(node_id: bytes, node_labels: dict[str, str], cpus: float = 1.0, used: float = 0.0) -> NodeRecord:
    return NodeRecord(node_id, {"CPU": cpus}, {"CPU": cpus - used}, labels=dict(node_labels))


def by_labels(hard=(), soft=(), kind: str = "NODE_LABEL") -> Strategy:
    return Strategy(kind, hard_labels=tuple(hard), soft_labels=tuple(soft))


# ---- matching ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "on_us", "on_eu", "on_none"),
    [
        (("region", labels.IN, ("us", "ca")), True, False, False),
        (("region", labels.NOT_IN, ("us",)), False, True, True),
        (("tier", labels.EXISTS, ()), True, False, False),
        (("tier", labels.DOES_NOT_EXIST, ()), False, True, True),
    ],
)
def test_each_operator_as_ray_defines_it(match, on_us, on_eu, on_none) -> None:
    assert (labels.holds(US, match), labels.holds(EU, match), labels.holds({}, match)) == (on_us, on_eu, on_none)


def test_label_selector_syntax() -> None:
    got = labels.parse_selector({"a": "x", "b": "!y", "c": "in(p, q)", "d": "!in(r,s)"})
    assert got == [
        ("a", labels.IN, ("x",)),
        ("b", labels.NOT_IN, ("y",)),
        ("c", labels.IN, ("p", "q")),
        ("d", labels.NOT_IN, ("r", "s")),
    ]
    with pytest.raises(ValueError, match="lists no value"):
        labels.parse_selector({"a": "in()"})
    with pytest.raises(ValueError, match="must be a string"):
        labels.parse_selector({"a": 1})
    with pytest.raises(TypeError, match="dict of label name"):
        labels.parse_selector(["a"])


def test_start_flags_parse_and_name_what_is_wrong() -> None:
    assert labels.parse_labels_arg("region=us, tier=gold,") == {"region": "us", "tier": "gold"}
    with pytest.raises(ValueError, match="'oops' is not key=value"):
        labels.parse_labels_arg("region=us,oops")
    text = "# a comment\nregion: us\ntier: 'gold'  # inline\n\nzone: \"a b\"\n"
    assert labels.parse_labels_file(text) == {"region": "us", "tier": "gold", "zone": "a b"}
    with pytest.raises(ValueError, match="line 1"):
        labels.parse_labels_file("no colon here")


def test_init_labels_must_be_strings() -> None:
    assert labels.check_labels({"a": "b"}, "init()") == {"a": "b"}
    assert labels.check_labels(None, "init()") == {}
    with pytest.raises(TypeError, match="init\\(\\): label 'a': 1"):
        labels.check_labels({"a": 1}, "init()")


# ---- the strategy, as the user writes it -----------------------------------------------


def test_node_label_strategy_checks_what_ray_checks() -> None:
    with pytest.raises(ValueError, match="cannot both be empty"):
        NodeLabelSchedulingStrategy({})
    with pytest.raises(ValueError, match="at least one value"):
        In()
    with pytest.raises(ValueError, match="value 0 is 1 of type int"):
        In(1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be In, NotIn, Exists or DoesNotExist"):
        NodeLabelSchedulingStrategy({"a": "b"})  # type: ignore[dict-item]
    strategy = NodeLabelSchedulingStrategy({"region": In("us")}, soft={"gpu": Exists(), "spot": DoesNotExist()})
    message = submit.strategy_message(strategy)
    assert message is not None and message.kind == "NODE_LABEL"
    assert [(m.key, m.op, list(m.values)) for m in message.hard_labels] == [("region", "in", ["us"])]
    assert [(m.key, m.op) for m in message.soft_labels] == [("gpu", "exists"), ("spot", "does_not_exist")]
    assert NotIn("a") == NotIn("a") and NotIn("a") != In("a")


# ---- the head's policies ------------------------------------------------------------------


def test_only_nodes_with_the_hard_labels_are_picked() -> None:
    nodes = [node(b"us", US, used=0.5), node(b"eu", EU)]  # eu is less loaded: the default would pick it
    hard = [("region", labels.IN, ("us",))]
    assert scheduler.pick_node({"CPU": 0.5}, by_labels(hard), nodes, {}, 0) == b"us"
    assert scheduler.pick_node({"CPU": 1.0}, by_labels(hard), nodes, {}, 0) is None  # us has no room: wait
    assert scheduler.feasible_anywhere({"CPU": 1.0}, nodes, by_labels(hard))
    assert not scheduler.feasible_anywhere({"CPU": 1.0}, nodes, by_labels([("region", labels.IN, ("ap",))]))


def test_soft_labels_are_preferred_and_fall_back_when_those_nodes_are_full() -> None:
    nodes = [node(b"eu", EU), node(b"us", US, used=0.5)]
    soft = [("tier", labels.EXISTS, ())]
    assert scheduler.pick_node({"CPU": 0.5}, by_labels(soft=soft), nodes, {}, 0) == b"us"
    assert scheduler.pick_node({"CPU": 1.0}, by_labels(soft=soft), nodes, {}, 0) == b"eu"


def test_a_label_selector_filters_the_spread_policy_too() -> None:
    nodes = [node(b"a", US), node(b"b", EU), node(b"c", US)]
    spread = by_labels([("region", labels.IN, ("us",))], kind="SPREAD")
    picked = {scheduler.pick_node({"CPU": 0.1}, spread, nodes, {}, cursor) for cursor in range(3)}
    assert picked == {b"a", b"c"}


def test_bundles_with_label_selectors_go_only_on_matching_nodes() -> None:
    nodes = [node(b"us", US, cpus=2), node(b"eu", EU, cpus=2)]
    bundles = [{"CPU": 1.0}, {"CPU": 1.0}]
    wants_eu = [(), (("region", labels.IN, ("eu",)),)]
    assert placement_policy.place(bundles, [0, 1], "STRICT_SPREAD", nodes, {}, wants_eu) == {0: b"us", 1: b"eu"}
    assert placement_policy.place(bundles, [0, 1], "PACK", nodes, {}, wants_eu)[1] == b"eu"
    both_us = [(("region", labels.IN, ("us",)),)] * 2
    assert placement_policy.place(bundles, [0, 1], "STRICT_PACK", nodes, {}, both_us) == {0: b"us", 1: b"us"}
    assert placement_policy.place(bundles, [0, 1], "STRICT_SPREAD", nodes, {}, both_us) is None
    assert not placement_policy.feasible(bundles, "STRICT_SPREAD", nodes, both_us)
    assert placement_policy.feasible(bundles, "STRICT_PACK", nodes, both_us)


def test_the_head_warns_once_when_no_node_has_the_labels_and_places_on_the_one_that_joins() -> None:
    from raylite.head.state import HeadState
    from raylite.head.state.model import ClientConnected, Dispatch, NodeAdded, TaskSubmitted, Warn
    from tests.unit.test_head_state import DRIVER, JOB, task

    state = HeadState()
    state.handle(ClientConnected(DRIVER, JOB, is_driver=True))
    state.handle(NodeAdded(b"n-us", {"CPU": 1.0}, labels={"region": "us"}))
    wants_eu = task("t", strategy=by_labels([("region", labels.IN, ("eu",))]))
    effects = state.handle(TaskSubmitted(wants_eu))
    state.validate()
    [warning] = [e for e in effects if isinstance(e, Warn)]
    assert "no node has the labels it asks for (region in (eu))" in warning.message
    assert not [e for e in effects if isinstance(e, Dispatch)]
    effects = state.handle(NodeAdded(b"n-eu", {"CPU": 1.0}, labels={"region": "eu"}))
    state.validate()
    assert [e.node_id for e in effects if isinstance(e, Dispatch)] == [b"n-eu"]
    assert state.nodes[b"n-eu"].labels == {"region": "eu", "ray.io/node-id": b"n-eu".hex()}
