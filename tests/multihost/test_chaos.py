"""Chaos rounds (scripts/chaos.py) on the namespace cluster: a mixed workload
while executors and one worker host are SIGKILLed at moments drawn from a seed.

CI runs a few seeds; RAYLITE_CHAOS_SEEDS=0-19 (or 1,5,9-11) runs others.
"""

from __future__ import annotations

import os
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import chaos  # noqa: E402

SEEDS = chaos.parse_seeds(os.environ.get("RAYLITE_CHAOS_SEEDS", "0-2"))


@pytest.mark.parametrize("seed", SEEDS)
def test_every_result_is_right_and_only_puts_on_the_killed_host_are_lost(hosts, seed: int) -> None:
    result = chaos.run_round(hosts.cluster, seed, timeout=240)
    stderr = "\n".join(result.driver_stderr.strip().splitlines()[-20:])
    assert result.ok, "\n".join([result.summary(), *result.problems, "driver stderr (last lines):", stderr])
    # the round did what it says: a host died, executors died, results were checked
    assert [f.kind for f in result.faults].count("host") == 1, result.faults
    assert any(f.kind == "executor" for f in result.faults), result.faults
    assert result.checked >= 100, result.summary()
    assert result.got_errors == result.expected_errors
