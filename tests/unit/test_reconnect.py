"""The back-off of a process that lost the head (raylite/reconnect.py), with time as an argument."""

from __future__ import annotations

from raylite import config
from raylite.reconnect import Outage


def test_delays_double_up_to_the_cap_within_one_outage() -> None:
    outage = Outage(budget_s=60)
    delays = [outage.lost(now=float(t)) for t in range(8)]
    assert delays[0] == config.RECONNECT_FIRST_DELAY_S
    assert delays[1] == 2 * delays[0]
    assert max(delays) == config.RECONNECT_MAX_DELAY_S
    assert delays == sorted(delays)


def test_the_budget_counts_from_the_start_of_the_outage() -> None:
    outage = Outage(budget_s=60)
    outage.connected(now=0)
    outage.lost(now=1)
    outage.connected(now=2)  # a session that broke again at once: the same outage
    outage.lost(now=3)
    assert outage.remaining(now=31) == 30
    assert outage.remaining(now=100) == 0


def test_a_session_that_lived_ends_the_outage() -> None:
    outage = Outage(budget_s=60)
    outage.lost(now=0)
    outage.lost(now=1)
    outage.connected(now=2)
    late = 2 + config.STABLE_SESSION_S
    assert outage.lost(now=late) == config.RECONNECT_FIRST_DELAY_S
    assert outage.remaining(now=late) == 60


def test_no_budget_is_left_before_an_outage_began() -> None:
    assert Outage(budget_s=60).remaining(now=5) == 0
