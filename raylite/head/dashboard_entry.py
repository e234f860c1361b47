"""The head process's side of the dashboard: its flags, binding, starting and stopping.

The socket is bound before the head reports that it is ready (so the address
it reports answers), and aiohttp starts serving on it after (its import stays
off the start-up path). A port that is taken is reported (in the ready line,
which `raylite start` and `init()` print, and in the head's log), never fatal:
the head runs without a dashboard.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("raylite.head")


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dashboard-host", default="127.0.0.1", help="where the dashboard listens")
    parser.add_argument("--dashboard-port", type=int, default=-1, help="the dashboard's port (-1: no dashboard)")
    parser.add_argument("--dashboard-any-port", action="store_true", help="a free port when --dashboard-port is taken")


class Entry:
    def __init__(self, servicer: Any, token: str, opts: argparse.Namespace, detect_ip: Callable[[], str]) -> None:
        self.servicer = servicer
        self.token = token
        self.host = opts.dashboard_host
        self.port = opts.dashboard_port
        self.any_port = opts.dashboard_any_port
        self.detect_ip = detect_ip
        self.sock: Any = None
        self.runner: Any = None

    def bind(self) -> dict[str, str]:
        """Binds the socket; returns what the ready line says of the dashboard."""
        if self.port < 0:
            return {}
        from raylite.head.dashboard import server

        self.sock, trouble = server.bind(self.host, self.port, self.any_port)
        if self.sock is None:
            log.warning("no dashboard: %s", trouble)
            return {"dashboard_error": trouble}
        everywhere = self.host in ("0.0.0.0", "::", "")
        url = server.url_of(self.sock, self.host, self.detect_ip() if everywhere else self.host)
        self.servicer.dashboard_url = url
        return {"dashboard_url": url}

    async def start(self) -> None:
        if self.sock is None:
            return
        from raylite.head.dashboard import server

        try:
            self.runner = await server.start(
                self.servicer, self.token, self.sock, require_token=not server.is_loopback(self.host)
            )
        except Exception as exc:  # a dashboard that fails must not take the head down
            log.warning("the dashboard failed to start (%s: %s); the head runs without it", type(exc).__name__, exc)
            self.servicer.dashboard_url = ""
            return
        log.info("dashboard at %s%s", self.servicer.dashboard_url, "" if server.is_loopback(self.host) else " (token)")

    async def stop(self) -> None:
        if self.runner is not None:
            from raylite.head.dashboard import server

            await server.stop(self.runner)
