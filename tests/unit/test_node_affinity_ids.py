"""The node a NodeAffinitySchedulingStrategy names (raylite/ids.py: node_id_bytes), as Ray reads it:
a malformed id is refused where the strategy is made; a well-formed one that names no node (Ray's
28-byte ids never name a raylite node) reaches the scheduler, which runs the task elsewhere (soft) or
fails it with TaskUnschedulableError (hard)."""

from __future__ import annotations

import pytest

from raylite import ids
from raylite.client import submit
from raylite.util.scheduling_strategies import NodeAffinitySchedulingStrategy


def test_raylite_and_ray_length_ids_are_node_ids_and_a_ray_one_names_no_node() -> None:
    node = ids.new_node_id()
    assert ids.node_id_bytes(node.hex()) == node
    ray_id = "ab" * ids.RAY_NODE_ID_BYTES
    assert len(ids.node_id_bytes(ray_id)) == ids.NODE_ID_BYTES
    assert ids.node_id_bytes(ray_id.upper()) == ids.node_id_bytes(ray_id)
    message = submit.strategy_message(NodeAffinitySchedulingStrategy(ray_id, soft=False))
    assert message is not None and message.kind == "NODE_AFFINITY" and not message.soft
    assert message.node_id.hex() == "ab" * ids.NODE_ID_BYTES  # its hex starts as the id's, for the error


def test_a_strategy_takes_a_node_ids_bytes_as_ray_does() -> None:
    node = ids.new_node_id()
    assert NodeAffinitySchedulingStrategy(node, soft=True).node_id == node.hex()


@pytest.mark.parametrize("bad", ["", "zz", "ab" * 20, "ab" * 16 + "a"])
def test_a_malformed_node_id_is_refused_where_the_strategy_is_made(bad: str) -> None:
    with pytest.raises(ValueError, match=r"Invalid node_id .*\. Node ID must be a valid hex string"):
        NodeAffinitySchedulingStrategy(bad, soft=True)
