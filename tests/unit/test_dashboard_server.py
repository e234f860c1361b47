"""The dashboard's HTTP server against a HeadState in this process (no daemons): routes, token."""

from __future__ import annotations

import socket
from types import SimpleNamespace

from aiohttp.test_utils import TestClient, TestServer

from raylite.head.dashboard import server
from raylite.head.state import HeadState
from raylite.head.state.model import ClientConnected, NodeAdded, TaskRecord, TaskSubmitted
from raylite.rpc import common_pb2

TOKEN = "s3cret-token"


def servicer() -> SimpleNamespace:
    state = HeadState()
    info = common_pb2.NodeInfo(node_id=b"n" * 16, address="10.0.0.1:7000", ip="10.0.0.1", total={"CPU": 2.0})
    state.handle(NodeAdded(b"n" * 16, {"CPU": 2.0}, info), ClientConnected(b"c" * 8, b"j" * 8, True), now=1.0)
    task = TaskRecord(task_id=b"t" * 16, job_id=b"j" * 8, client_id=b"c" * 8, name="work", resources={"CPU": 1.0})
    state.handle(TaskSubmitted(task), now=2.0)
    return SimpleNamespace(state=state, dashboard_url="http://10.0.0.1:8265", session_name="session_x")


async def client_for(require_token: bool) -> TestClient:
    app = server.make_app(servicer(), TOKEN, require_token)  # type: ignore[arg-type]
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_open_on_loopback_pages_and_api() -> None:
    client = await client_for(require_token=False)
    try:
        assert "raylite dashboard" in await (await client.get("/")).text()
        for path in ("/static/app.js", "/static/style.css"):
            assert (await client.get(path)).status == 200
        assert (await client.get("/static/nothing.js")).status == 404
        status = await (await client.get("/api/status")).json()
        assert status["result"]["nodes"][0]["node_ip"] == "10.0.0.1"
        tasks = await (await client.get("/api/tasks", params={"filter": "state=running", "detail": "1"})).json()
        assert [t["name"] for t in tasks["result"]] == ["work"] and tasks["result"][0]["events"]
        found = await (await client.get("/api/tasks", params={"search": "WOR"})).json()
        assert found["num_filtered"] == 1
        none = await (await client.get("/api/tasks", params={"search": "nothing-like-it"})).json()
        assert none["num_filtered"] == 0
        one = await client.get(f"/api/tasks/{(b't' * 16).hex()}")
        assert (await one.json())["result"]["name"] == "work"
        assert (await client.get(f"/api/tasks/{'00' * 16}")).status == 404
        bad = await client.get("/api/tasks", params={"filter": "colour=red"})
        assert bad.status == 400 and "the keys are" in (await bad.json())["error"]
        assert (await client.get("/api/jobs")).status == 404
        summary = await (await client.get("/api/summary/tasks")).json()
        assert summary["result"]["cluster"]["summary"]["work"]["state_counts"] == {"RUNNING": 1}
        assert (await (await client.get("/api/placement_groups")).json())["result"] == []
    finally:
        await client.close()


async def test_beyond_loopback_every_route_but_login_asks_for_the_token() -> None:
    client = await client_for(require_token=True)
    try:
        refused = await client.get("/api/status")
        assert refused.status == 401 and "token" in (await refused.json())["error"]
        page = await client.get("/", allow_redirects=False)
        assert page.status == 302 and page.headers["Location"] == "/login"
        assert "cluster token" in await (await client.get("/login")).text()
        wrong = await client.get("/api/status", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        right = await client.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status == 200
        wrong_query = await client.get("/?token=nope", allow_redirects=False)
        assert wrong_query.headers["Location"].startswith("/login")
        # ?token= sets a cookie (not the token itself) and drops the token from the address
        login = await client.get("/?token=" + TOKEN + "&x=1", allow_redirects=False)
        assert login.status == 302 and "token" not in login.headers["Location"]
        cookie = login.cookies[server.COOKIE].value
        assert cookie and TOKEN not in cookie
        after = await client.get("/api/status")  # the client keeps the cookie
        assert after.status == 200
    finally:
        await client.close()


def test_is_loopback() -> None:
    assert server.is_loopback("127.0.0.1") and server.is_loopback("::1") and server.is_loopback("localhost")
    assert not server.is_loopback("0.0.0.0") and not server.is_loopback("10.0.0.5")


def test_bind_falls_back_only_when_told() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        sock, why = server.bind("127.0.0.1", port, any_port=False)
        assert sock is None and f"port {port} on 127.0.0.1 is in use" in why and "--dashboard-port" in why
        sock, why = server.bind("127.0.0.1", port, any_port=True)
        assert sock is not None and why == "" and sock.getsockname()[1] != port
        assert server.url_of(sock, "0.0.0.0", "10.1.2.3").startswith("http://10.1.2.3:")
        sock.close()
