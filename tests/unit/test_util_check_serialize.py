"""raylite.util.inspect_serializability finds the parts of a value that do not pickle."""

from __future__ import annotations

import io
import threading

from raylite.util import inspect_serializability
from raylite.util.check_serialize import FailTuple

LOCK = threading.Lock()


class Holder:
    def __init__(self):
        self.lock = threading.Lock()
        self.fine = [1, 2]


class Outer:
    def __init__(self):
        self.holder = Holder()


def inspect(obj, name=None, depth=3):
    out = io.StringIO()
    ok, failures = inspect_serializability(obj, name=name, depth=depth, print_file=out)
    return ok, {(f.path, type(f.obj).__name__, type(f.parent).__name__) for f in failures}, out.getvalue()


def test_a_picklable_value_passes():
    ok, failures, text = inspect({"a": [1, 2.0, "x"], "f": len}, name="fine")
    assert (ok, failures) == (True, set())
    assert "Can fine be serialized?" in text and "yes: fine pickles" in text


def test_a_lock_fails_as_itself():
    ok, failures, text = inspect(LOCK, name="lock")
    assert not ok
    assert failures == {(("lock",), "lock", "NoneType")}
    assert "cannot pickle '_thread.lock' object" in text


def functions():
    """Functions pickled by value, as those of a program's __main__ are (a module's
    own functions pickle by reference, whatever they use)."""

    def uses_lock():
        return LOCK

    def calls_uses_lock():
        return uses_lock()

    return calls_uses_lock


def test_a_function_is_traced_to_the_global_it_uses():
    ok, failures, text = inspect(functions(), name="calls_uses_lock")
    assert not ok
    assert failures == {(("calls_uses_lock", "uses_lock", "LOCK"), "lock", "function")}
    lines = text.splitlines()
    # a tree: each part indented below the one holding it
    assert [line.index("FAIL") for line in lines if "FAIL" in line] == [0, 8, 16]
    assert "calls_uses_lock -> uses_lock -> LOCK" in text


def test_an_unnamed_function_leaves_itself_out_of_the_path():
    ok, failures, _ = inspect(functions())
    assert failures == {(("uses_lock", "LOCK"), "lock", "function")}


def test_a_closure_variable_is_found():
    lock = threading.Lock()

    def closure():
        return lock

    ok, failures, _ = inspect(closure, name="closure")
    assert failures == {(("closure", "lock"), "lock", "function")}


def test_attributes_of_objects_are_followed():
    ok, failures, _ = inspect(Outer(), name="outer")
    assert not ok
    assert failures == {(("outer", "holder", "lock"), "lock", "Holder")}


def test_items_of_containers_are_followed():
    ok, failures, _ = inspect({"good": 1, "bad": [0, LOCK]}, name="config")
    assert failures == {(("config", "['bad']", "[1]"), "lock", "list")}


def test_depth_limits_the_walk():
    ok, failures, _ = inspect(Outer(), name="outer", depth=1)
    assert failures == {(("outer", "holder"), "Holder", "Outer")}
    ok, failures, _ = inspect(Outer(), name="outer", depth=0)
    assert failures == {(("outer",), "Outer", "NoneType")}


def test_failures_print_as_rays():
    _, failures = inspect_serializability(Holder(), name="holder", print_file=io.StringIO())
    (failure,) = failures
    assert failure.name == "lock" and failure.path == ("holder", "lock")
    assert repr(failure).startswith("FailTuple(lock [path=holder -> lock, obj=<unlocked _thread.lock object")
    assert FailTuple is type(failure)


def test_prints_to_stdout_by_default(capsys):
    inspect_serializability(LOCK, name="lock")
    assert "FAIL  lock" in capsys.readouterr().out
