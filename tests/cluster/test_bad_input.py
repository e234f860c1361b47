"""Bad input against real daemons: oversized messages and peers of another protocol version.

(Each other kind of bad input is tested against the real servicers in-process,
in tests/fuzz/.)
"""

from __future__ import annotations

import json

import grpc

from raylite import config
from raylite.client import context
from tests.conftest import run_python

SMALL_LIMIT = 1 << 20

OVERSIZED = r"""
import asyncio, json, os
import grpc
import raylite as ray
from raylite import auth, config
from raylite.client import context
from raylite.rpc import head_pb2, head_pb2_grpc, worker_pb2, worker_pb2_grpc

assert config.GRPC_MAX_MESSAGE_BYTES == int(os.environ["RAYLITE_GRPC_MAX_MESSAGE_BYTES"])
ray.init(num_cpus=1)
client = context.current()
big = b"x" * (2 * config.GRPC_MAX_MESSAGE_BYTES)
# a peer whose own limit is larger than the daemons'
options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
metadata = ((auth.METADATA_KEY, client.token),)

async def calls():
    codes = {}
    async with grpc.aio.insecure_channel(client.head_address, options=options) as channel:
        head = head_pb2_grpc.HeadServiceStub(channel)
        for name, call in [
            ("GetActor", lambda: head.GetActor(head_pb2.GetActorRequest(name=big.decode()), metadata=metadata)),
            ("ClientStream", lambda: head.ClientStream(iter([head_pb2.ClientBatch(subscribe=[big])]), metadata=metadata).read()),
        ]:
            try:
                await asyncio.wait_for(call(), 20)
                codes[name] = ["OK", ""]
            except grpc.aio.AioRpcError as exc:
                codes[name] = [exc.code().name, exc.details()]
    async with grpc.aio.insecure_channel(client.local_node.address, options=options) as channel:
        worker = worker_pb2_grpc.WorkerServiceStub(channel)
        try:
            await worker.Reserve(worker_pb2.ReserveRequest(object_id=big, size=1), metadata=metadata, timeout=20)
            codes["Reserve"] = ["OK", ""]
        except grpc.aio.AioRpcError as exc:
            codes["Reserve"] = [exc.code().name, exc.details()]
    return codes

codes = asyncio.run(calls())

@ray.remote
def size(b):
    return len(b)

@ray.remote
def make(i):
    return bytes([i]) * 90_000

# each batch of these would be ~3 MB: larger than the limit, so they leave split
sizes = ray.get([size.remote(bytes([i]) * 90_000) for i in range(30)])
made = ray.get([make.remote(i) for i in range(30)])
print(json.dumps({
    "codes": codes,
    "sizes_ok": sizes == [90_000] * 30,
    "made_ok": all(m == bytes([i]) * 90_000 for i, m in enumerate(made)),
    "nodes": len([n for n in ray.nodes() if n["Alive"]]),
}))
ray.shutdown()
"""


def test_oversized_messages_are_refused_and_the_daemons_serve_on() -> None:
    """With RAYLITE_GRPC_MAX_MESSAGE_BYTES=1 MiB: a 2 MiB message to the head (unary
    and on a stream) and to a worker gets RESOURCE_EXHAUSTED; the daemons still
    run tasks, and batches above the limit that raylite itself sends are split."""
    result = run_python(OVERSIZED, env={"RAYLITE_GRPC_MAX_MESSAGE_BYTES": str(SMALL_LIMIT)}, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for call, (code, details) in report["codes"].items():
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED.name, (call, code, details)
        assert "larger than max" in details, (call, details)
    assert report["sizes_ok"] and report["made_ok"]
    assert report["nodes"] == 1


OTHER_VERSION = "from raylite import config\nconfig.PROTOCOL_VERSION = 99\n"


def test_a_driver_of_another_protocol_version_gets_a_clear_error_at_connect(cluster) -> None:
    script = OTHER_VERSION + f"import raylite as ray\nray.init(address={cluster.address_info['address']!r})\n"
    result = run_python(script, env={"RAYLITE_TOKEN": context.current().token}, timeout=60)
    assert result.returncode != 0
    assert "RaySystemError" in result.stderr
    assert f"this head speaks raylite protocol {config.PROTOCOL_VERSION}, the peer speaks 99" in result.stderr
    assert "install the same raylite version on every machine" in result.stderr


def test_a_node_of_another_protocol_version_gets_a_clear_error_at_connect(cluster) -> None:
    script = OTHER_VERSION + (
        f"from raylite.worker import daemon\ndaemon.main(['--address', {cluster.address_info['address']!r}, '--num-cpus', '1'])\n"
    )
    result = run_python(script, env={"RAYLITE_TOKEN": context.current().token}, timeout=60)
    assert result.returncode != 0
    assert f"the head at {cluster.address_info['address']} refused us" in result.stderr
    assert f"this head speaks raylite protocol {config.PROTOCOL_VERSION}, the peer speaks 99" in result.stderr
    assert len([n for n in context.current().cluster_state() if n.alive]) == 1
