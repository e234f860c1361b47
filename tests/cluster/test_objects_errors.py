"""Objects and errors with Ray's semantics: get fails fast, wait's edge cases, refs awaited in asyncio,
task errors (text, fields, unpicklable ones), actor constructor errors, serialization errors that name the
culprit, large functions, and ObjectRefs of bad ids refused at the client."""

from __future__ import annotations

import asyncio
import sys
import threading

import cloudpickle
import numpy as np
import pytest

import raylite as ray
from raylite import config, exceptions
from raylite.client import context

# this module is not importable in executors: its helpers and exception classes travel by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@ray.remote
def double(x: int) -> int:
    return 2 * x


@ray.remote
def fails_with(kind: type, text: str) -> None:
    raise kind(text)


@ray.remote
class Gate:
    """A call that stays pending until the test opens the gate: a not-ready ref without a sleeping task."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()

    async def wait(self) -> str:
        await self.opened.wait()
        return "opened"

    async def open(self) -> None:
        self.opened.set()


def pending() -> tuple[ray.ObjectRef, ray.actor.ActorHandle]:
    gate = Gate.remote()
    return gate.wait.remote(), gate


# ---- get ----------------------------------------------------------------------------------------


def test_get_of_a_list_raises_the_first_failure_without_waiting_for_the_rest(cluster) -> None:
    slow, gate = pending()
    with pytest.raises(IndexError, match="early failure"):
        ray.get([slow, fails_with.remote(IndexError, "early failure")])
    ready, _ = ray.wait([slow], timeout=0)
    assert ready == []  # it raised while the other value was still pending
    # of several failures known at once, the first in list order
    known = [fails_with.remote(KeyError, "first"), fails_with.remote(ValueError, "second")]
    ray.wait(known, num_returns=2)
    with pytest.raises(KeyError):
        ray.get([double.remote(1), *known])
    ray.get(gate.open.remote())
    assert ray.get(slow) == "opened"


def test_get_argument_errors_as_rays(cluster) -> None:
    refs = [ray.put(i) for i in range(3)]
    assert ray.get([]) == [] and ray.get(refs + refs[:1]) == [0, 1, 2, 0]
    for bad in (tuple(refs), 5, "x", {"a": refs[0]}):
        with pytest.raises(ValueError, match="takes an ObjectRef or a list of ObjectRefs"):
            ray.get(bad)
    with pytest.raises(TypeError, match="expects ObjectRefs, got int"):
        ray.get([refs[0], 5])


def test_get_timeout_is_a_timeout_error(cluster) -> None:
    slow, gate = pending()
    with pytest.raises(exceptions.GetTimeoutError) as info:
        ray.get(slow, timeout=0)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, exceptions.RayError)
    with pytest.raises(TimeoutError, match="1 of 2 objects not ready"):
        ray.get([ray.put(1), slow], timeout=0.05)
    ray.get(gate.open.remote())


# ---- wait ------------------------------------------------------------------------------------------


def test_wait_edge_cases_as_rays(cluster) -> None:
    refs = [ray.put(i) for i in range(3)]
    assert ray.wait([]) == ([], []) and ray.wait([], num_returns=0) == ([], [])
    with pytest.raises(ValueError, match="unique"):
        ray.wait([refs[0], refs[0]])
    for n in (0, -1, 4):
        with pytest.raises(ValueError, match="num_returns"):
            ray.wait(refs, num_returns=n)
    with pytest.raises(ValueError, match="timeout"):
        ray.wait(refs, timeout=-1)
    with pytest.raises(TypeError, match="single ObjectRef"):
        ray.wait(refs[0])
    for bad in (tuple(refs), [refs[0], 3]):
        with pytest.raises(TypeError):
            ray.wait(bad)


def test_wait_with_timeout_zero_and_fetch_local(cluster) -> None:
    slow, gate = pending()
    done = ray.put("x")
    assert ray.wait([slow, done], num_returns=1, timeout=0) == ([done], [slow])
    assert ray.wait([slow], timeout=0) == ([], [slow])
    refs = [double.remote(i) for i in range(4)]
    ready, rest = ray.wait(refs, num_returns=4, fetch_local=False)
    assert ready == refs and rest == []
    failed = fails_with.remote(ValueError, "ready too")
    assert ray.wait([failed], timeout=30) == ([failed], [])  # a failed object counts as ready
    ray.get(gate.open.remote())


# ---- futures and asyncio ------------------------------------------------------------------------


def test_refs_in_asyncio_gather_wait_and_wait_for(cluster) -> None:
    async def main() -> tuple:
        squares = await asyncio.gather(*[double.remote(i) for i in range(6)])
        mixed = await asyncio.gather(
            double.remote(3), fails_with.remote(ValueError, "gathered"), return_exceptions=True
        )
        done, _ = await asyncio.wait([asyncio.ensure_future(double.remote(5))])
        in_time = await asyncio.wait_for(double.remote(1), timeout=60)
        slow, gate = pending()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(slow.as_future()), timeout=0.05)
        await gate.open.remote()
        return squares, mixed, [d.result() for d in done], in_time, await slow

    squares, mixed, done, in_time, late = asyncio.run(main())
    assert squares == [0, 2, 4, 6, 8, 10] and done == [10] and in_time == 2 and late == "opened"
    assert mixed[0] == 6 and isinstance(mixed[1], ValueError) and isinstance(mixed[1], exceptions.RayTaskError)


# ---- task errors --------------------------------------------------------------------------------


def explode_helper(x: int) -> None:
    raise ValueError(f"bad input {x}")


@ray.remote
def explode(x: int) -> None:
    explode_helper(x)


def test_task_error_text_is_rays_with_the_users_own_frames(cluster) -> None:
    with pytest.raises(ValueError) as info:
        ray.get(explode.remote(7))
    err = info.value
    lines = str(err).splitlines()
    assert lines[0].startswith("ray::explode() (pid=") and lines[-1] == "ValueError: bad input 7"
    frames = [ln.strip() for ln in lines if ln.strip().startswith("File ")]
    assert [f.rsplit(" in ", 1)[1] for f in frames] == ["explode", "explode_helper"]
    assert all(__file__ in f for f in frames)  # the user's file, not <dynamic-code>
    assert "explode_helper(x)" in str(err)  # and its source lines
    assert "raylite/" not in str(err)
    assert type(err).__name__ == "RayTaskError(ValueError)" and err.args == (err.cause,)


class HttpError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


@ray.remote
def fetch() -> None:
    raise HttpError(404, "not found")


def test_the_users_exception_attributes_read_through(cluster) -> None:
    with pytest.raises(HttpError) as info:
        ray.get(fetch.remote())
    assert (info.value.status, info.value.body) == (404, "not found")
    assert info.value.cause.args == (404, "not found")


class LockedError(Exception):
    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.lock = threading.Lock()


class TwoArgError(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a}-{b}")


@ray.remote
def raise_locked() -> None:
    raise LockedError("cannot travel")


@ray.remote
def raise_two_arg() -> None:
    raise TwoArgError(1, 2)


@ray.remote
def return_lock() -> threading.Lock:
    return threading.Lock()


def test_errors_that_do_not_travel_still_say_what_happened(cluster) -> None:
    with pytest.raises(exceptions.RayTaskError) as locked:
        ray.get(raise_locked.remote())
    assert not isinstance(locked.value, LockedError) and "cannot travel" in str(locked.value)
    assert "LockedError" in str(locked.value.cause) and "could not be pickled" in str(locked.value.cause)
    with pytest.raises(exceptions.UnserializableException, match="TwoArgError: 1-2"):
        ray.get(raise_two_arg.remote())
    with pytest.raises(TypeError) as returned:
        ray.get(return_lock.remote())
    assert isinstance(returned.value, exceptions.RayTaskError) and "return_lock returned a value" in str(returned.value)


@ray.remote
class Broken:
    def __init__(self) -> None:
        raise ValueError("constructor failed")

    def ping(self) -> str:
        return "pong"


@ray.remote
class Account:
    def withdraw(self, n: int) -> None:
        raise KeyError(f"no funds for {n}")

    def __repr__(self) -> str:
        return "Account()"


def test_actor_errors_carry_rays_fields(cluster) -> None:
    broken = Broken.remote()
    for _ in range(2):
        with pytest.raises(exceptions.ActorDiedError) as info:
            ray.get(broken.ping.remote())
        err = info.value
        assert err.actor_init_failed and err.actor_id == broken._actor_id.hex()
        assert "constructor failed" in str(err) and "ray::Broken.__init__()" in str(err)
        assert isinstance(err, exceptions.RayActorError)
    account = Account.remote()
    with pytest.raises(KeyError) as call:
        ray.get(account.withdraw.remote(3))
    header = str(call.value).splitlines()[0]
    assert header.startswith("ray::Account.withdraw() (pid=")
    assert header.endswith(f", actor_id={account._actor_id.hex()}, repr=Account())")
    ray.kill(account)
    with pytest.raises(exceptions.ActorDiedError) as killed:
        ray.get(account.withdraw.remote(1))
    assert killed.value.actor_id == account._actor_id.hex() and not killed.value.actor_init_failed


# ---- serialization errors ---------------------------------------------------------------------------

LOCK = threading.Lock()


def test_serialization_errors_name_the_culprit(cluster) -> None:
    @ray.remote
    def uses_lock() -> bool:
        return LOCK.locked()

    with pytest.raises(TypeError, match=r"Could not pickle the remote function .*uses_lock") as fn:
        uses_lock.remote()
    assert "LOCK" in str(fn.value) and "cannot be pickled" in str(fn.value)
    with pytest.raises(TypeError, match=r"argument 0 \(of type lock\)"):
        double.remote(threading.Lock())
    with pytest.raises(TypeError, match=r"put\(\): could not pickle the value \(of type lock\)"):
        ray.put(threading.Lock())
    assert ray.get(double.remote(4)) == 8  # the session is unharmed


# ---- large functions --------------------------------------------------------------------------------


def test_a_function_capturing_a_large_array_travels_through_the_object_store(cluster, capfd, monkeypatch) -> None:
    monkeypatch.setattr(config, "FUNCTION_SIZE_WARN_BYTES", 1 << 20)
    captured = np.arange(4 << 20, dtype=np.uint8)  # 4 MiB: above the inline limit, and warned about

    @ray.remote
    def uses_big(i: int) -> int:
        return int(captured[i])

    @ray.remote
    class HoldsBig:
        def at(self, i: int) -> int:
            return int(captured[i])

    assert ray.get([uses_big.remote(i) for i in (1, 2, 255)]) == [1, 2, 255]
    assert ray.get(HoldsBig.remote().at.remote(7)) == 7
    err = capfd.readouterr().err
    assert "the remote function" in err and "uses_big is very large (4 MiB)" in err
    assert "the actor class" in err and "HoldsBig is very large" in err
    monkeypatch.setattr(config, "FUNCTION_SIZE_ERROR_BYTES", 2 << 20)

    @ray.remote
    def too_big() -> int:
        return len(captured)

    with pytest.raises(ValueError, match=r"too_big is too large to send .*FUNCTION_SIZE_ERROR_THRESHOLD=2 MiB"):
        too_big.remote()


# ---- ObjectRefs made by user code ---------------------------------------------------------------------


def test_refs_of_bad_ids_are_refused_at_once_and_the_session_lives_on(cluster) -> None:
    for bad in (b"x", b"", b"0" * 100, b"x" * 28):
        with pytest.raises(ValueError):
            ray.ObjectRef(bad)
    with pytest.raises(TypeError):
        ray.ObjectRef("not bytes")
    ref = ray.put(41)
    assert ray.get(ray.ObjectRef(ref.binary())) == 41
    nowhere = ray.ObjectRef.from_random()
    assert ray.wait([nowhere], timeout=0) == ([], [nowhere])
    assert ray.get(double.remote(21)) == 42
    assert context.current()._closed is False
