"""raylite.dag's graph walk, with stand-ins for remote functions and actors (no cluster)."""

from __future__ import annotations

from typing import Any

import pytest

from raylite.dag import ClassNode, DAGInputData, FunctionNode, InputNode, MultiOutputNode


class FakeFunction:
    """Stands for a RemoteFunction: .options(**o).remote(*a, **k) records the call."""

    def __init__(self, name: str, log: list[Any]) -> None:
        self._name = name
        self.log = log

    def options(self, **options: Any) -> FakeFunction:
        self.last_options = options
        return self

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        self.log.append((self._name, args, kwargs))
        return f"{self._name}{args}{kwargs or ''}"


class FakeMeta:
    methods = {"add": 1, "get": 1}


class FakeHandle:
    def __init__(self, log: list[Any], number: int) -> None:
        self.log = log
        self.number = number

    def __getattr__(self, name: str) -> Any:
        log, number = self.log, self.number

        class Method:
            def remote(self, *args: Any, **kwargs: Any) -> Any:
                log.append((f"actor{number}.{name}", args, kwargs))
                return f"actor{number}.{name}{args}"

            def options(self, **options: Any) -> Any:
                return self

        return Method()


class FakeActorClass:
    _name = "Acc"
    _meta = FakeMeta()

    def __init__(self, log: list[Any]) -> None:
        self.log = log
        self.made = 0

    def options(self, **options: Any) -> FakeActorClass:
        return self

    def remote(self, *args: Any, **kwargs: Any) -> FakeHandle:
        self.made += 1
        self.log.append(("Acc", args, kwargs))
        return FakeHandle(self.log, self.made)


def fn(name: str, log: list[Any]) -> Any:
    f = FakeFunction(name, log)
    return lambda *a, **k: FunctionNode(f, a, k, {})


def test_arguments_run_first_depth_first_and_results_take_their_place() -> None:
    log: list[Any] = []
    inc, add = fn("inc", log), fn("add", log)
    result = add(inc(1), [inc(2), {"k": inc(3)}], b=inc(4)).execute()
    assert [name for name, *_ in log] == ["inc", "inc", "inc", "inc", "add"]
    assert [args for _, args, _ in log[:4]] == [(1,), (2,), (3,), (4,)]
    assert result == "add('inc(1,)', ['inc(2,)', {'k': 'inc(3,)'}]){'b': 'inc(4,)'}"


def test_a_shared_node_runs_once_per_execute() -> None:
    log: list[Any] = []
    inc, add = fn("inc", log), fn("add", log)
    shared = inc(1)
    dag = add(shared, shared)
    dag.execute()
    dag.execute()
    assert [name for name, *_ in log] == ["inc", "add", "inc", "add"]


def test_input_node_values() -> None:
    log: list[Any] = []
    ident = fn("id", log)
    with InputNode() as inp:
        whole, first, second, keyword, attr = ident(inp), ident(inp[0]), ident(inp[1]), ident(inp["k"]), ident(inp.k)
    whole.execute(5)
    assert log[-1][1] == (5,)
    assert first.execute(3, 4) == "id(3,)" and second.execute(3, 4) == "id(4,)"
    assert keyword.execute(k=7) == "id(7,)" and attr.execute(1, k=8) == "id(8,)"
    assert keyword.execute({"k": 9}) == "id(9,)"  # one positional argument: indexed itself
    whole.execute(1, 2)
    assert isinstance(log[-1][1][0], DAGInputData) and log[-1][1][0].args == (1, 2)
    with pytest.raises(TypeError, match="not subscriptable"):
        second.execute(3)


def test_input_node_outside_with_and_two_input_nodes_are_refused() -> None:
    ident, add = fn("id", []), fn("add", [])
    with pytest.raises(ValueError, match="context manager"):
        ident(InputNode()).execute(1)
    with InputNode() as a, InputNode() as b:
        dag = add(a, b)
    with pytest.raises(ValueError, match="only one InputNode"):
        dag.execute(1)


def test_multi_output_node_returns_a_list() -> None:
    inc = fn("inc", [])
    with InputNode() as inp:
        dag = MultiOutputNode([inc(inp), inc(10)])
    assert dag.execute(1) == ["inc(1,)", "inc(10,)"]
    assert MultiOutputNode([]).execute() == []


def test_class_node_makes_one_actor_per_execute_and_calls_run_in_bind_order() -> None:
    log: list[Any] = []
    acc_class = FakeActorClass(log)
    actor = ClassNode(acc_class, (100,), {}, {})
    first = actor.add.bind(1)
    second = actor.add.bind(2)
    # the graph reaches the second call first; the first still goes to the actor first
    assert MultiOutputNode([second, first]).execute() == ["actor1.add(2,)", "actor1.add(1,)"]
    assert [name for name, args, _ in log] == ["Acc", "actor1.add", "actor1.add"]
    assert [args for _, args, _ in log[1:]] == [(1,), (2,)]
    second.execute()  # a new actor, and the call bound before runs on it too
    assert [(name, args) for name, args, _ in log[3:]] == [("Acc", (100,)), ("actor2.add", (1,)), ("actor2.add", (2,))]
    with pytest.raises(AttributeError, match="has no method 'nope'; bind one of its methods: add, get"):
        actor.nope.bind()


class Increment:
    _name = "inc"

    def options(self, **options: Any) -> Increment:
        return self

    def remote(self, x: int) -> int:
        return x + 1


def test_a_long_chain_does_not_exhaust_the_stack() -> None:
    node = FunctionNode(Increment(), (0,), {}, {})
    for _ in range(5000):
        node = FunctionNode(Increment(), (node,), {}, {})
    assert node.execute() == 5001


def test_nodes_describe_themselves_and_refuse_to_pickle() -> None:
    import pickle

    f = FakeFunction("add", [])
    node = FunctionNode(f, (1, 2), {"c": 3}, {"num_cpus": 0})
    assert (node.get_args(), node.get_kwargs(), node.get_options()) == ((1, 2), {"c": 3}, {"num_cpus": 0})
    assert repr(node) == "FunctionNode(add)"
    with pytest.raises(TypeError, match="cannot be passed to .remote\\(\\) or pickled"):
        pickle.dumps(node)
