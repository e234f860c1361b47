"""Ray's max_calls option as a remote function reads it (raylite/client/remote_function.py)."""

from __future__ import annotations

import pytest

from raylite.client.remote_function import RemoteFunction


def f() -> None:
    return None


def test_max_calls_is_the_definitions_and_gpu_functions_get_one_by_default() -> None:
    assert RemoteFunction(f, {})._max_calls == 0  # no limit for CPU tasks
    assert RemoteFunction(f, {"max_calls": 3})._max_calls == 3
    assert RemoteFunction(f, {"num_gpus": 1})._max_calls == 1  # as Ray's: GPU memory is let go
    assert RemoteFunction(f, {"num_gpus": 0.5, "max_calls": 0})._max_calls == 0  # unless told otherwise
    # .options(max_calls=...) leaves the definition's value (Ray: "overriding max_calls is not supported")
    remote = RemoteFunction(f, {"max_calls": 2})
    remote.options(max_calls=5)
    assert remote._max_calls == 2


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_a_max_calls_that_is_not_a_count_is_refused_where_it_is_written(bad: object) -> None:
    with pytest.raises(ValueError, match=r"max_calls must be a whole number >= 0"):
        RemoteFunction(f, {"max_calls": bad})
