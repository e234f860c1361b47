#!/usr/bin/env python3
"""What one message costs on a raylite-style gRPC stream (grpc.aio, uvloop), without raylite.

    python scripts/bench_grpc_hop.py [--n 5000]

A server process echoes each ClientBatch it reads as a HeadToClient on the
same stream; the client sends one message and waits for its echo, N times
(ping-pong, as an actor call one at a time does on each hop). It prints the
round trip's wall time and the CPU time of each side per message, with the
token interceptor on the client channel and without it. This is the floor
under every hop of docs/performance.md's table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import grpc

from raylite import auth, daemon_util
from raylite.rpc import common_pb2, head_pb2, head_pb2_grpc

TOKEN = "bench-token"


class _TokenOnStreams(grpc.aio.StreamStreamClientInterceptor):
    """What raylite/auth.py used to put on every channel's stream-stream calls."""

    async def intercept_stream_stream(self, continuation, details, request_iterator):  # type: ignore[no-untyped-def]
        metadata = grpc.aio.Metadata(*(details.metadata or ()), *auth.call_metadata(TOKEN))
        return await continuation(details._replace(metadata=metadata), request_iterator)


class Echo(head_pb2_grpc.HeadServiceServicer):
    async def ClientStream(self, request_iterator, context):  # noqa: N802 - gRPC's name
        async for batch in request_iterator:
            yield head_pb2.HeadToClient(objects=[common_pb2.ObjectValue(object_id=batch.tasks[0].task_id)])


def serve(port_out: multiprocessing.connection.Connection) -> None:
    async def main() -> None:
        server = auth.server(TOKEN)
        head_pb2_grpc.add_HeadServiceServicer_to_server(Echo(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        port_out.send(port)
        await server.wait_for_termination()

    daemon_util.new_event_loop().run_until_complete(main())


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def server_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def ping_pong(port: int, n: int, intercepted: bool, pid: int) -> None:
    if intercepted:
        kinds = [_TokenOnStreams()]
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=kinds)
        call = head_pb2_grpc.HeadServiceStub(channel).ClientStream()
    else:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        call = head_pb2_grpc.HeadServiceStub(channel).ClientStream(metadata=auth.call_metadata(TOKEN))
    msg = head_pb2.ClientBatch()
    msg.tasks.add(task_id=b"x" * 12, payload=b"y" * 100)
    for _ in range(200):
        await call.write(msg)
        await call.read()
    t0, c0, s0 = time.perf_counter(), cpu(), server_cpu(pid)
    for _ in range(n):
        await call.write(msg)
        await call.read()
    wall, client, server = time.perf_counter() - t0, cpu() - c0, server_cpu(pid) - s0
    label = "with the stream interceptor" if intercepted else "token as call metadata"
    print(
        f"{label:28s}: round trip {wall / n * 1e6:6.1f} us, CPU per message: "
        f"client {client / n * 1e6:6.1f} us, server {server / n * 1e6:6.1f} us"
    )
    call.cancel()
    await channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(theirs,), daemon=True)
    server.start()
    port = ours.recv()
    loop = daemon_util.new_event_loop()
    try:
        for intercepted in (True, False, True, False):
            loop.run_until_complete(ping_pong(port, args.n, intercepted, server.pid or 0))
    finally:
        server.kill()
        server.join()


if __name__ == "__main__":
    main()
