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
    parser.add_argument(
        "--metrics-export-port",
        type=int,
        default=-1,
        help="a port of its own serving only /metrics, on the dashboard's host (-1: none; 0: any free one)",
    )


class Entry:
    def __init__(self, servicer: Any, token: str, opts: argparse.Namespace, detect_ip: Callable[[], str]) -> None:
        self.servicer = servicer
        self.token = token
        self.host = opts.dashboard_host
        self.port = opts.dashboard_port
        self.any_port = opts.dashboard_any_port
        self.detect_ip = detect_ip
        self.metrics_port = opts.metrics_export_port
        self.sock: Any = None
        self.metrics_sock: Any = None
        self.runners: list[Any] = []

    def bind(self) -> dict[str, str]:
        """Binds the sockets; returns what the ready line says of the dashboard and /metrics."""
        out = self._bind_metrics() if self.metrics_port >= 0 else {}
        if self.port < 0:
            return out
        from raylite.head.dashboard import server

        self.sock, trouble = server.bind(self.host, self.port, self.any_port)
        if self.sock is None:
            log.warning("no dashboard: %s", trouble)
            return {"dashboard_error": trouble}
        everywhere = self.host in ("0.0.0.0", "::", "")
        url = server.url_of(self.sock, self.host, self.detect_ip() if everywhere else self.host)
        self.servicer.dashboard_url = url
        return {**out, "dashboard_url": url}

    def _bind_metrics(self) -> dict[str, str]:
        from raylite.head.dashboard import server

        self.metrics_sock, trouble = server.bind(self.host, self.metrics_port, any_port=False)
        if self.metrics_sock is None:
            trouble = trouble.replace("dashboard port (--dashboard-port, or init(dashboard_port=...))", "metrics port")
            log.warning("no metrics export port: %s", trouble)
            return {"metrics_error": trouble}
        everywhere = self.host in ("0.0.0.0", "::", "")
        url = server.url_of(self.metrics_sock, self.host, self.detect_ip() if everywhere else self.host)
        return {"metrics_url": f"{url}/metrics"}

    async def start(self) -> None:
        from raylite.head.dashboard import server

        require_token = not server.is_loopback(self.host)
        for sock, metrics_only in ((self.sock, False), (self.metrics_sock, True)):
            if sock is None:
                continue
            try:
                self.runners.append(await server.start(self.servicer, self.token, sock, require_token, metrics_only))
            except Exception as exc:  # a dashboard that fails must not take the head down
                what = "the metrics port" if metrics_only else "the dashboard"
                log.warning("%s failed to start (%s: %s); the head runs without it", what, type(exc).__name__, exc)
                if not metrics_only:
                    self.servicer.dashboard_url = ""
                continue
            where = "metrics only" if metrics_only else f"dashboard at {self.servicer.dashboard_url}"
            log.info("%s on %s%s", where, sock.getsockname(), " (token)" if require_token else "")

    async def stop(self) -> None:
        if self.runners:
            from raylite.head.dashboard import server

            for runner in self.runners:
                await server.stop(runner)
