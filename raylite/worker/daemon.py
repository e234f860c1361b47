"""Entry point of the worker daemon: `python -m raylite.worker.daemon`.

The daemon registers its node with the head on a long-lived stream, receives
tasks on it, hands them to executor processes, and reports their results and
deaths back on the same stream. It also serves the node's object store to
peers and clients (raylite/worker/service.py). User code never runs here.
"""

from __future__ import annotations

import os

# The daemon forks executor processes while gRPC runs. With gRPC's fork support
# on, the child re-creates gRPC threads between fork and exec, and those have
# been seen to crash the child (SIGSEGV in cygrpc). The children exec at once
# and never use the parent's gRPC state, so fork support is not needed.
os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402

import grpc  # noqa: E402

from raylite import auth, config, hostinfo, ids  # noqa: E402
from raylite.batching import Outbox  # noqa: E402
from raylite.daemon_util import new_event_loop, report_ready, setup_logging, stop_on_signals, watch_parent  # noqa: E402
from raylite.rpc import common_pb2, head_pb2, head_pb2_grpc, worker_pb2_grpc  # noqa: E402
from raylite.worker.executor_pool import ExecutorPool  # noqa: E402
from raylite.worker.object_store import NodeStore  # noqa: E402
from raylite.worker.service import Transfers, WorkerServicer  # noqa: E402


def node_resources(opts: argparse.Namespace, ip: str) -> dict[str, float]:
    memory = hostinfo.total_memory_bytes()
    total: dict[str, float] = {
        "CPU": float(opts.num_cpus if opts.num_cpus is not None else os.cpu_count() or 1),
        "memory": float(int(memory * 0.7)),
        "object_store_memory": float(opts.object_store_memory or int(memory * 0.3)),
        f"node:{ip}": 1.0,
    }
    if opts.num_gpus:
        total["GPU"] = float(opts.num_gpus)
    for name, amount in json.loads(opts.resources or "{}").items():
        total[name] = float(amount)
    return total


async def run(opts: argparse.Namespace) -> None:
    log = setup_logging("worker")
    loop = asyncio.get_running_loop()
    token = auth.find_token(opts.token)
    if not token:
        raise SystemExit(f"raylite worker: no cluster token: {auth.HOW_TO_PASS}")
    os.environ[auth.ENV] = token  # executors inherit it for their own connections
    async with auth.channel(opts.address, token) as probe:  # before anything needs cleaning up
        await _check_head(probe, opts.address)
    node_id = ids.random_id(16)
    ip = opts.node_ip_address or ("127.0.0.1" if opts.host.startswith("127.") else hostinfo.detect_ip())
    store_dir = os.path.join(config.shm_root(), f"raylite-{node_id.hex()[:16]}")
    spill_dir = os.path.join(config.runtime_dir(), "spill", node_id.hex()[:16])
    total = node_resources(opts, ip)
    outbox = Outbox(head_pb2.NodeBatch)
    node_store = NodeStore(
        store_dir,
        spill_dir,
        int(total["object_store_memory"]),
        on_copy_removed=lambda oid: outbox.touch().copies_removed.append(oid),
    )
    transfers = Transfers(node_store, on_copy_added=lambda oid: outbox.touch().copies_added.append(oid), token=token)
    server = auth.server(token)
    worker_pb2_grpc.add_WorkerServiceServicer_to_server(WorkerServicer(node_id, node_store, transfers), server)
    port = server.add_insecure_port(f"{opts.host}:{opts.port}")
    if port == 0:
        raise SystemExit(f"raylite worker: cannot listen on {opts.host}:{opts.port}")
    await server.start()
    address = f"{ip}:{port}"

    info = common_pb2.NodeInfo(
        node_id=node_id, address=address, ip=ip, host_key=hostinfo.host_key(), alive=True, store_dir=store_dir
    )
    info.total.update(total)

    def on_result(result: head_pb2.TaskResult) -> None:
        outbox.touch().results.append(result)

    def on_death(death: head_pb2.ExecutorDied) -> None:
        log.warning("executor died: task=%s actor=%s %s", death.task_id.hex(), death.actor_id.hex(), death.reason)
        outbox.touch().deaths.append(death)

    executor_env = {
        "head": opts.address,
        "node_id": node_id.hex(),
        "node_address": address,
        "node_ip": ip,
        "store_dir": store_dir,
        "parent_pid": os.getpid(),
    }
    pool_size = max(1, math.ceil(total["CPU"]))
    output_fds = (opts.executor_stdout_fd, opts.executor_stderr_fd) if opts.executor_stdout_fd is not None else None
    pool = ExecutorPool(pool_size, executor_env, on_result, on_death, output_fds)
    await pool.start()

    stopped = asyncio.Event()
    stop_on_signals(loop, stopped.set)
    if opts.parent_fd is not None:
        watch_parent(loop, opts.parent_fd, stopped.set)

    channel = auth.channel(opts.address, token)
    # wait_for_ready: containers of a cluster start together; the head may come up after us
    call = head_pb2_grpc.HeadServiceStub(channel).NodeStream(wait_for_ready=True)
    outbox.touch().hello.CopyFrom(head_pb2.NodeHello(protocol_version=config.PROTOCOL_VERSION, node=info))
    writer = asyncio.create_task(outbox.run(call))

    registered = asyncio.Event()

    async def read_head() -> None:
        async for msg in call:
            registered.set()
            # kills first: they name incarnations older than any creation in this message
            for actor_id in msg.kill_actors:
                pool.kill_actor(actor_id)
            for oid in msg.free_objects:
                node_store.delete(oid)
            for assignment in msg.tasks:
                pool.submit(assignment)

    async def first_contact() -> None:
        try:
            await asyncio.wait_for(registered.wait(), timeout=config.DAEMON_START_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise SystemExit(f"raylite worker: no head answers at {opts.address}") from None
        report_ready(opts.ready_fd, {"node_id": node_id.hex(), "address": address, "pid": os.getpid()})

    reader = asyncio.create_task(read_head())
    contact = asyncio.create_task(first_contact())
    await asyncio.wait({reader, contact}, return_when=asyncio.FIRST_COMPLETED)
    if reader.done():
        contact.cancel()
        await pool.stop()
        node_store.close()
        raise SystemExit(f"raylite worker: the head at {opts.address} refused or dropped us: {reader.exception()}")
    log.info("node %s serving at %s with %s (store %s)", node_id.hex()[:12], address, total, store_dir)
    stop_waiter = asyncio.create_task(stopped.wait())
    done, _ = await asyncio.wait({reader, stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
    if reader in done:
        exc = reader.exception()
        log.warning("head stream ended (%s); stopping", exc.details() if isinstance(exc, grpc.aio.AioRpcError) else exc)
    log.info("worker stopping")
    await pool.stop()
    node_store.close()
    outbox.close()
    writer.cancel()
    reader.cancel()
    call.cancel()
    await transfers.close()
    await server.stop(grace=0.2)
    await channel.close()


async def _check_head(channel: grpc.aio.Channel, address: str) -> None:
    """One plain call before the stream, so a wrong token or version gets its own message."""
    request = head_pb2.ClusterStateRequest(protocol_version=config.PROTOCOL_VERSION)
    try:
        await head_pb2_grpc.HeadServiceStub(channel).GetClusterState(
            request, wait_for_ready=True, timeout=config.DAEMON_START_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.FAILED_PRECONDITION):
            raise SystemExit(f"raylite worker: the head at {address} refused us: {exc.details()}") from None
        raise SystemExit(f"raylite worker: no head answers at {address} ({exc.code().name})") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="raylite-worker")
    parser.add_argument("--address", required=True, help="the head, host:port")
    parser.add_argument("--host", default="127.0.0.1", help="where the worker service listens")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--node-ip-address", default=None)
    parser.add_argument("--num-cpus", type=float, default=None)
    parser.add_argument("--num-gpus", type=float, default=None)
    parser.add_argument("--resources", default=None, help='JSON, e.g. \'{"special": 1}\'')
    parser.add_argument("--object-store-memory", type=int, default=None)
    parser.add_argument("--ready-fd", type=int, default=None)
    parser.add_argument("--parent-fd", type=int, default=None)
    parser.add_argument("--executor-stdout-fd", type=int, default=None, help="executors print here")
    parser.add_argument("--executor-stderr-fd", type=int, default=None)
    parser.add_argument("--token", default=None, help="the cluster token (default: $RAYLITE_TOKEN)")
    opts = parser.parse_args(argv)
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run(opts))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
