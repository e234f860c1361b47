"""The head's lease table (raylite/head/state/leases.py): grants hold node resources like
running tasks, returns drain through the node, revocation for fairness, node death, adoption."""

from __future__ import annotations

import pytest

from raylite.head.state.leases import (
    LEASE_TRANSITIONS,
    IllegalLeaseTransition,
    Lease,
    LeaseGranted,
    LeaseRevoked,
    LeaseState,
    LeaseStopped,
    LeaseTable,
)
from raylite.head.state.nodes import NodeTable
from raylite.head.state.sink import Sink

CPU1 = {"CPU": 1.0}
N1, N2 = b"n" * 16, b"m" * 16
C1, C2 = b"c" * 8, b"d" * 8


def _table(cpus: float = 4.0, nodes: tuple[bytes, ...] = (N1,)) -> LeaseTable:
    table = NodeTable(Sink())
    for node in nodes:
        table.add(node, {"CPU": cpus}, None)
    return LeaseTable(table, fairness_s=1.0)


def _check(leases: LeaseTable) -> None:
    leases.validate()
    for node in leases.nodes.nodes.values():
        if node.alive:
            used = leases.held_on(node.node_id).get("CPU", 0.0)
            assert abs(node.total["CPU"] - used - node.available.get("CPU", 0.0)) < 1e-9


def test_a_grant_holds_slots_times_resources_on_its_node() -> None:
    leases = _table(cpus=4.0)
    leases.request(C1, b"L1", b"k", CPU1, slots=3, now=0.0)
    assert leases.nodes.nodes[N1].available["CPU"] == 4.0  # nothing held while requested
    leases.grant_pass(now=0.1)
    (effect,) = leases.take_effects()
    assert isinstance(effect, LeaseGranted) and effect.lease.node_id == N1 and effect.lease.slots == 3
    assert leases.nodes.nodes[N1].available["CPU"] == 1.0
    _check(leases)


def test_a_grant_takes_the_slots_that_fit_and_none_when_nothing_fits() -> None:
    leases = _table(cpus=2.0)
    leases.request(C1, b"L1", b"k", CPU1, slots=8, now=0.0)
    leases.grant_pass(now=0.0)
    assert leases.leases[b"L1"].slots == 2
    leases.request(C2, b"L2", b"k2", CPU1, slots=1, now=0.0)
    leases.grant_pass(now=0.0)
    assert leases.leases[b"L2"].state is LeaseState.REQUESTED  # stays queued
    _check(leases)


def test_a_returned_lease_holds_its_slots_until_the_node_drained_it() -> None:
    leases = _table(cpus=2.0)
    leases.request(C1, b"L1", b"k", CPU1, slots=2, now=0.0)
    leases.grant_pass(now=0.0)
    leases.take_effects()
    leases.returned(C1, b"L1", now=1.0)
    (stop,) = leases.take_effects()
    assert stop == LeaseStopped(N1, b"L1", "returned")
    assert leases.leases[b"L1"].state is LeaseState.RETURNING
    assert leases.nodes.nodes[N1].available["CPU"] == 0.0
    _check(leases)
    leases.drained(N1, b"L1", now=2.0)
    assert b"L1" not in leases.leases and leases.nodes.nodes[N1].available["CPU"] == 2.0
    _check(leases)


def test_only_its_own_client_returns_a_lease_and_only_its_node_drains_it() -> None:
    leases = _table()
    leases.request(C1, b"L1", b"k", CPU1, slots=1, now=0.0)
    leases.grant_pass(now=0.0)
    leases.returned(C2, b"L1", now=0.0)
    leases.drained(N2, b"L1", now=0.0)
    assert leases.leases[b"L1"].state is LeaseState.GRANTED
    _check(leases)


def test_a_request_returned_before_its_grant_ends_at_once() -> None:
    leases = _table(cpus=0.0)
    leases.request(C1, b"L1", b"k", CPU1, slots=1, now=0.0)
    leases.grant_pass(now=0.0)
    leases.returned(C1, b"L1", now=0.5)
    assert not leases.leases and not leases.take_effects()


def test_its_client_leaving_stops_the_lease_on_the_node() -> None:
    leases = _table()
    leases.request(C1, b"L1", b"k", CPU1, slots=1, now=0.0)
    leases.request(C1, b"L2", b"k2", {"CPU": 99.0}, slots=1, now=0.0)
    leases.grant_pass(now=0.0)
    leases.take_effects()
    leases.client_left(C1, now=1.0)
    assert leases.take_effects() == [LeaseStopped(N1, b"L1", "its client left")]
    assert list(leases.leases) == [b"L1"]  # the request went; the grant drains
    _check(leases)


def test_node_death_ends_its_leases() -> None:
    leases = _table(nodes=(N1, N2))
    leases.request(C1, b"L1", b"k", {"CPU": 4.0}, slots=1, now=0.0)
    leases.request(C1, b"L2", b"k", {"CPU": 4.0}, slots=1, now=0.0)
    leases.grant_pass(now=0.0)
    assert {le.node_id for le in leases.leases.values()} == {N1, N2}
    leases.nodes.remove(N1)
    leases.node_lost(N1, now=1.0)
    assert [le.node_id for le in leases.leases.values()] == [N2]
    _check(leases)


def test_a_starving_class_gets_the_oldest_lease_of_another_class_revoked() -> None:
    leases = _table(cpus=2.0)
    leases.request(C1, b"old", b"a", CPU1, slots=1, now=0.0)
    leases.grant_pass(now=0.0)
    leases.request(C1, b"new", b"a", CPU1, slots=1, now=0.5)
    leases.grant_pass(now=0.5)
    leases.request(C2, b"L3", b"b", CPU1, slots=1, now=1.0)
    leases.grant_pass(now=1.0)
    leases.take_effects()
    leases.revoke_pass(now=1.5)  # not waited long enough
    assert not leases.take_effects()
    leases.revoke_pass(now=2.0)
    assert leases.take_effects() == [LeaseRevoked(C1, b"old", "another class waits for slots")]
    leases.returned(C1, b"old", now=2.1)
    leases.drained(N1, b"old", now=2.2)
    leases.take_effects()
    leases.grant_pass(now=2.2)
    assert leases.leases[b"L3"].state is LeaseState.GRANTED
    _check(leases)


def test_tasks_of_a_class_waiting_at_the_head_revoke_a_lease_too() -> None:
    leases = _table(cpus=1.0)
    leases.request(C1, b"L1", b"a", CPU1, slots=1, now=0.0)
    leases.grant_pass(now=0.0)
    leases.take_effects()
    leases.revoke_pass(now=0.1, waiting_classes=[b"head-class"])
    assert leases.leases[b"L1"].state is LeaseState.REVOKED
    leases.revoke_pass(now=0.2, waiting_classes=[b"head-class"])  # revoked once only
    assert len(leases.take_effects()) == 1


def test_a_rejoining_node_s_lease_is_adopted_holding_its_slots() -> None:
    leases = _table(cpus=4.0)
    lease = Lease(b"L1", C1, b"k", dict(CPU1), slots=2)
    assert leases.adopt(N1, lease, now=0.0)
    assert not leases.adopt(N1, Lease(b"L1", C1, b"k", dict(CPU1), slots=2), now=0.0)
    assert leases.nodes.nodes[N1].available["CPU"] == 2.0
    _check(leases)


def test_an_illegal_move_is_refused_loudly() -> None:
    leases = _table()
    leases.request(C1, b"L1", b"k", CPU1, slots=1, now=0.0)
    with pytest.raises(IllegalLeaseTransition):
        leases._move(leases.leases[b"L1"], LeaseState.RETURNING, 0.0, "test")
    assert LEASE_TRANSITIONS[LeaseState.ENDED] == {}


def test_a_blocked_task_lends_one_slot_and_tells_the_node() -> None:
    from raylite.head.state.leases import LeaseSlotLent

    leases = _table(cpus=2.0)
    leases.request(C1, b"L1", b"k", CPU1, slots=2, now=0.0)
    leases.grant_pass(now=0.0)
    leases.take_effects()
    leases.slot_blocked(b"L1", True)
    assert leases.nodes.nodes[N1].available["CPU"] == 1.0
    assert leases.take_effects() == [LeaseSlotLent(N1, b"L1", True)]
    leases.slot_blocked(b"L1", False)
    assert leases.nodes.nodes[N1].available["CPU"] == 0.0
    leases.slot_blocked(b"L1", False)  # nothing lent: nothing to take back, nothing said
    assert leases.take_effects() == [LeaseSlotLent(N1, b"L1", False)]
    _check(leases)
