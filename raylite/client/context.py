"""The one client of this process (driver or executor), as an explicit object.

Public functions in raylite.client.api delegate to `current()`. Executors
install a factory instead of a client, so the gRPC connection is made only
when user code first calls the API from inside a task. In a driver that has
not called init(), `current()` calls the auto-init hook the API installs
(init() with no arguments), as Ray's API functions that need a cluster do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from raylite.client.core import Client

_client: Client | None = None
_factory: Callable[[], Client] | None = None
_fallback_counter: RefCounter | None = None
_auto_init: Callable[[], None] | None = None
_auto_init_lock = threading.Lock()
_factory_lock = threading.Lock()


class RefCounter(Protocol):
    def add_ref(self, oid: bytes) -> None: ...

    def remove_ref(self, oid: bytes) -> None: ...


def ref_counter() -> RefCounter | None:
    """Who counts this process's ObjectRefs: the client, or (in an executor that
    has not needed a client yet) a local table the client adopts when made."""
    return _client if _client is not None else _fallback_counter


def install_fallback_counter(counter: RefCounter | None) -> None:
    global _fallback_counter
    _fallback_counter = counter


def current() -> Client:
    """This process's client: made by the executor's factory, or by auto-init in a driver."""
    global _client
    if _client is None:
        if _factory is not None:
            # one client per process, whichever thread asks first: a second one, with the
            # same client id, would replace the first one's stream at the head (and with it
            # the subscriptions a get in another thread waits on)
            with _factory_lock:
                if _client is None:
                    _client = _factory()
            return _client
        elif _auto_init is not None:
            with _auto_init_lock:  # two threads calling the API at once start one cluster
                if _client is None and _factory is None:
                    _auto_init()
            if _client is None and _factory is None:
                raise RuntimeError("raylite could not start a local cluster: call raylite.init() yourself")
            return current()
        else:
            raise RuntimeError("raylite is not initialized: call raylite.init() (or ray.init()) before using the API")
    return _client


def install_auto_init(hook: Callable[[], None] | None) -> None:
    global _auto_init
    _auto_init = hook


def peek() -> Client | None:
    """The client if one exists, without creating it."""
    return _client


def install(client: Client | None) -> None:
    global _client
    _client = client


def install_factory(factory: Callable[[], Client] | None) -> None:
    global _factory
    _factory = factory


def is_initialized() -> bool:
    return _client is not None or _factory is not None
