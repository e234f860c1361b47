"""The daemon's check of a LeaseStream message: a leased task may return as many objects as the client allows."""

from __future__ import annotations

from raylite import config
from raylite.rpc import common_pb2, worker_pb2
from raylite.worker import validate


def _batch(num_returns: int) -> worker_pb2.LeaseBatch:
    spec = common_pb2.TaskSpec(
        task_id=b"t" * validate.TASK_ID_BYTES,
        function_id=b"f" * validate.FUNCTION_ID_BYTES,
        kind=common_pb2.NORMAL,
        num_returns=num_returns,
    )
    return worker_pb2.LeaseBatch(tasks=[spec], attempts=[1])


def test_a_leased_task_may_return_as_many_objects_as_the_client_allows() -> None:
    assert config.MAX_NUM_RETURNS > 1 << 16  # else this test proves nothing
    assert validate.lease_batch(_batch(config.MAX_NUM_RETURNS), first=False) is None


def test_a_leased_task_past_the_limit_is_refused_with_the_limit_named() -> None:
    problem = validate.lease_batch(_batch(config.MAX_NUM_RETURNS + 1), first=False)
    assert problem is not None and str(config.MAX_NUM_RETURNS) in problem
    assert validate.lease_batch(_batch(0), first=False) is not None
