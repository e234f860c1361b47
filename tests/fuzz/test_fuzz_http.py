"""Fuzzing the head's HTTP server (the dashboard, its JSON API, /metrics, static files).

The real dashboard app runs on the fuzz harness's head (tests/fuzz/harness.py),
with the token required (as when it listens beyond loopback), and gets
hypothesis-built requests on raw sockets: malformed paths (.., %-encoding, NUL,
very long), odd queries (bad values, repeated keys, huge), any method, huge
and many headers, bad tokens and cookies, lying Content-Length, raw garbage,
and connections cut halfway. Half the requests carry the right token, so the
handlers behind the guard get the garbage too.

After every example the oracle asserts that the head still serves /api/status
and /metrics over HTTP and GetClusterState over gRPC, and every answer is
checked: no 5xx, and nothing but the static folder's own files is ever served
(no source file, no /etc/passwd, no token).

The default run is short (RAYLITE_FUZZ_HTTP_SECONDS, default 12); by hand:

    RAYLITE_FUZZ_HTTP_SECONDS=600 python -m pytest tests/fuzz/test_fuzz_http.py
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raylite import config
from raylite.head.dashboard import server
from raylite.rpc import head_pb2
from tests.fuzz.harness import TALLY, TOKEN, Services

BUDGET_S = float(os.environ.get("RAYLITE_FUZZ_HTTP_SECONDS", "12"))
MIN_EXAMPLES = 20
CHUNK = 50
READ_TIMEOUT_S = 10.0  # an answer slower than this is a hang

STATIC = resources.files("raylite.head.dashboard") / "static"
STATIC_BODIES = {p.read_bytes() for p in STATIC.iterdir() if p.is_file()}
# what must never come back: the source next to the static folder, a system file, the token
FORBIDDEN = [b"def make_app(", b"from __future__ import annotations", b"root:x:0:0", TOKEN.encode()]

ROUTES = [
    "/",
    "/login",
    "/metrics",
    "/api/status",
    "/api/tasks",
    "/api/actors",
    "/api/nodes",
    "/api/objects",
    "/api/placement_groups",
    "/api/summary/tasks",
    "/api/summary/actors",
    "/api/timeline",
    "/api/tasks/00ff",
    "/static/style.css",
    "/static/",
]
TRAVERSALS = [
    "..",
    "%2e%2e",
    "%2E%2E%2F",
    "..%2f",
    "%252e%252e",
    "....//",
    "..\\",
    "%00",
    "\x00",
    "%c0%ae%c0%ae",
    "server.py",
    "__init__.py",
    "../server.py",
    "..%2fserver.py",
    "../../../../etc/passwd",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "static/../../server.py",
]
METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "BREW", "G\x00T", ""]
QUERY_KEYS = ["filter", "limit", "detail", "search", "token", "", "x" * 300]


def _text(max_size: int) -> st.SearchStrategy[str]:
    # no CR or LF: the request's framing stays whole (raw garbage covers broken framing), so
    # the server always has a whole request to answer
    return st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=max_size)


paths = st.one_of(
    st.sampled_from(ROUTES),
    st.builds(
        lambda base, parts: base + "/".join(parts),
        st.sampled_from(["/static/", "/", "/api/", "/api/tasks/", "//", "/static/%2e%2e/"]),
        st.lists(st.one_of(st.sampled_from(TRAVERSALS), _text(20)), max_size=6),
    ),
    st.builds(lambda n, c: "/" + c * n, st.integers(1, 20_000), st.sampled_from(["a", "%", "/", ".", "%2e"])),
    _text(200),
)
queries = st.one_of(
    st.just(""),
    st.lists(
        st.tuples(
            st.sampled_from(QUERY_KEYS),
            st.one_of(
                _text(50),
                st.sampled_from(["-1", "1e999", "99999999999999999999", "nan", "state=RUNNING", "a!=b", "=", "%"]),
                st.builds(lambda n: "9" * n, st.integers(1, 5_000)),
            ),
        ),
        max_size=40,
    ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)),
    _text(300),
)
good_auth = st.just(("Authorization", f"Bearer {TOKEN}"))
bad_headers = st.one_of(
    st.tuples(
        st.sampled_from(["Authorization", "Cookie", "Content-Length", "Transfer-Encoding", "Host", "X-Junk", ""]),
        st.one_of(
            st.sampled_from(
                [
                    "Bearer wrong",
                    "Bearer ",
                    "Basic Zm9vOmJhcg==",
                    f"{server.COOKIE}=garbage",
                    f"{server.COOKIE}={'f' * 64}",
                    "-1",
                    "99999999999999999999",
                    "abc",
                    "chunked",
                    "chunked, chunked",
                    "10, 20",
                ]
            ),
            _text(100),
            st.builds(lambda n: "Bearer " + "x" * n, st.integers(1000, 100_000)),
        ),
    ),
)
requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(METHODS),
        "path": paths,
        "query": queries,
        "headers": st.lists(st.one_of(good_auth, bad_headers), max_size=8),
        "many_headers": st.integers(0, 300),
        "body": st.binary(max_size=2_000),
        "cut": st.one_of(st.none(), st.floats(0.0, 1.0)),
        "pieces": st.integers(1, 4),
    }
)
examples = st.one_of(
    requests,
    st.fixed_dictionaries({"garbage": st.binary(min_size=1, max_size=4_000), "cut": st.booleans()}),
)


@pytest.fixture(scope="module")
def dashboard(services: Services) -> Iterator[tuple[str, int]]:
    sock, trouble = server.bind("127.0.0.1", 0, any_port=False)
    assert sock is not None, trouble
    port = sock.getsockname()[1]
    runner = services.run(server.start(services.head, TOKEN, sock, require_token=True))
    yield "127.0.0.1", port
    services.run(server.stop(runner))


def encode(example: dict[str, Any]) -> bytes:
    if "garbage" in example:
        return example["garbage"]
    target = example["path"] + ("?" + example["query"] if example["query"] else "")
    lines = [f"{example['method']} {target} HTTP/1.1", "Host: fuzz"]
    lines += [f"{name}: {value}" for name, value in example["headers"]]
    lines += [f"X-Many-{i}: {i}" for i in range(example["many_headers"])]
    lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head + example["body"]


def exchange(
    address: tuple[str, int], data: bytes, pieces: int = 1, cut: float | None = None, half_close: bool = False
) -> bytes:
    """Sends data (in pieces; only its first `cut` fraction, then closes, when cut); the answer.
    half_close: end the sending side after data, for garbage the server may wait to see more of
    (aiohttp drops its answer to a client that half-closed, so an empty answer is fine then)."""
    with socket.create_connection(address, timeout=READ_TIMEOUT_S) as sock:
        if cut is not None:
            data = data[: int(len(data) * cut)]
        step = max(1, -(-len(data) // pieces))
        try:
            for i in range(0, len(data), step):
                sock.sendall(data[i : i + step])
            if cut is not None:
                return b""
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return b""  # the server gave up on the request first: fine
        answer = bytearray()
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            raise AssertionError(f"no answer within {READ_TIMEOUT_S}s to {bytes(data[:300])!r}") from None
        return bytes(answer)


def judge(example: dict[str, Any], answer: bytes) -> None:
    if not answer:
        return
    status_line, _, rest = answer.partition(b"\r\n")
    parts = status_line.split(b" ", 2)
    assert len(parts) >= 2 and parts[0].startswith(b"HTTP/"), f"not an HTTP answer: {answer[:200]!r}"
    status = int(parts[1])
    assert status < 500, f"{status} for {encode(example)[:300]!r}: {answer[:500]!r}"
    body = rest.partition(b"\r\n\r\n")[2]
    sent = encode(example)
    for secret in FORBIDDEN:
        # (aiohttp's 400 page quotes the bad request, which may hold the token its sender sent)
        if secret not in sent:
            assert secret not in body, f"{secret!r} served for {sent[:300]!r}"
    path = example.get("path", "")
    if status == 200 and "static" in path and example["method"] != "HEAD":
        assert body in STATIC_BODIES or b"<html" in body.lower() or body.startswith(b"{"), (
            f"a 200 for {path[:200]!r} that is no static file, page or JSON: {body[:200]!r}"
        )


def alive(services: Services, address: tuple[str, int]) -> None:
    for route in ("/api/status", "/metrics"):
        request = f"GET {route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
        answer = exchange(address, request.encode())
        assert answer.startswith(b"HTTP/1.1 200"), f"{route} after the example: {answer[:300]!r}"
    hello = head_pb2.ClusterStateRequest(protocol_version=config.PROTOCOL_VERSION)
    outcome = services.unary(services.head_address, "GetClusterState", hello)
    assert outcome.code == grpc.StatusCode.OK, f"gRPC after the example: {outcome}"


def test_http_server_survives_malformed_requests(
    services: Services, dashboard: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    deadline = time.monotonic() + BUDGET_S
    done = 0

    @settings(max_examples=CHUNK, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(examples)
    def run(example: dict[str, Any]) -> None:
        nonlocal done
        if done >= MIN_EXAMPLES and time.monotonic() > deadline:
            return
        cut = example["cut"] if "path" in example else (0.5 if example["cut"] else None)
        answer = exchange(dashboard, encode(example), example.get("pieces", 1), cut, half_close="garbage" in example)
        judge(example, answer)
        alive(services, dashboard)
        TALLY.record("http", 1, grpc.StatusCode.OK)
        done += 1

    while done < MIN_EXAMPLES or time.monotonic() <= deadline:
        run()
    assert done >= MIN_EXAMPLES
    services.check()
    # a request the server could not parse is logged without its bytes (the token may be in them)
    assert_no_token_logged(caplog)


def assert_no_token_logged(caplog: pytest.LogCaptureFixture) -> None:
    formatter = logging.Formatter()
    leaked = [text for text in map(formatter.format, caplog.records) if TOKEN in text]
    assert not leaked, leaked[:3]


def test_a_bad_request_with_the_token_is_logged_without_it(
    dashboard: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    request = f"GET /api/status HTTP/1.1\r\nContent-Length: \r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    answer = exchange(dashboard, request.encode())
    assert b" 400 " in answer.split(b"\r\n", 1)[0], answer[:200]
    assert any("Error handling request" in r.getMessage() for r in caplog.records)
    assert_no_token_logged(caplog)


@pytest.mark.parametrize("path", [f"/static/{t}" for t in TRAVERSALS] + ["/static/%2e%2e/server.py"])
def test_static_traversal_is_refused(dashboard: tuple[str, int], path: str) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    answer = exchange(dashboard, request.encode("latin-1"))
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 404), f"{path}: {answer[:300]!r}"
