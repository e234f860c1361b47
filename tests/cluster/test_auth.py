"""Every RPC of the head and the worker daemons needs the cluster's token."""

from __future__ import annotations

import asyncio

import grpc
import pytest

import raylite as ray
from raylite import auth, config
from raylite.client import context
from raylite.rpc import common_pb2, head_pb2, head_pb2_grpc, worker_pb2, worker_pb2_grpc
from tests.conftest import run_python

HEAD_CALLS = {
    "GetClusterState": lambda s, t: s.GetClusterState(
        head_pb2.ClusterStateRequest(protocol_version=config.PROTOCOL_VERSION)
    ),
    "GetFunction": lambda s, t: s.GetFunction(head_pb2.GetFunctionRequest(function_id=b"x")),
    "GetActor": lambda s, t: s.GetActor(head_pb2.GetActorRequest(name="x")),
    "ListNamedActors": lambda s, t: s.ListNamedActors(head_pb2.ListNamedActorsRequest(all_namespaces=True)),
    "ClientStream": lambda s, t: _opened(s.ClientStream(metadata=auth.call_metadata(t))),
    "NodeStream": lambda s, t: _opened(s.NodeStream(metadata=auth.call_metadata(t))),
}
WORKER_CALLS = {
    "FetchObject": lambda s, t: _first_reply(s.FetchObject(worker_pb2.FetchObjectRequest(object_id=b"x" * 20))),
    "Pull": lambda s, t: s.Pull(worker_pb2.PullRequest(location=common_pb2.ObjectValue(object_id=b"x" * 20))),
    "PushObject": lambda s, t: s.PushObject(iter([worker_pb2.ObjectChunk(object_id=b"x" * 20, total_size=1)])),
    "Reserve": lambda s, t: s.Reserve(worker_pb2.ReserveRequest(object_id=b"x" * 20, size=1)),
}


async def _first_reply(call):
    async for reply in call:
        return reply


async def _opened(call):
    """Opens a bidirectional stream and waits for the server's answer. (Writing at
    the same moment the server refuses can surface on the client as INTERNAL; the
    server's refusal does not depend on any message.)"""
    await call.read()


def call_with(address: str, token: str | None, stub_cls, make_call) -> grpc.StatusCode | None:
    async def go():
        async with auth.channel(address, token) as channel:
            try:
                await asyncio.wait_for(make_call(stub_cls(channel), token), 10)
            except grpc.aio.AioRpcError as exc:
                return exc.code(), exc.details()
        return None, ""

    return asyncio.run(go())


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["no token", "wrong token"])
@pytest.mark.parametrize("rpc", sorted(HEAD_CALLS))
def test_head_refuses_calls_without_the_token(cluster, rpc: str, token: str | None) -> None:
    code, details = call_with(cluster.address_info["address"], token, head_pb2_grpc.HeadServiceStub, HEAD_CALLS[rpc])
    assert code == grpc.StatusCode.UNAUTHENTICATED, details
    assert "RAYLITE_TOKEN" in details


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["no token", "wrong token"])
@pytest.mark.parametrize("rpc", sorted(WORKER_CALLS))
def test_worker_refuses_calls_without_the_token(cluster, rpc: str, token: str | None) -> None:
    address = context.current().local_node.address
    code, details = call_with(address, token, worker_pb2_grpc.WorkerServiceStub, WORKER_CALLS[rpc])
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "RAYLITE_TOKEN" in details


def test_the_right_token_is_served(cluster) -> None:
    token = context.current().token
    code, _ = call_with(
        cluster.address_info["address"], token, head_pb2_grpc.HeadServiceStub, HEAD_CALLS["GetClusterState"]
    )
    assert code is None
    assert ray.get(ray.put(5)) == 5


def test_driver_with_a_wrong_token_gets_a_clear_error(cluster) -> None:
    result = run_python(
        f"import raylite as ray\nray.init(address={cluster.address_info['address']!r})", env={"RAYLITE_TOKEN": "not-it"}
    )
    assert result.returncode != 0
    assert "AuthenticationError" in result.stderr and "RAYLITE_TOKEN" in result.stderr
    assert "wrong token" in result.stderr
