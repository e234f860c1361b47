"""The dashboard's HTTP server: static pages and a read-only JSON API, on the head's loop.

Theory of operation
-------------------
The head binds the dashboard's socket itself (`bind`) before it reports that
it is ready, so the address it prints is the one that answers; aiohttp is
imported and starts serving on that socket right after (`start`), which keeps
aiohttp's import off the head's start-up path. Every answer is computed from
the servicer's HeadState at the moment of the request by the same pure
functions the GetStateView RPC uses (query.py): nothing is cached, nothing is
written. The pages (static/) poll the JSON API every second.

Access: on a loopback address the dashboard is open to this machine's users,
as the head's gRPC port is to anyone holding the token. Listening beyond
loopback, every route except the login page asks for the cluster token: an
`Authorization: Bearer <token>` header, or a cookie that `?token=<token>` on
any page sets (the cookie holds an HMAC of the token, never the token). A
request without it gets 401 (the JSON API) or the login page (pages).

JSON API (every list takes Ray's filters as `filter=key=value` or
`filter=key!=value`, repeatable, plus `limit`, `detail=1` and `search`, a
case-insensitive substring of a record's id or name):

    /api/status            nodes, resources used/total, demand, counts
    /api/nodes /api/tasks /api/actors /api/objects /api/placement_groups
    /api/tasks/{task_id}   one task with its story (404 if unknown)
    /api/actors/{actor_id} one actor with its story
    /api/summary/tasks /api/summary/actors
    /api/timeline          Chrome trace events
    /api/logs /api/logs/file   a node's log files, read from its worker daemon (logs.py)

Prometheus: /metrics, the cluster's and the user metrics in Prometheus' text format
(prometheus.py), under the same token rule as the JSON API (a scraper sends the
token as `Authorization: Bearer`, Prometheus' `authorization` setting).
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
from importlib import resources
from typing import TYPE_CHECKING, Any

from raylite.head.dashboard import logs as dashboard_logs
from raylite.head.dashboard import query as q
from raylite.head.dashboard.rpc import explained
from raylite.state_filters import parse_filter

if TYPE_CHECKING:
    from aiohttp import web

    from raylite.head.service import HeadServicer

log = logging.getLogger("raylite.head")

COOKIE = "raylite_dashboard"


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` ("" and 0.0.0.0 are every interface)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int, any_port: bool) -> tuple[socket.socket | None, str]:
    """A listening socket for the dashboard, or None and why not. With any_port, a taken
    port falls back to a free one (the default port is often taken by another cluster)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for attempt in (port, 0) if any_port else (port,):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, attempt))
            sock.listen(128)
            sock.setblocking(False)
            return sock, ""
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE or attempt == 0:
                return None, f"cannot listen on {host}:{attempt} ({exc.strerror})"
            if not any_port:
                break
    return None, (
        f"port {port} on {host} is in use (another raylite or Ray dashboard?); "
        "pass another dashboard port (--dashboard-port, or init(dashboard_port=...))"
    )


def url_of(sock: socket.socket, host: str, advertised_ip: str) -> str:
    port = sock.getsockname()[1]
    shown = advertised_ip if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"raylite dashboard session", hashlib.sha256).hexdigest()


def authorized(token: str, header: str | None, cookie: str | None) -> bool:
    """Whether a request presents the cluster token (header) or the cookie made from it."""
    if header and header.startswith("Bearer "):
        if hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode()):
            return True
    return bool(cookie) and hmac.compare_digest(str(cookie).encode(), cookie_value(token).encode())


def list_params(params: Any) -> tuple[list[tuple[str, str, str]], int | None, bool, str]:
    """(filters, limit, detail, search) from a request's query string."""
    filters = [parse_filter(f) for f in params.getall("filter", [])]
    limit_text = params.get("limit")
    try:
        limit = int(limit_text) if limit_text else None
    except ValueError:
        raise q.QueryError(f"limit must be a whole number, got {limit_text!r}") from None
    detail = params.get("detail", "") in ("1", "true", "yes")
    return filters, limit, detail, params.get("search", "").strip()


def make_app(servicer: HeadServicer, token: str, require_token: bool, metrics_only: bool = False) -> web.Application:
    """The dashboard's routes; with metrics_only, /metrics alone (the head's metrics export port)."""
    from aiohttp import web

    static = resources.files("raylite.head.dashboard") / "static"

    def page(name: str) -> web.Response:
        return web.Response(text=(static / name).read_text(), content_type=_content_type(name))

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        if not require_token or request.path in ("/login", "/static/style.css"):
            return await handler(request)
        presented = request.query.get("token")
        if presented is not None:
            if hmac.compare_digest(presented.encode(), token.encode()):
                kept = [(k, v) for k, v in request.query.items() if k != "token"]
                clean = request.rel_url.with_query(kept)
                response = web.HTTPFound(str(clean))
                response.set_cookie(COOKIE, cookie_value(token), httponly=True, samesite="Strict")
                raise response
            raise web.HTTPFound("/login?wrong=1")
        if authorized(token, request.headers.get("Authorization"), request.cookies.get(COOKIE)):
            return await handler(request)
        if request.path.startswith("/api/") or request.path == "/metrics":  # machines: no login page
            return web.json_response(
                {"error": "this dashboard asks for the cluster token: send 'Authorization: Bearer <token>'"},
                status=401,
            )
        raise web.HTTPFound("/login")

    async def index(_request: web.Request) -> web.Response:
        return page("index.html")

    async def login(_request: web.Request) -> web.Response:
        return page("login.html")

    async def static_file(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in {p.name for p in static.iterdir()}:
            raise web.HTTPNotFound()
        return page(name)

    def answer(view: str, request: web.Request) -> web.Response:
        try:
            filters, limit, detail, search = list_params(request.query)
            out = q.query(servicer.state, view, filters, limit, detail, search)
        except (q.QueryError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return _json(out)

    async def listing(request: web.Request) -> web.Response:
        view = request.match_info["view"]
        if view not in q.LISTS:
            return web.json_response({"error": f"no list {view!r}; the lists are {', '.join(q.LISTS)}"}, status=404)
        return answer(view, request)

    async def one(request: web.Request) -> web.Response:
        view, wanted = request.match_info["view"], request.match_info["id"].lower()
        key = {"tasks": "task_id", "actors": "actor_id", "nodes": "node_id"}.get(view)
        if key is None:
            raise web.HTTPNotFound()
        found = q.query(servicer.state, view, [(key, "=", wanted)], 1, detail=True)["result"]
        if not found:
            return web.json_response({"error": f"no {view[:-1]} {wanted} is known to the head"}, status=404)
        return _json({"result": found[0]})

    async def status(_request: web.Request) -> web.Response:
        out = q.query(servicer.state, "status")
        out["result"]["dashboard_url"] = servicer.dashboard_url
        out["result"]["session_name"] = servicer.session_name
        return _json(out)

    async def summary(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind not in ("tasks", "actors"):
            raise web.HTTPNotFound()
        return _json(q.query(servicer.state, f"summary_{kind}"))

    async def timeline(_request: web.Request) -> web.Response:
        return _json(q.query(servicer.state, "timeline"))

    async def explain(request: web.Request) -> web.Response:
        """/api/explain?id=HEX[&id=HEX...]: why those objects, tasks or actors are not done."""
        try:
            ids = [bytes.fromhex(text) for text in request.query.getall("id", [])]
            return _json({"result": explained(servicer.state, ids)})
        except (q.QueryError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)

    registry: list[Any] = []  # this head's CollectorRegistry, made at the first scrape

    async def metrics(_request: web.Request) -> web.Response:
        from raylite.head.dashboard import prometheus

        if not registry:
            registry.append(prometheus.registry_for(servicer))
        return web.Response(body=prometheus.render(registry[0]), headers={"Content-Type": prometheus.CONTENT_TYPE})

    app = web.Application(middlewares=[guard])
    if metrics_only:
        app.router.add_get("/metrics", metrics)
        return app
    app.router.add_get("/", index)
    app.router.add_get("/login", login)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/api/status", status)
    app.router.add_get("/api/summary/{kind}", summary)
    app.router.add_get("/api/timeline", timeline)
    app.router.add_get("/api/explain", explain)
    dashboard_logs.add_routes(app, servicer, token)  # before /api/{view}, which would take /api/logs
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/{view}", listing)
    app.router.add_get("/api/{view}/{id}", one)
    return app


def _json(value: Any) -> web.Response:
    from aiohttp import web

    return web.Response(text=json.dumps(value, default=str), content_type="application/json")


def _content_type(name: str) -> str:
    return {
        ".html": "text/html",
        ".js": "application/javascript",
        ".css": "text/css",
        ".svg": "image/svg+xml",
    }.get(name[name.rfind(".") :], "application/octet-stream")


class _NoRawRequest(logging.Filter):
    """aiohttp logs a request it cannot parse with the request's raw bytes, which may hold the
    cluster token (an Authorization header): keep the error's kind and code, drop the bytes. A
    malformed request is the sender's fault, not the head's: a warning, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            if 400 <= getattr(exc, "code", 0) < 500:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = f"{record.getMessage()}: {type(exc).__name__} {getattr(exc, 'code', '')}".rstrip()
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


HTTP_LOG = logging.getLogger("raylite.head.http")
HTTP_LOG.addFilter(_NoRawRequest())


async def start(
    servicer: HeadServicer, token: str, sock: socket.socket, require_token: bool, metrics_only: bool = False
) -> Any:
    """Serves the dashboard (or /metrics alone) on the bound socket; returns the runner, for `stop`."""
    from aiohttp import web

    app = make_app(servicer, token, require_token, metrics_only)
    runner = web.AppRunner(app, access_log=None, logger=HTTP_LOG)
    await runner.setup()
    # a stopping head waits at most this long for a request in flight (answers take milliseconds)
    await web.SockSite(runner, sock, shutdown_timeout=2.0).start()
    return runner


async def stop(runner: Any) -> None:
    await runner.cleanup()
