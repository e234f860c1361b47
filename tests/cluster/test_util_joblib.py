"""The "ray" joblib backend (raylite.util.joblib.register_ray) on a local cluster."""

from __future__ import annotations

import os
import sys

import cloudpickle
import pytest

joblib = pytest.importorskip("joblib")

from joblib import Parallel, delayed  # noqa: E402

from raylite.util.joblib import register_ray  # noqa: E402

# The pool's processes cannot import this test module by name: send its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def square(x):
    return x * x


def where(_):
    return os.getpid()


def fail_on_three(x):
    if x == 3:
        raise ValueError(f"no {x}")
    return x


@pytest.fixture(scope="module", autouse=True)
def registered(cluster):
    register_ray()


def test_parallel_runs_on_the_cluster_in_order():
    with joblib.parallel_backend("ray"):
        assert Parallel(n_jobs=2)(delayed(square)(i) for i in range(20)) == [i * i for i in range(20)]
        pids = Parallel(n_jobs=2)(delayed(where)(i) for i in range(6))
    assert os.getpid() not in pids


def test_parallel_config_names_the_backend_too():
    with joblib.parallel_config(backend="ray", n_jobs=2):
        assert Parallel()(delayed(square)(i) for i in range(5)) == [0, 1, 4, 9, 16]


def test_n_jobs_counts_the_clusters_cpus():
    from raylite.util.joblib.ray_backend import RayBackend

    backend = RayBackend()
    assert backend.effective_n_jobs(-1) == 2  # the cluster fixture has 2 CPUs
    assert backend.effective_n_jobs(-2) == 1
    assert backend.effective_n_jobs(None) == 2
    assert backend.effective_n_jobs(5) == 5
    with pytest.raises(ValueError, match="n_jobs == 0"):
        backend.effective_n_jobs(0)
    with joblib.parallel_backend("ray"):
        assert Parallel(n_jobs=-1)(delayed(square)(i) for i in range(100))[-1] == 99 * 99
        assert Parallel(n_jobs=1)(delayed(square)(i) for i in range(3)) == [0, 1, 4]  # runs in this process


def test_an_error_in_a_job_is_raised_by_parallel():
    with joblib.parallel_backend("ray"), pytest.raises(ValueError, match="no 3"):
        Parallel(n_jobs=2)(delayed(fail_on_three)(i) for i in range(8))
