"""Resource arithmetic: fits / subtract / add / request_key / normalize."""

from __future__ import annotations

import pytest

from raylite import resources as res

# ---- fits -------------------------------------------------------------------


def test_fits_when_every_amount_is_available() -> None:
    assert res.fits({"CPU": 2.0, "GPU": 1.0}, {"CPU": 2.0, "GPU": 1.0, "memory": 10.0})


def test_does_not_fit_when_one_amount_is_short() -> None:
    assert not res.fits({"CPU": 2.0, "GPU": 1.0}, {"CPU": 4.0, "GPU": 0.5})


def test_does_not_fit_when_resource_is_missing_from_node() -> None:
    assert not res.fits({"TPU": 1.0}, {"CPU": 8.0})


def test_empty_and_zero_requests_fit_anywhere() -> None:
    assert res.fits({}, {})
    assert res.fits({"CPU": 0.0, "accelerator": 0.0}, {})


def test_fits_tolerates_float_rounding() -> None:
    available = {"CPU": 0.3}
    res.subtract(available, {"CPU": 0.1})
    res.subtract(available, {"CPU": 0.1})
    assert available["CPU"] != 0.1  # 0.09999999999999998: rounding happened
    assert res.fits({"CPU": 0.1}, available)


def test_does_not_fit_on_overcommitted_node() -> None:
    assert not res.fits({"CPU": 0.5}, {"CPU": -1.0})


def test_fractional_requests_fit_until_exhausted() -> None:
    available = {"CPU": 1.0}
    for _ in range(4):
        assert res.fits({"CPU": 0.25}, available)
        res.subtract(available, {"CPU": 0.25})
    assert not res.fits({"CPU": 0.25}, available)


# ---- subtract / add ----------------------------------------------------------


def test_subtract_then_add_round_trips() -> None:
    available = {"CPU": 4.0, "GPU": 2.0}
    request = {"CPU": 1.5, "GPU": 1.0}
    res.subtract(available, request)
    assert available == {"CPU": 2.5, "GPU": 1.0}
    res.add(available, request)
    assert available == {"CPU": 4.0, "GPU": 2.0}


def test_subtract_may_go_negative_and_creates_missing_keys() -> None:
    available = {"CPU": 1.0}
    res.subtract(available, {"CPU": 2.0, "custom": 1.0})
    assert available == {"CPU": -1.0, "custom": -1.0}


def test_zero_amounts_do_not_touch_the_dict() -> None:
    available: dict[str, float] = {"CPU": 1.0}
    res.subtract(available, {"GPU": 0.0})
    res.add(available, {"memory": 0.0})
    assert available == {"CPU": 1.0}


# ---- request_key ----------------------------------------------------------------


def test_request_key_ignores_order_and_zero_amounts() -> None:
    assert res.request_key({"GPU": 1.0, "CPU": 2.0}) == res.request_key({"CPU": 2.0, "GPU": 1.0, "x": 0.0})
    assert res.request_key({"CPU": 2.0, "GPU": 1.0}) == (("CPU", 2.0), ("GPU", 1.0))


def test_request_key_distinguishes_amounts() -> None:
    assert res.request_key({"CPU": 1.0}) != res.request_key({"CPU": 2.0})
    assert res.request_key({}) == ()
    hash(res.request_key({"CPU": 1.0}))  # usable as a dict key


# ---- normalize ------------------------------------------------------------------


def test_normalize_defaults_to_one_cpu() -> None:
    assert res.normalize() == {"CPU": 1.0}


def test_normalize_uses_default_cpus_when_num_cpus_is_none() -> None:
    assert res.normalize(default_cpus=0.0) == {}
    assert res.normalize(num_cpus=None, default_cpus=2) == {"CPU": 2.0}


def test_normalize_zero_cpus_drops_cpu() -> None:
    assert res.normalize(num_cpus=0) == {}


def test_normalize_all_options_become_floats() -> None:
    out = res.normalize(num_cpus=2, num_gpus=1, resources={"accel": 3}, memory=1024)
    assert out == {"CPU": 2.0, "GPU": 1.0, "accel": 3.0, "memory": 1024.0}
    assert all(type(v) is float for v in out.values())


def test_normalize_fractional_amounts() -> None:
    assert res.normalize(num_cpus=0.5, num_gpus=0.25) == {"CPU": 0.5, "GPU": 0.25}


@pytest.mark.parametrize("name", ["CPU", "GPU"])
def test_normalize_rejects_cpu_and_gpu_in_resources(name: str) -> None:
    with pytest.raises(ValueError, match="num_cpus/num_gpus"):
        res.normalize(resources={name: 1.0})


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_cpus": -1}, "CPU"),
        ({"num_gpus": -0.5}, "GPU"),
        ({"memory": -10}, "memory"),
        ({"resources": {"accel": -2}}, "accel"),
    ],
)
def test_normalize_rejects_negative_amounts(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"resource '{name}' must be a finite amount >= 0"):
        res.normalize(**kwargs)


@pytest.mark.parametrize("kwargs", [{"num_cpus": float("nan")}, {"num_gpus": float("inf")}, {"num_cpus": 1.5}])
def test_normalize_rejects_non_finite_and_fractions_above_one(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="finite|whole numbers"):
        res.normalize(**kwargs)


def test_normalize_keeps_zero_custom_resource_but_key_ignores_it() -> None:
    out = res.normalize(num_cpus=1, resources={"accel": 0})
    assert out == {"CPU": 1.0, "accel": 0.0}
    assert res.request_key(out) == (("CPU", 1.0),)
    assert res.fits(out, {"CPU": 1.0})


def test_normalize_does_not_mutate_the_resources_argument() -> None:
    custom = {"accel": 1}
    res.normalize(resources=custom)
    assert custom == {"accel": 1}
