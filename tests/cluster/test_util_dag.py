"""Task graphs (.bind(), raylite.dag) on a local cluster, with Ray's semantics."""

from __future__ import annotations

import pytest

import raylite as ray
from raylite import exceptions
from raylite.dag import ClassMethodNode, ClassNode, FunctionNode, InputNode, MultiOutputNode


@ray.remote
def add(a, b):
    return a + b


@ray.remote
def inc(x):
    return x + 1


@ray.remote
def kind(x):
    return type(x).__name__


@ray.remote
def fail(x):
    raise ValueError(f"failing on {x}")


@ray.remote
class Counter:
    def __init__(self, start=0):
        self.value = start

    def add(self, x):
        self.value += x
        return self.value

    def bump(self):
        self.value += 1
        return self.value


@ray.remote
def bump(counter):
    return ray.get(counter.bump.remote())


def test_bind_builds_a_node_and_execute_returns_a_ref(cluster):
    node = add.bind(1, 2)
    assert isinstance(node, FunctionNode)
    assert node.get_args() == (1, 2)
    ref = node.execute()
    assert isinstance(ref, ray.ObjectRef)
    assert ray.get(ref) == 3


def test_nodes_in_arguments_run_first(cluster):
    assert ray.get(add.bind(inc.bind(1), inc.bind(2)).execute()) == 5
    assert ray.get(add.bind(1, b=inc.bind(1)).execute()) == 3
    # as with refs: a node at the top level arrives as its value, one nested in a list as an ObjectRef
    assert ray.get(kind.bind(inc.bind(1)).execute()) == "int"
    assert ray.get(kind.bind([inc.bind(1)]).execute()) == "list"
    refs = ray.get(_identity.bind([inc.bind(1), 2]).execute())
    assert isinstance(refs[0], ray.ObjectRef) and ray.get(refs[0]) == 2 and refs[1] == 2


@ray.remote
def _identity(x):
    return x


def test_input_node(cluster):
    with InputNode() as inp:
        dag = add.bind(inc.bind(inp), 10)
    assert ray.get(dag.execute(5)) == 16
    assert ray.get([dag.execute(1), dag.execute(2)]) == [12, 13]
    with InputNode() as inp:
        by_position = add.bind(inp[0], inp[1])
        by_name = add.bind(inp.x, inp.y)
        by_key = _identity.bind(inp["k"])
    assert ray.get(by_position.execute(3, 4)) == 7
    assert ray.get(by_name.execute(x=3, y=4)) == 7
    assert ray.get(by_key.execute({"k": 9})) == 9
    assert ray.get(_identity.bind(inp).execute(ray.put(5))) == 5  # a ref given to execute arrives as its value


def test_multi_output_node(cluster):
    with InputNode() as inp:
        dag = MultiOutputNode([inc.bind(inp), add.bind(inp, inp)])
    refs = dag.execute(3)
    assert isinstance(refs, list)
    assert ray.get(refs) == [4, 6]


def test_a_node_shared_by_two_others_runs_once_per_execute(cluster):
    counter = Counter.remote()
    once = bump.bind(counter)
    dag = add.bind(once, once)
    assert ray.get(dag.execute()) == 2  # 1 + 1: bump ran once
    assert ray.get(dag.execute()) == 4  # and once more for the second execute


def test_class_node_makes_a_new_actor_each_execute(cluster):
    with InputNode() as inp:
        actor = Counter.bind(100)
        dag = actor.add.bind(inp)
    assert isinstance(actor, ClassNode) and isinstance(dag, ClassMethodNode)
    assert ray.get(dag.execute(1)) == 101
    assert ray.get(dag.execute(1)) == 101
    assert isinstance(actor.execute(), ray.ActorHandle)


def test_calls_on_one_class_node_run_in_bind_order(cluster):
    with InputNode() as inp:
        actor = Counter.bind(0)
        first = actor.add.bind(inp)
        second = actor.add.bind(inp)
        dag = MultiOutputNode([second, first])
    assert ray.get(dag.execute(5)) == [10, 5]


def test_method_bind_on_a_live_actor_keeps_its_state(cluster):
    counter = Counter.remote(1000)
    with InputNode() as inp:
        dag = counter.add.bind(inp)
    assert ray.get(dag.execute(1)) == 1001
    assert ray.get(dag.execute(1)) == 1002


def test_options_apply_to_bound_calls(cluster):
    assert ray.get(add.options(num_cpus=0).bind(1, 2).execute()) == 3
    assert add.options(num_cpus=0).bind(1, 2).get_options() == {"num_cpus": 0}
    pair = ray.remote(num_returns=2)(lambda: (1, 2))
    assert ray.get(pair.bind().execute()) == [1, 2]
    assert ray.get(Counter.options(max_concurrency=2).bind(5).add.options(num_returns=1).bind(2).execute()) == 7


def test_errors_propagate_as_for_tasks(cluster):
    with pytest.raises(ValueError, match="failing on 1") as info:
        ray.get(inc.bind(fail.bind(1)).execute())
    assert isinstance(info.value, exceptions.RayTaskError)
    wrong = add.bind(1)  # accepted here; the call is checked when it is made
    with pytest.raises(TypeError, match="missing a required argument: 'b'"):
        wrong.execute()
    with pytest.raises(TypeError, match="cannot be passed to .remote"):
        add.remote(inc.bind(1), 1)
