"""The fast paths of a call's submission: arguments pickled without cloudpickle when they are
plain, and actor calls' specs copied from a template. Each must give exactly what the slow
path gives: the same values, of the same types, and the same spec."""

from __future__ import annotations

import collections
import enum
from types import SimpleNamespace
from typing import Any

import pytest

from raylite import ids, runtime_context, serialization
from raylite.client import submit
from raylite.exceptions import RaySerializationError
from raylite.rpc import common_pb2
from raylite.serialization import deserialize, serialize, serialize_call


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


Pair = collections.namedtuple("Pair", "a b")


def exactly(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return (
            list(a) == list(b)
            and all(exactly(k, m) for k, m in zip(a, b, strict=True))
            and all(exactly(a[k], b[k]) for k in a)
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(exactly(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (a != a and b != b)  # (nan)


PLAIN = [
    ([], {}),
    ([0, -1, 2**70, 1.5, float("nan"), True, None, "é", b"\0\xff"], {}),
    ([[1, [2, "x"]], (3, (4,)), {"k": [1, 2], 5: None, b"b": 1.0}], {"kw": {"a": (1, 2)}}),
    ([""] * 32, {"a": list(range(32))}),
]


class _NoCloudpickle:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a plain value went through cloudpickle")


@pytest.mark.parametrize("args, kwargs", PLAIN)
def test_plain_arguments_round_trip_exactly_without_cloudpickle(
    args: list[Any], kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serialization, "Pickler", _NoCloudpickle)
    out = deserialize(serialize_call(args, kwargs, submit.Dep).to_bytes())
    assert exactly(out, (args, kwargs))


def test_a_dependency_stand_in_takes_the_fast_path_and_comes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serialization, "Pickler", _NoCloudpickle)
    args, kwargs = deserialize(serialize_call([submit.Dep(0), 1], {"x": submit.Dep(1)}, submit.Dep).to_bytes())
    assert type(args[0]) is submit.Dep and args[0].index == 0 and args[1] == 1
    assert type(kwargs["x"]) is submit.Dep and kwargs["x"].index == 1


def _subclassed() -> list[Any]:
    class Local(int):  # not importable: only cloudpickle can carry its class (by value)
        pass

    return [
        Colour.RED,
        Name("n"),
        Pair(1, 2),
        collections.OrderedDict(a=1),
        collections.defaultdict(list, a=[1]),
        Local(7),
        [Colour.RED],
        {"k": Name("v")},
        (1, [Local(3)]),
        bytearray(b"ab"),
        list(range(33)),  # too big for the fast path's check
        [[[1]]],  # too deep
    ]


@pytest.mark.parametrize("value", _subclassed(), ids=lambda v: type(v).__name__)
def test_subclasses_and_other_types_keep_their_type(value: Any) -> None:
    """A subclass of int or str (or of a container) must not take a path that loses its type."""
    args, kwargs = deserialize(serialize_call([value], {"kw": value}, submit.Dep).to_bytes())
    alone = deserialize(serialize(value).to_bytes())
    for got in (args[0], kwargs["kw"], alone):
        assert type(got) is type(value) and got == value
        assert exactly(got, value)


def test_a_non_plain_argument_still_goes_through_cloudpickle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serialization, "Pickler", _NoCloudpickle)
    for args, kwargs in (([Name("x")], {}), ([1], {"d": {"k": Colour.RED}})):
        with pytest.raises(RaySerializationError, match="went through cloudpickle"):
            serialize_call(args, kwargs, submit.Dep)


def client_like(job_id: bytes) -> SimpleNamespace:
    source = ids.IdSource()
    return SimpleNamespace(ids=source, client_id=source.prefix, job_id=job_id)


def _by_build_spec(
    client: Any, task_id: bytes, deps: list[bytes], borrowed: list[bytes], num_returns: int = 2
) -> common_pb2.TaskSpec:
    spec = submit.build_spec(
        client,
        kind=common_pb2.ACTOR_METHOD,
        name="A.m",
        function_id=b"",
        payload=b"m\0p",
        deps=deps,
        borrowed=borrowed,
        options={"max_retries": 0},
        default_cpus=0.0,
        actor_id=b"a" * 16,
        num_returns=num_returns,
    )
    spec.task_id = task_id
    return spec


def test_an_actor_calls_spec_from_its_template_is_the_one_build_spec_makes() -> None:
    client = client_like(b"j" * 8)
    templates: dict[Any, common_pb2.TaskSpec] = {}
    borrowed = [b"r" * 24]
    for deps in ([b"d" * 24], [], [b"e" * 24, b"f" * 24]):  # nothing of one call stays in the next
        fast = submit.method_spec(
            client,
            templates,
            name="A.m",
            actor_id=b"a" * 16,
            payload=b"m\0p",
            deps=deps,
            borrowed=borrowed,
            num_returns=2,
        )
        assert fast == _by_build_spec(client, fast.task_id, deps, borrowed)
    assert len(templates) == 1


def test_a_template_follows_the_job_and_the_calling_task() -> None:
    """An executor's client takes the job of each task it runs; the calling task is the parent."""
    client = client_like(b"1" * 8)
    templates: dict[Any, common_pb2.TaskSpec] = {}

    def call() -> common_pb2.TaskSpec:
        return submit.method_spec(
            client, templates, name="A.m", actor_id=b"a" * 16, payload=b"m\0p", deps=[], borrowed=[], num_returns=1
        )

    assert call().job_id == b"1" * 8
    client.job_id = b"2" * 8
    assert call().job_id == b"2" * 8
    token = runtime_context.enter_task(runtime_context.TaskFacts(b"2" * 8, b"p" * 24, "parent"))
    try:
        inside = call()
        slow = _by_build_spec(client, inside.task_id, [], [], num_returns=1)
    finally:
        runtime_context.leave_task(token)
    assert inside.parent_task_id == b"p" * 24 and inside == slow
    assert call().parent_task_id == b""


def _task_by_build_spec(client: Any, fast: common_pb2.TaskSpec, options: dict[str, Any]) -> common_pb2.TaskSpec:
    spec = submit.build_spec(
        client,
        kind=common_pb2.NORMAL,
        name="f",
        function_id=b"f" * 20,
        payload=fast.payload,
        deps=list(fast.dependencies),
        borrowed=list(fast.borrowed),
        options=options,
        default_cpus=1.0,
        num_returns=fast.num_returns,
    )
    spec.task_id = fast.task_id
    return spec


def task_client() -> SimpleNamespace:
    client = client_like(b"j" * 8)
    client.runtime_env, client.runtime_env_key, client.runtime_env_packages, client.runtime_env_cache = {}, "", {}, {}
    return client


@pytest.mark.parametrize(
    "options",
    [{}, {"num_cpus": 0.5, "resources": {"special": 2}, "max_retries": 5, "scheduling_strategy": "SPREAD"}],
)
def test_a_tasks_spec_from_its_template_is_the_one_build_spec_makes(options: dict[str, Any]) -> None:
    client = task_client()
    templates: dict[Any, common_pb2.TaskSpec] = {}
    for deps, borrowed, payload in (([b"d" * 24], [b"r" * 24], b"p1"), ([], [], b"p2"), ([b"e" * 24], [], b"p3")):
        fast = submit.task_spec(
            client,
            templates,
            name="f",
            function_id=b"f" * 20,
            payload=payload,
            deps=deps,
            borrowed=borrowed,
            options=options,
            num_returns=1,
        )
        assert fast.payload == payload and list(fast.dependencies) == deps and list(fast.borrowed) == borrowed
        assert fast == _task_by_build_spec(client, fast, options)
    assert len(templates) == 1


def test_a_task_in_a_capturing_placement_group_is_not_made_from_the_template() -> None:
    """Its children inherit the group: what build_spec adds depends on the calling task."""
    client = task_client()
    templates: dict[Any, common_pb2.TaskSpec] = {}
    strategy = common_pb2.SchedulingStrategy(
        kind="PLACEMENT_GROUP", placement_group_id=b"g" * 16, bundle_index=-1, capture_child_tasks=True
    )
    facts = runtime_context.TaskFacts(b"j" * 8, b"p" * 24, "parent", strategy=strategy)
    token = runtime_context.enter_task(facts)
    try:
        inside = submit.task_spec(
            client,
            templates,
            name="f",
            function_id=b"f" * 20,
            payload=b"p",
            deps=[],
            borrowed=[],
            options={},
            num_returns=1,
        )
        slow = _task_by_build_spec(client, inside, {})
    finally:
        runtime_context.leave_task(token)
    assert inside.strategy.placement_group_id == b"g" * 16 and inside == slow
    assert not templates
    outside = submit.task_spec(
        client,
        templates,
        name="f",
        function_id=b"f" * 20,
        payload=b"p",
        deps=[],
        borrowed=[],
        options={},
        num_returns=1,
    )
    assert not outside.HasField("strategy") and not outside.parent_task_id


def test_only_plain_positional_signatures_skip_the_bind_check() -> None:
    from raylite.client.remote_function import _signature, positional_arity

    def f(a, b, /, c):  # type: ignore[no-untyped-def]
        pass

    def g(a, b=1):  # type: ignore[no-untyped-def]
        pass

    def h(a, *rest):  # type: ignore[no-untyped-def]
        pass

    def k(a, *, key):  # type: ignore[no-untyped-def]
        pass

    def none():  # type: ignore[no-untyped-def]
        pass

    assert [positional_arity(_signature(fn)) for fn in (f, g, h, k, none)] == [3, -1, -1, -1, 0]
    assert positional_arity(None) == -1


def test_calls_that_do_not_fit_are_still_refused_where_they_are_made() -> None:
    import raylite

    @raylite.remote
    def two(a, b):  # type: ignore[no-untyped-def]
        return a + b

    for args, kwargs in (((1,), {}), ((1, 2, 3), {}), ((1, 2), {"c": 3}), ((), {"a": 1})):
        with pytest.raises(TypeError, match="do not fit"):
            two.remote(*args, **kwargs)
