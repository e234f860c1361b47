"""Actors as Ray has them beyond calls: class attributes, inheritance, exits, names and
namespaces, ownership, concurrency groups, max_pending_calls and retries of methods."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import cloudpickle
import pytest

import raylite as ray
from raylite import exceptions
from raylite.util import list_named_actors

DEADLINE_S = 60

# Animal (a plain base class of an actor class) is found by reference otherwise, in a module
# the executors cannot import
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@ray.remote
class Signal:
    """Blocks callers of wait() until send(): how a test holds calls back without sleeping."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def wait(self) -> bool:
        await self.event.wait()
        return True

    async def send(self) -> None:
        self.event.set()


def until_dead(handle, method: str = "ping") -> exceptions.ActorDiedError:
    """Calls the actor until a call fails with ActorDiedError (its death is asynchronous), within a deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            ray.get(getattr(handle, method).remote(), timeout=DEADLINE_S)
        except exceptions.ActorDiedError as exc:
            return exc
    raise AssertionError(f"{handle!r} still answers {DEADLINE_S}s later")


# ---- the class --------------------------------------------------------------------------------


class Animal:
    kind = "animal"

    def __init__(self, name: str) -> None:
        self.name = name

    def speak(self) -> str:
        return f"{self.name} makes a sound"

    def describe(self) -> str:
        return f"{type(self).__name__}: {self.speak()} ({self.kind})"


@ray.remote
class Dog(Animal):
    kind = "dog"
    LEGS = 4

    def speak(self) -> str:
        return f"{self.name} barks; " + super().speak()

    @staticmethod
    def double(x: int) -> int:
        return 2 * x

    @classmethod
    def label(cls) -> str:
        return cls.__name__

    def facts(self) -> tuple:
        return self.LEGS, self.double(21), self.label(), type(self).__mro__[1].__name__


def test_class_attributes_and_static_and_class_methods_read_through_the_actor_class(cluster):
    assert Dog.LEGS == 4 and Dog.kind == "dog"
    assert Dog.double(5) == 10 and Dog.label() == "Dog"
    with pytest.raises(AttributeError):
        Dog.no_such_attribute  # noqa: B018
    d = Dog.remote("rex")
    assert ray.get(d.facts.remote()) == (4, 42, "Dog", "Animal")


def test_inherited_methods_and_super_run_in_the_actor(cluster):
    d = Dog.remote("rex")
    assert ray.get(d.speak.remote()) == "rex barks; rex makes a sound"
    assert ray.get(d.describe.remote()) == "Dog: rex barks; rex makes a sound (dog)"
    generic = ray.remote(Animal).remote("it")
    assert ray.get(generic.describe.remote()) == "Animal: it makes a sound (animal)"


# ---- readiness and exits ------------------------------------------------------------------------


@ray.remote
class Quitter:
    def ping(self) -> str:
        return "pong"

    def quit(self) -> None:
        ray.actor.exit_actor()

    def quit_caught(self) -> str:
        try:
            ray.actor.exit_actor()
        except Exception:  # exit_actor's request is no Exception: this does not stop it
            return "swallowed"
        return "not reached"


@ray.remote
class AsyncQuitter:
    async def ping(self) -> str:
        return "pong"

    async def quit(self) -> None:
        ray.actor.exit_actor()


def test_ray_ready_answers_once_the_constructor_ran(cluster):
    q = Quitter.remote()
    assert ray.get(q.__ray_ready__.remote()) is True


def test_exit_actor_ends_the_actor_for_good(cluster):
    q = Quitter.options(max_restarts=2).remote()
    assert ray.get(q.ping.remote()) == "pong"
    with pytest.raises(exceptions.ActorDiedError, match=r"exit_actor\(\) was called in Quitter.quit"):
        ray.get(q.quit.remote())
    with pytest.raises(exceptions.ActorDiedError, match="exited on purpose"):
        ray.get(q.ping.remote())  # not restarted, although it has restarts left


def test_exit_actor_is_not_swallowed_by_except_exception(cluster):
    q = Quitter.remote()
    with pytest.raises(exceptions.ActorDiedError, match="exit_actor"):
        ray.get(q.quit_caught.remote())


def test_exit_actor_in_an_async_actor(cluster):
    q = AsyncQuitter.remote()
    assert ray.get(q.ping.remote()) == "pong"
    with pytest.raises(exceptions.ActorDiedError, match=r"exit_actor\(\) was called in AsyncQuitter.quit"):
        ray.get(q.quit.remote())
    with pytest.raises(exceptions.ActorDiedError, match="exited on purpose"):
        ray.get(q.ping.remote())


def test_exit_actor_outside_an_actor_is_a_type_error(cluster):
    with pytest.raises(TypeError, match="outside an actor"):
        ray.actor.exit_actor()


def test_ray_terminate_answers_the_calls_made_before_it(cluster):
    q = Quitter.remote()
    before = [q.ping.remote() for _ in range(5)]
    q.__ray_terminate__.remote()
    assert ray.get(before) == ["pong"] * 5
    with pytest.raises(exceptions.ActorDiedError, match="__ray_terminate__"):
        ray.get(q.ping.remote())


# ---- names and namespaces --------------------------------------------------------------------------


@ray.remote
class Box:
    def __init__(self, value=None) -> None:
        self.value = value

    def get(self):
        return self.value

    def set(self, value) -> None:
        self.value = value


def test_a_taken_name_is_an_actor_already_exists_error(cluster):
    first = Box.options(name="taken").remote("first")
    with pytest.raises(exceptions.ActorAlreadyExistsError, match="taken") as info:
        Box.options(name="taken").remote("second")
    assert isinstance(info.value, ValueError)
    assert ray.get(ray.get_actor("taken").get.remote()) == "first"
    ray.kill(first)


def test_a_name_is_free_again_once_its_actor_is_killed(cluster):
    first = Box.options(name="reused").remote(1)
    ray.get(first.get.remote())
    ray.kill(first)
    second = Box.options(name="reused").remote(2)
    assert ray.get(ray.get_actor("reused").get.remote()) == 2
    ray.kill(second)


def test_get_if_exists_returns_the_live_actor(cluster):
    a = Box.options(name="shared", get_if_exists=True).remote("kept")
    b = Box.options(name="shared", get_if_exists=True).remote("ignored")
    assert b == a
    ray.get(b.set.remote("changed"))
    assert ray.get(a.get.remote()) == "changed"
    with pytest.raises(ValueError, match="needs a name"):
        Box.options(get_if_exists=True).remote()
    ray.kill(a)


def test_names_are_per_namespace(cluster):
    mine = Box.options(name="same").remote("mine")
    other = Box.options(name="same", namespace="elsewhere").remote("other")
    assert ray.get(ray.get_actor("same").get.remote()) == "mine"
    assert ray.get(ray.get_actor("same", namespace="elsewhere").get.remote()) == "other"
    with pytest.raises(ValueError, match="'same' in namespace 'nowhere'"):
        ray.get_actor("same", namespace="nowhere")
    own = ray.get_runtime_context().namespace
    assert "same" in list_named_actors()
    listed = list_named_actors(all_namespaces=True)
    assert {"name": "same", "namespace": own} in listed
    assert {"name": "same", "namespace": "elsewhere"} in listed
    ray.kill(mine)
    ray.kill(other)
    assert "same" not in list_named_actors()


@ray.remote
def lookup_in_a_task(name: str):
    return ray.get(ray.get_actor(name).get.remote()), ray.get_runtime_context().namespace


def test_tasks_look_names_up_in_their_jobs_namespace(cluster):
    box = Box.options(name="for-tasks").remote("seen")
    value, namespace = ray.get(lookup_in_a_task.remote("for-tasks"))
    assert value == "seen" and namespace == ray.get_runtime_context().namespace
    ray.kill(box)


# ---- ownership ---------------------------------------------------------------------------------------


@ray.remote
class Child:
    def ping(self) -> str:
        return "child"


@ray.remote
class Parent:
    def spawn(self, detached: bool = False):
        options = {"lifetime": "detached", "name": "orphan-ok"} if detached else {}
        self.child = Child.options(**options).remote()
        ray.get(self.child.ping.remote())
        return [self.child]

    def ping(self) -> str:
        return "parent"


@ray.remote
def make_child():
    return [Child.remote()]


def test_an_actor_dies_with_the_actor_that_created_it(cluster):
    parent = Parent.remote()
    [child] = ray.get(parent.spawn.remote())
    assert ray.get(child.ping.remote()) == "child"
    ray.kill(parent)
    error = until_dead(child)
    assert "owner" in str(error)


def test_a_detached_actor_outlives_its_creator(cluster):
    parent = Parent.remote()
    [child] = ray.get(parent.spawn.remote(detached=True))
    ray.kill(parent)
    until_dead(parent)
    assert ray.get(child.ping.remote()) == "child"
    ray.kill(child)


def test_an_actor_made_in_a_task_lives_on_after_the_task_returned_its_handle(cluster):
    [child] = ray.get(make_child.remote())
    assert ray.get(child.ping.remote()) == "child"  # the task's process (its owner) lives on


# ---- concurrency groups ---------------------------------------------------------------------------


@ray.remote(concurrency_groups={"io": 2})
class Threaded:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.inside = threading.Barrier(2, timeout=DEADLINE_S)

    @ray.method(concurrency_group="io")
    def io(self) -> bool:
        self.inside.wait()  # both io calls run at once, or this raises
        return self.release.wait(DEADLINE_S)

    def free(self) -> str:
        self.release.set()
        return threading.current_thread().name


def test_a_threaded_actor_runs_each_group_on_its_own_threads(cluster):
    t = Threaded.remote()
    io_calls = [t.io.remote(), t.io.remote()]
    # the default group is not held up by the two io calls that block
    assert ray.get(t.free.remote()).startswith("actor")
    assert ray.get(io_calls) == [True, True]
    with pytest.raises(exceptions.RayTaskError, match="no concurrency group 'nope'"):
        ray.get(t.free.options(concurrency_group="nope").remote())


@ray.remote(concurrency_groups={"one": 1})
class AsyncGroups:
    def __init__(self) -> None:
        self.running = 0
        self.most = 0

    @ray.method(concurrency_group="one")
    async def serial(self, gate) -> int:
        self.running += 1
        self.most = max(self.most, self.running)
        await gate[0]
        self.running -= 1
        return self.most

    async def default(self) -> str:
        return "default"


def test_an_async_actor_limits_each_group(cluster):
    signal = Signal.remote()
    a = AsyncGroups.remote()
    calls = [a.serial.remote([signal.wait.remote()]) for _ in range(3)]
    assert ray.get(a.default.remote()) == "default"  # the default group is free meanwhile
    ray.get(signal.send.remote())
    assert ray.get(calls) == [1, 1, 1]  # never two at once in a group of one


def test_a_method_in_an_undeclared_group_is_refused_at_creation(cluster):
    @ray.remote
    class Undeclared:
        @ray.method(concurrency_group="missing")
        def m(self) -> None:
            pass

    with pytest.raises(ValueError, match="'missing'"):
        Undeclared.remote()


# ---- max_pending_calls --------------------------------------------------------------------------


@ray.remote(max_pending_calls=2)
class Limited:
    def hold(self, gate) -> str:
        return ray.get(gate[0])


def test_max_pending_calls_refuses_calls_beyond_the_limit_until_some_finish(cluster):
    signal = Signal.remote()
    limited = Limited.remote()
    first = [limited.hold.remote([signal.wait.remote()]) for _ in range(2)]
    with pytest.raises(exceptions.PendingCallsLimitExceeded, match="max_pending_calls"):
        limited.hold.remote([signal.wait.remote()])
    ray.get(signal.send.remote())
    assert ray.get(first) == [True, True]
    assert ray.get(limited.hold.remote([signal.wait.remote()])) is True  # room again


# ---- retries of methods on exceptions ------------------------------------------------------------


@ray.remote(max_task_retries=2)
class Flaky:
    def __init__(self) -> None:
        self.runs = 0

    @ray.method(retry_exceptions=[ValueError])
    def until_third(self) -> int:
        self.runs += 1
        if self.runs < 3:
            raise ValueError(f"run {self.runs}")
        return self.runs

    def always(self, error: type) -> None:
        self.runs += 1
        raise error(self.runs)

    @ray.method(retry_exceptions=True, max_task_retries=1)
    def once_more(self) -> None:
        self.runs += 1
        raise KeyError(self.runs)

    def count(self) -> int:
        return self.runs


def test_a_method_retries_on_the_errors_it_names(cluster):
    f = Flaky.remote()
    assert ray.get(f.until_third.remote()) == 3


def test_a_method_does_not_retry_other_errors(cluster):
    f = Flaky.remote()
    with pytest.raises(KeyError):
        ray.get(f.always.options(retry_exceptions=[ValueError]).remote(KeyError))
    assert ray.get(f.count.remote()) == 1


def test_retries_stop_at_the_methods_own_limit(cluster):
    f = Flaky.remote()
    with pytest.raises(KeyError):
        ray.get(f.once_more.remote())
    assert ray.get(f.count.remote()) == 2
    with pytest.raises(ValueError):
        ray.get(f.always.options(retry_exceptions=True).remote(ValueError))  # the actor's max_task_retries=2
    assert ray.get(f.count.remote()) == 5


# ---- handles in other processes, and order -----------------------------------------------------------


@ray.remote
class Log:
    def __init__(self) -> None:
        self.entries: list = []

    def append(self, x) -> int:
        self.entries.append(x)
        return len(self.entries)

    def read(self) -> list:
        return self.entries


@ray.remote
def append_from_a_task(log, items: list) -> list:
    return ray.get([log.append.remote(i) for i in items])


def test_a_handle_passed_to_tasks_reaches_the_same_actor_from_each(cluster):
    log = Log.remote()
    ray.get([append_from_a_task.remote(log, [f"t{k}-{i}" for i in range(5)]) for k in range(3)])
    ray.get(log.append.remote("driver"))
    entries = ray.get(log.read.remote())
    assert sorted(entries) == sorted([f"t{k}-{i}" for k in range(3) for i in range(5)] + ["driver"])
    for k in range(3):  # each caller's calls ran in its order
        mine = [e for e in entries if e.startswith(f"t{k}-")]
        assert mine == [f"t{k}-{i}" for i in range(5)]


@ray.remote
def later(gate) -> str:
    return "late" if ray.get(gate[0]) else "?"


def test_a_call_waiting_for_its_argument_holds_back_later_calls_of_the_same_caller(cluster):
    signal = Signal.remote()
    log = Log.remote()
    log.append.remote(later.remote([signal.wait.remote()]))
    log.append.remote("next")
    ray.get(signal.send.remote())
    assert ray.get(log.read.remote()) == ["late", "next"]


@ray.remote
def append_other(log) -> int:
    return ray.get(log.append.remote("other"))


def test_another_callers_calls_run_while_one_waits_for_its_argument(cluster):
    signal = Signal.remote()
    log = Log.remote()
    log.append.remote(later.remote([signal.wait.remote()]))
    log.append.remote("next")
    assert ray.get(append_other.remote(log), timeout=DEADLINE_S) == 1  # it ran first, not behind "late"
    ray.get(signal.send.remote())
    assert ray.get(log.read.remote()) == ["other", "late", "next"]


def test_concurrency_groups_belong_to_the_class_not_to_options(cluster):
    with pytest.raises(ValueError, match="not supported in '.options\\(\\)'"):
        Threaded.options(concurrency_groups={"more": 3})


@ray.remote
class QuitsAtOnce:
    def __init__(self) -> None:
        ray.actor.exit_actor()

    def ping(self) -> str:
        return "pong"


def test_exit_actor_in_the_constructor_ends_the_actor(cluster):
    q = QuitsAtOnce.options(max_restarts=1).remote()
    with pytest.raises(exceptions.ActorDiedError, match=r"exit_actor\(\) was called in QuitsAtOnce.__init__"):
        ray.get(q.ping.remote())
