"""The bulk path between hosts: large objects over a worker's bulk port with one-time tickets."""

from __future__ import annotations

import re

from tests.multihost.conftest import Hosts
from tests.multihost.test_multihost import run_ok

# Driver-side helpers: the location of an object, raw connections to a node's bulk port.
BULK_PRELUDE = """
import asyncio, socket, ssl
from raylite import auth, bulk, tls
from raylite.client import context
from raylite.rpc import worker_pb2, worker_pb2_grpc

client = context.current()

def node_address(node_hex):
    return client._refresh_node(bytes.fromhex(node_hex)).address

def location(ref):
    ray.wait([ref], fetch_local=False)
    return client.value_of(ref.binary())

def tickets(address, oid, count=1):
    async def ask():
        async with auth.channel(address, auth.find_token()) as ch:
            request = worker_pb2.BulkTicketRequest(object_id=oid, connections=count)
            return await worker_pb2_grpc.WorkerServiceStub(ch).BulkTicket(request)
    return asyncio.run(ask())

def attempt(address, port, data, use_tls=False):
    # what the bulk port answers to data: everything until it closes (b"" if it refused)
    host = address.rpartition(":")[0]
    received = bytearray()
    try:
        with socket.create_connection((host, port), timeout=30) as raw:
            sock = bulk.ssl_context(tls.current(), False).wrap_socket(raw, server_hostname=host) if use_tls else raw
            sock.sendall(data)
            while piece := sock.recv(1 << 20):
                received += piece
    except (ConnectionResetError, ssl.SSLError):  # a plaintext hello to a TLS port
        pass
    return bytes(received)
"""

MAKE = """
@ray.remote
def make(n):
    a = np.arange(n, dtype=np.uint64)
    a *= 2654435761
    return a

@ray.remote(num_cpus=0.5)
def digest(a):
    return hashlib.blake2b(memoryview(a).cast("B")).hexdigest(), ray.get_runtime_context().get_node_id()
"""


def tickets_issued(hosts: Hosts, host: str, object_hex: str) -> int:
    """How many BulkTicket calls the host's worker daemons answered for the object (their logs say)."""
    root = hosts.cluster.runtime_root / hosts.cluster.prefix / host
    pattern = re.compile(rf"bulk: issued \d+ ticket\(s\) for object {object_hex}")
    return sum(len(pattern.findall(p.read_text())) for p in root.glob("session_*/logs/worker-*.log"))


def test_concurrent_pulls_of_one_object_make_one_bulk_transfer(hosts: Hosts) -> None:
    out = run_ok(
        hosts,
        BULK_PRELUDE
        + MAKE
        + """
ref = make.options(scheduling_strategy=Affinity(W1, soft=False)).remote(25_000_000)  # 200 MB on w1
loc = location(ref)

async def pulls():
    async with auth.channel(node_address(W2), auth.find_token()) as ch:
        stub = worker_pb2_grpc.WorkerServiceStub(ch)
        request = worker_pb2.PullRequest(location=loc)
        return await asyncio.gather(*[stub.Pull(request) for _ in range(4)])

print("errors", [r.error for r in asyncio.run(pulls())])
here = digest.options(scheduling_strategy=Affinity(W1, soft=False)).remote(ref)
there = [digest.options(scheduling_strategy=Affinity(W2, soft=False)).remote(ref) for _ in range(3)]
(d1, n1), *rest = ray.get([here, *there])
print("same", all(d == d1 for d, _ in rest), n1 == W1, all(n == W2 for _, n in rest))
print("object", ref.hex())
""",
    )
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines()[-3:])
    assert lines["errors"] == "['', '', '', '']", out
    assert lines["same"] == "True True True", out
    # four concurrent pulls and three readers on w2: w1 was asked for the object once
    assert tickets_issued(hosts, "w1", lines["object"]) == 1, out


def test_bulk_port_refuses_connections_without_a_good_ticket(hosts: Hosts) -> None:
    out = run_ok(
        hosts,
        BULK_PRELUDE
        + MAKE
        + """
ref = make.options(scheduling_strategy=Affinity(W1, soft=False)).remote(500_000)  # 4 MB on w1
other = make.options(scheduling_strategy=Affinity(W1, soft=False)).remote(1000)
loc = location(ref)
address, oid, size = loc.node_address, loc.object_id, loc.size
reply = tickets(address, oid, 2)
good, spare = reply.tickets
def hello(ticket, object_id=oid, offset=0, length=size):
    return bulk.encode_hello(bulk.Hello(ticket, object_id, offset, length))
print("made_up", len(attempt(address, reply.port, hello(bulk.new_ticket()))))
print("garbage", len(attempt(address, reply.port, b"GET / HTTP/1.1\\r\\n\\r\\n" * 4)))
print("other_object", len(attempt(address, reply.port, hello(spare, other.binary()))))
print("spare_after_that", len(attempt(address, reply.port, hello(spare))))
data = attempt(address, reply.port, hello(good))
print("good", len(data) == size, data == bytes(client._call(client._fetch(loc))))  # the bytes FetchObject sends
print("reused", len(attempt(address, reply.port, hello(good))))
""",
    )
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines()[-6:])
    assert lines["made_up"] == "0", out
    assert lines["garbage"] == "0", out
    assert lines["other_object"] == "0", out
    assert lines["spare_after_that"] == "0", out  # the attempt for another object used the ticket up
    assert lines["good"] == "True True", out
    assert lines["reused"] == "0", out


def test_idle_connections_hold_no_thread_and_do_not_block_a_transfer(hosts: Hosts) -> None:
    # more idle connections than the port has sending threads (config.BULK_SERVE_THREADS), one of
    # them half a hello: a transfer made meanwhile is served while they are all still open, and
    # each is closed at its hello deadline
    out = run_ok(
        hosts,
        BULK_PRELUDE
        + MAKE
        + """
from raylite import config
ref = make.options(scheduling_strategy=Affinity(W1, soft=False)).remote(500_000)  # 4 MB on w1
loc = location(ref)
address, oid, size = loc.node_address, loc.object_id, loc.size
reply = tickets(address, oid, 1)
host = address.rpartition(":")[0]
idle = [socket.create_connection((host, reply.port), timeout=30) for _ in range(config.BULK_SERVE_THREADS + 4)]
idle[0].sendall(bulk.encode_hello(bulk.Hello(reply.tickets[0], oid, 0, size))[:20])
data = attempt(address, reply.port, bulk.encode_hello(bulk.Hello(reply.tickets[0], oid, 0, size)))
def still_open(s):
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
print("served", len(data) == size, sum(still_open(s) for s in idle) == len(idle))
for s in idle:
    s.settimeout(30)
print("closed", all(s.recv(1) == b"" for s in idle))  # at the hello deadline, not never
""",
    )
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines()[-2:])
    assert lines["served"] == "True True", out
    assert lines["closed"] == "True", out
