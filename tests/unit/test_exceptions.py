"""raylite.exceptions as Ray's: the class hierarchy, the fields user code reads, the texts and pickling
of task errors, and how an executor forms them (raylite/worker/task_errors.py)."""

from __future__ import annotations

import pickle
import threading

import pytest

from raylite import error_transport
from raylite import exceptions as ex
from raylite.serialization import deserialize, dumps, serialize
from raylite.worker import task_errors

# (class, its Ray base classes) for every public class of Ray 2.60's ray.exceptions
HIERARCHY = [
    ("RayError", ("Exception",)),
    ("CrossLanguageError", ("RayError",)),
    ("TaskCancelledError", ("RayError",)),
    ("RayTaskError", ("RayError",)),
    ("LocalRayletDiedError", ("RayError",)),
    ("WorkerCrashedError", ("RayError",)),
    ("RayActorError", ("RayError",)),
    ("ActorDiedError", ("RayActorError",)),
    ("ActorUnavailableError", ("RayActorError",)),
    ("RaySystemError", ("RayError",)),
    ("AuthenticationError", ("RayError",)),
    ("UserCodeException", ("RayError",)),
    ("ObjectStoreFullError", ("RayError",)),
    ("OutOfDiskError", ("RayError",)),
    ("OutOfMemoryError", ("RayError",)),
    ("NodeDiedError", ("RayError",)),
    ("ObjectLostError", ("RayError",)),
    ("ObjectFetchTimedOutError", ("ObjectLostError",)),
    ("RpcError", ("RayError",)),
    ("ReferenceCountingAssertionError", ("ObjectLostError", "AssertionError")),
    ("ObjectFreedError", ("ObjectLostError",)),
    ("OwnerDiedError", ("ObjectLostError",)),
    ("ObjectReconstructionFailedError", ("ObjectLostError",)),
    ("GetTimeoutError", ("RayError", "TimeoutError")),
    ("PlasmaObjectNotAvailable", ("RayError",)),
    ("AsyncioActorExit", ("RayError",)),
    ("RuntimeEnvSetupError", ("RayError",)),
    ("TaskPlacementGroupRemoved", ("RayError",)),
    ("ActorPlacementGroupRemoved", ("RayError",)),
    ("PendingCallsLimitExceeded", ("RayError",)),
    ("TaskUnschedulableError", ("RayError",)),
    ("ActorUnschedulableError", ("RayError",)),
    ("ObjectRefStreamEndOfStreamError", ("RayError",)),
    ("StreamingGeneratorReplayInconsistentError", ("RaySystemError",)),
    ("OufOfBandObjectRefSerializationException", ("RayError",)),
    ("RayChannelError", ("RaySystemError",)),
    ("RayChannelTimeoutError", ("RayChannelError", "TimeoutError")),
    ("RayCgraphCapacityExceeded", ("RaySystemError",)),
    ("RayDirectTransportError", ("RaySystemError",)),
    ("UnserializableException", ("RayError",)),
    ("ActorAlreadyExistsError", ("ValueError", "RayError")),
    ("ActorHandleNotFoundError", ("ValueError", "RayError")),
]


def _named(name: str) -> type:
    return getattr(ex, name, None) or getattr(__builtins__, name, None) or eval(name)


@pytest.mark.parametrize(("name", "bases"), HIERARCHY)
def test_every_ray_exception_exists_with_rays_bases(name: str, bases: tuple[str, ...]) -> None:
    cls = getattr(ex, name)
    for base in bases:
        assert issubclass(cls, _named(base)), (name, base)


def test_task_cancelled_is_not_a_task_error() -> None:
    assert not issubclass(ex.TaskCancelledError, ex.RayTaskError)


def _raise_and_catch(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return caught


def helper_that_fails(x: int) -> None:
    raise ValueError(f"bad input {x}")


def user_function(x: int) -> None:
    helper_that_fails(x)


def _task_error_of(fn, *args, **facts) -> ex.RayTaskError:
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001
        return task_errors.task_error(fn.__name__, exc, 4242, "10.1.2.3", **facts)
    raise AssertionError("did not raise")


def test_str_is_the_remote_traceback_headed_as_rays_with_the_users_frames() -> None:
    err = _task_error_of(user_function, 7)
    lines = str(err).splitlines()
    assert lines[0] == "ray::user_function() (pid=4242, ip=10.1.2.3)"
    assert lines[-1] == "ValueError: bad input 7"
    assert "Traceback (most recent call last):" not in str(err)
    files = [ln for ln in lines if ln.strip().startswith("File ")]
    assert [f.rsplit(" in ", 1)[1] for f in files][-2:] == ["user_function", "helper_that_fails"]
    assert all(__file__ in f for f in files[-2:])
    assert '    raise ValueError(f"bad input {x}")' in lines  # the source line shows


def test_runtime_frames_are_left_out_of_the_traceback() -> None:
    from raylite.client import submit

    def calls_into_raylite() -> None:
        submit.check_options({"num_returns": -1}, submit.TASK_OPTIONS, "f")  # raises inside raylite

    text = task_errors.user_traceback(_raise_and_catch_from(calls_into_raylite))
    assert "raylite/client/submit.py" not in text
    assert "calls_into_raylite" in text and text.rstrip().endswith("-1")


def _raise_and_catch_from(fn) -> BaseException:
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001
        return exc
    raise AssertionError("did not raise")


def test_actor_calls_show_the_actor_in_the_header() -> None:
    class Account:
        def __repr__(self) -> str:
            return "Account(7)"

    err = _task_error_of(user_function, 1, actor=Account(), actor_id="ab" * 16)
    assert str(err).splitlines()[0] == (
        f"ray::user_function() (pid=4242, ip=10.1.2.3, actor_id={'ab' * 16}, repr=Account(7))"
    )


def test_dual_error_is_the_cause_and_reads_its_attributes_through() -> None:
    class HttpError(Exception):
        def __init__(self, status: int, body: str) -> None:
            super().__init__(status, body)
            self.status = status
            self.body = body

    err = ex.RayTaskError("fetch", "Traceback (most recent call last):\nHttpError: 404", HttpError(404, "nf"), pid=1)
    dual = err.as_instanceof_cause()
    assert isinstance(dual, HttpError) and isinstance(dual, ex.RayTaskError)
    assert type(dual).__name__ == "RayTaskError(HttpError)"
    assert (dual.status, dual.body) == (404, "nf")
    assert dual.args == (err.cause,)
    assert repr(dual) == "RayTaskError(HttpError)(HttpError(404, 'nf'))"
    assert str(dual) == str(err)
    with pytest.raises(AttributeError):
        _ = dual.no_such_attribute
    # it travels as a plain RayTaskError, and becomes the dual again at the other end
    again = deserialize(dumps(dual)).as_instanceof_cause()
    assert type(again) is type(dual) and again.status == 404


def test_dual_is_self_when_the_cause_cannot_be_subclassed() -> None:
    err = ex.RayTaskError("f", "Traceback (most recent call last):\nbool", ex.RayError("already one"))
    assert err.as_instanceof_cause() is err


def test_an_exception_that_does_not_pickle_travels_as_a_ray_error_naming_it() -> None:
    class LockedError(Exception):
        def __init__(self, msg: str) -> None:
            super().__init__(msg)
            self.lock = threading.Lock()

    err = task_errors.task_error("bad", _raise_and_catch(LockedError("cannot travel")), 1, "ip")
    got = deserialize(serialize(task_errors.travelling(err)).to_bytes())
    assert type(got) is ex.RayTaskError and type(got.cause) is ex.RayError
    assert "LockedError" in str(got.cause) and "could not be pickled" in str(got.cause)
    assert str(got).splitlines()[-1].endswith("LockedError: cannot travel")
    assert got.as_instanceof_cause() is got


class TwoArgError(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a}-{b}")


def test_an_exception_that_does_not_unpickle_becomes_unserializable_exception() -> None:
    err = task_errors.task_error("bad2", _raise_and_catch(TwoArgError(1, 2)), 1, "ip")
    got = deserialize(serialize(task_errors.travelling(err)).to_bytes())
    assert isinstance(got, ex.UnserializableException) and isinstance(got, ex.RayError)
    assert "ray::bad2()" in str(got) and "TwoArgError: 1-2" in str(got)


def test_a_constructors_error_summary_keeps_where_and_what() -> None:
    err = _task_error_of(user_function, 3)
    assert task_errors.summary(err) == str(err)
    long = ex.RayTaskError("f", "Traceback (most recent call last):\n" + "x" * 10_000 + "\nValueError: end", None)
    text = task_errors.summary(long)
    assert len(text) <= task_errors.SUMMARY_MAX_CHARS and text.startswith("ray::f()") and text.endswith("end")


def test_actor_died_error_fields() -> None:
    ctor = _task_error_of(user_function, 2, actor_id="cd" * 16)
    died = ex.ActorDiedError(ctor)
    assert died.actor_init_failed and died.actor_id == "cd" * 16 and not died.preempted
    assert ex.CONSTRUCTOR_FAILED in str(died) and "ValueError: bad input 2" in str(died)
    plain = ex.ActorDiedError()
    assert plain.actor_id is None and not plain.actor_init_failed and str(plain) == plain.error_msg
    again = pickle.loads(pickle.dumps(died))
    assert (again.actor_id, again.actor_init_failed, str(again)) == (died.actor_id, True, str(died))
    unavailable = ex.ActorUnavailableError("its node is unreachable", b"\x01" * 16)
    assert unavailable.actor_id == "01" * 16 and "unreachable" in str(unavailable)


def test_runtime_made_errors_carry_raylites_text() -> None:
    lost = deserialize(dumps(error_transport.system_error("ObjectLostError", "object 12 was lost: its node died")))
    assert type(lost) is ex.ObjectLostError and str(lost) == "object 12 was lost: its node died"
    died = deserialize(dumps(error_transport.system_error("ActorDiedError", "killed by raylite.kill()")))
    assert type(died) is ex.ActorDiedError and str(died) == "killed by raylite.kill()" and died.actor_id is None
    unavailable = deserialize(dumps(error_transport.system_error("ActorUnavailableError", "it is restarting")))
    assert type(unavailable) is ex.ActorUnavailableError and unavailable.actor_id is None
    assert str(unavailable) == "The actor cannot be reached now: it is restarting. The call may or may not have run."
    crashed = deserialize(dumps(error_transport.system_error("WorkerCrashedError", "its process died (SIGKILL)")))
    assert type(crashed) is ex.WorkerCrashedError and "SIGKILL" in str(crashed)
    odd = error_transport.system_error("NoSuchKind", "something")
    assert type(odd) is ex.RaySystemError and str(odd) == "System error: something"


def test_rays_constructor_forms_work() -> None:
    assert ex.ObjectLostError("ab12", None, "").object_ref_hex == "ab12"
    assert "ab12" in str(ex.OwnerDiedError("ab12", None, ""))
    assert ex.TaskCancelledError("t1").task_id == "t1"
    assert str(ex.TaskUnschedulableError("no node")).endswith("no node")
    assert str(ex.RuntimeEnvSetupError("pip failed")).endswith("pip failed")
    assert isinstance(ex.GetTimeoutError("late"), TimeoutError)
    assert str(ex.RaySystemError("boom")) == "System error: boom"


def test_the_heads_text_for_a_constructor_death_says_so_in_the_words_the_client_reads() -> None:
    """The client sets ActorDiedError.actor_init_failed from exceptions.CONSTRUCTOR_FAILED in the head's text."""
    from raylite.head.state import HeadState
    from raylite.head.state.model import ClientConnected, NodeAdded, TaskSubmitted
    from tests.unit.test_head_state import DRIVER, JOB, ONE_CPU, actor, call, delivered, finished, oid, result, step

    state = HeadState()
    step(state, ClientConnected(DRIVER, JOB, True))
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    a = actor("a", resources=ONE_CPU)
    step(state, TaskSubmitted(a))
    step(state, finished(a, result(a, error=True), error_summary="ray::A.__init__() ...\nValueError: bad config"))
    effects = step(state, TaskSubmitted(call("late", a)))
    failure = delivered(effects)[(DRIVER, oid(call("late", a)))].failure
    assert failure is not None and ex.CONSTRUCTOR_FAILED in failure.message and "bad config" in failure.message
