"""The pure parts of scripts/chaos.py: seed lists, fault plans and the verdict on a round."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import chaos  # noqa: E402


def report(wrong=(), errors=(), puts=()) -> dict:
    return {"wrong": list(wrong), "errors": list(errors), "puts": list(puts)}


def lost(what: str) -> dict:
    return {"what": what, "type": "ObjectLostError", "message": "its only copy was on node n1"}


PUTS = [{"what": "put 0", "node": "n1", "lost": True}, {"what": "put 1", "node": "n2", "lost": False}]


def test_seed_lists() -> None:
    assert chaos.parse_seeds("0-3") == [0, 1, 2, 3]
    assert chaos.parse_seeds("1,5,9-11") == [1, 5, 9, 10, 11]
    with pytest.raises(ValueError, match="seed list"):
        chaos.parse_seeds("a-b")


def test_a_seed_fixes_the_plan_and_every_plan_kills_one_worker_host() -> None:
    assert chaos.plan_faults(7) == chaos.plan_faults(7)
    plans = [chaos.plan_faults(s) for s in range(50)]
    assert len({p.executor_kills for p in plans}) > 40
    assert {p.host for p in plans} == set(chaos.VICTIMS)
    assert all(p.max_faults == len(p.executor_kills) + 1 >= 4 for p in plans)
    assert len(chaos.plan_faults(7, intensity=3).executor_kills) == 3 * len(chaos.plan_faults(7).executor_kills)


def test_only_puts_on_the_killed_node_may_be_lost() -> None:
    problems, expected = chaos.judge(report(errors=[lost("put 0")], puts=PUTS), killed_node="n1")
    assert problems == [] and expected == ["put 0"]


def test_a_wrong_result_fails_the_round() -> None:
    problems, _ = chaos.judge(report(wrong=["compute 3: got 1, expected 2"]), killed_node="n1")
    assert problems == ["wrong result: compute 3: got 1, expected 2"]


def test_an_error_other_than_a_lost_put_fails_the_round() -> None:
    crashed = {"what": "compute 3", "type": "WorkerCrashedError", "message": "no retries left"}
    problems, _ = chaos.judge(report(errors=[lost("put 0"), crashed], puts=PUTS), killed_node="n1")
    assert len(problems) == 1 and "WorkerCrashedError reading compute 3" in problems[0]


def test_a_put_lost_on_a_node_that_lived_fails_the_round() -> None:
    puts = [{"what": "put 1", "node": "n2", "lost": True}]
    problems, expected = chaos.judge(report(errors=[lost("put 1")], puts=puts), killed_node="n1")
    assert expected == [] and "unexpected ObjectLostError reading put 1" in problems[0]


def test_a_put_on_the_killed_node_that_was_still_read_fails_the_round() -> None:
    """It had no other copy: reading it means the check or the kill did not happen as planned."""
    puts = [{"what": "put 0", "node": "n1", "lost": False}]
    problems, _ = chaos.judge(report(puts=puts), killed_node="n1")
    assert problems == ["put 0 lived only on the killed node, yet it was read after the kill"]
