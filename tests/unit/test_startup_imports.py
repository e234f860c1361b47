"""What each process loads at start: the driver's API stays out of the daemons (docs/performance.md, "Start-up").

`raylite/__init__.py` loads its public names on first use, so `python -m raylite.head.server`
and `raylite.worker.daemon` (which run the package's __init__ first) do not import the client.
Each check runs in a fresh interpreter: this test process has imported everything already.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import raylite

SCRIPT = """
import importlib, sys
importlib.import_module(sys.argv[1])
print(" ".join(sorted(sys.modules)))
"""


def loaded_by(module: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, module], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def under(modules: set[str], *packages: str) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_import_raylite_loads_neither_the_client_nor_grpc() -> None:
    loaded = loaded_by("raylite")
    assert under(loaded, "raylite.client", "raylite.util", "raylite.rpc", "grpc", "asyncio", "cloudpickle") == []


@pytest.mark.parametrize("entry", ["raylite.head.server", "raylite.worker.daemon"])
def test_the_daemons_do_not_load_the_client(entry: str) -> None:
    loaded = loaded_by(entry)
    assert under(loaded, "raylite.client", "raylite.util", "raylite.actor") == []


def test_an_executor_loads_the_client_it_uses_but_not_the_drivers_api() -> None:
    loaded = loaded_by("raylite.worker.executor_main")
    assert "raylite.client.context" in loaded  # (a task that calls the API makes a client)
    assert under(loaded, "raylite.client.api", "raylite.client.local_cluster", "raylite.util") == []


def test_an_executor_starts_without_grpc() -> None:
    # grpc is the client's (raylite/client/head_session.py), made when user code first calls the API; an
    # executor that runs plain tasks and actor calls never needs it (docs/performance.md, "Start-up")
    loaded = loaded_by("raylite.worker.executor_main")
    assert under(loaded, "grpc", "raylite.auth", "raylite.client.core", "raylite.client.objects") == []
    assert under(loaded, "raylite.rpc.worker_pb2", "raylite.rpc.head_pb2_grpc", "raylite.rpc.worker_pb2_grpc") == []


def test_the_lazy_names_are_the_modules_objects() -> None:
    from raylite.client import api, object_ref

    assert raylite.get is api.get and raylite.init is api.init
    assert raylite.ObjectID is raylite.ObjectRef is object_ref.ObjectRef
    assert raylite.exceptions is sys.modules["raylite.exceptions"]
    assert set(raylite.__all__) <= set(dir(raylite))
    for name in raylite.__all__:
        assert getattr(raylite, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = raylite.no_such_name  # type: ignore[attr-defined]
