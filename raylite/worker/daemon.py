"""Entry point of the worker daemon: `python -m raylite.worker.daemon`.

The daemon registers its node with the head on a long-lived stream, receives
tasks on it, hands them to executor processes, and reports their deaths and
the results they hand back on the same stream (an executor that has made a
client of its own sends its results on that client's stream instead). It also serves the node's object store to
peers and clients (raylite/worker/service.py). User code never runs here.
Its starter (raylite/client/local_cluster.py) turns gRPC's fork support off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

import grpc

from raylite import auth, config, hostinfo, ids, message_order, reconnect, tls
from raylite.batching import Outbox
from raylite.daemon_util import new_event_loop, report_ready, setup_logging, stop_on_signals, watch_parent
from raylite.rpc import common_pb2, head_pb2, head_pb2_grpc, lease_pb2, worker_pb2_grpc
from raylite.store import contained_of
from raylite.worker.bulk_server import BulkServer
from raylite.worker.executor_logs import ExecutorLogs, default_log_dir
from raylite.worker.executor_pool import ExecutorPool
from raylite.worker.lease_service import LeaseServer
from raylite.worker.node_metrics import NodeMetrics
from raylite.worker.object_store import NodeStore, sweep_stale_stores
from raylite.worker.service import Transfers, WorkerServicer, pull_messages

log = logging.getLogger("raylite.worker")


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
    tls_paths = tls.adopt_for_daemon("worker", opts)
    tls_material = tls.load(tls_paths) if tls_paths is not None else None
    # executors find the token and the TLS files in their environment, for their own connections
    executor_environ = {auth.ENV: token}
    tls.export(tls_paths, executor_environ)
    if opts.address_fd is not None:
        opts.address = _read_address(opts.address_fd)
    async with auth.channel(opts.address, token, tls_material) as probe:  # before anything needs cleaning up
        await _check_head(probe, opts.address, tls_material)
    node_id = ids.new_node_id()
    ip = opts.node_ip_address or ("127.0.0.1" if opts.host.startswith("127.") else hostinfo.detect_ip())
    store_dir = os.path.join(config.shm_root(), f"raylite-{node_id.hex()[:16]}")
    spill_dir = os.path.join(config.runtime_dir(), "spill", node_id.hex()[:16])
    for folder in sweep_stale_stores(config.shm_root()):
        log.info("removed the store of a worker daemon that died without cleaning up: %s", folder)
    total = node_resources(opts, ip)
    link = HeadLink(opts.address, token, tls_material)
    logs = ExecutorLogs(opts.log_dir or default_log_dir(node_id), link.send_log_batches, link.log_backlog)
    node_store = NodeStore(
        store_dir,
        spill_dir,
        int(total["object_store_memory"]),
        on_copy_removed=lambda oid: link.outbox.touch().copies_removed.append(oid),
    )
    transfers = Transfers(
        node_store,
        on_copy_added=lambda oid: link.outbox.touch().copies_added.append(oid),
        token=token,
        tls_material=tls_material,
        on_progress=lambda reports: link.outbox.touch().pulls.extend(pull_messages(reports)),
    )
    metrics = NodeMetrics(node_store.index, config.METRICS_REPORT_S)
    transfers.metrics = metrics
    node_store.on_change = metrics.changed
    server = auth.server(token)
    bulk_server = BulkServer(node_store, tls_material)
    bulk_server.metrics = metrics
    leases = LeaseServer(link.report_drained, link.report_running)
    leases.node_id = node_id
    servicer = WorkerServicer(node_id, node_store, transfers, logs, bulk_server, leases)
    worker_pb2_grpc.add_WorkerServiceServicer_to_server(servicer, server)
    port = auth.listen(server, opts.host, opts.port, tls_material)
    if port == 0:
        raise SystemExit(f"raylite worker: cannot listen on {opts.host}:{opts.port}")
    bulk_port = bulk_server.start(opts.host)  # on the gRPC port's interface; told in BulkTicket replies
    await server.start()
    address = f"{ip}:{port}"

    info = common_pb2.NodeInfo(
        node_id=node_id, address=address, ip=ip, host_key=hostinfo.host_key(), alive=True, store_dir=store_dir
    )
    info.total.update(total)
    if opts.labels:
        info.labels.update(json.loads(opts.labels))

    def on_death(death: head_pb2.ExecutorDied) -> None:
        log.warning("executor died: task=%s actor=%s %s", death.task_id.hex(), death.actor_id.hex(), death.reason)
        if not leases.took_death(death):  # a leased task's death is answered on its lease
            link.outbox.touch().deaths.append(death)

    def on_result(result: head_pb2.TaskResult) -> None:
        if not leases.took_result(result):  # a leased task's result goes back on its lease
            link.outbox_result(result)

    def forward_result(body: bytes) -> None:
        if leases.tasks:  # it may be a leased task's
            on_result(head_pb2.TaskResult.FromString(body))
        else:  # parsed once, in its place in the node's next batch (no copy)
            link.outbox.touch().results.add().MergeFromString(body)

    executor_settings = {
        "head": opts.address,
        "node_id": node_id.hex(),
        "node_address": address,
        "node_ip": ip,
        "store_dir": store_dir,
        "parent_pid": os.getpid(),
        "num_gpus": total.get("GPU", 0.0),  # executors share out GPU indices among themselves
    }
    pool_size = max(1, math.ceil(total["CPU"]))
    # an executor killed between reserving room and writing must not hold the room for ever
    pool = ExecutorPool(
        pool_size,
        executor_settings,
        on_result,
        on_death,
        logs,
        on_exit=node_store.writer_died,
        environ=executor_environ,
        forward_result=forward_result,
    )
    await pool.start()
    leases.pool = pool
    link.attach(info, pool, node_store, leases)
    metrics.attach(lambda report: link.outbox.touch().metrics.append(report))

    stopped = asyncio.Event()
    stop_on_signals(loop, stopped.set)
    if opts.parent_fd is not None:
        watch_parent(loop, opts.parent_fd, stopped.set)

    session = asyncio.create_task(link.run())
    acknowledged = asyncio.create_task(link.registered.wait())
    await asyncio.wait(
        {session, acknowledged}, timeout=config.DAEMON_START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
    )
    acknowledged.cancel()
    if not link.registered.is_set():
        session.cancel()
        await pool.stop()
        node_store.close()
        why = session.exception() if session.done() else f"no answer within {config.DAEMON_START_TIMEOUT_S:.0f}s"
        raise SystemExit(f"raylite worker: the head at {opts.address} refused or dropped us: {why}")
    report_ready(opts.ready_fd, {"node_id": node_id.hex(), "address": address, "pid": os.getpid()})
    log.info(
        "node %s serving at %s (bulk port %d)%s with %s (store %s)",
        node_id.hex()[:12],
        address,
        bulk_port,
        " (TLS)" if tls_material else "",
        total,
        store_dir,
    )
    stop_waiter = asyncio.create_task(stopped.wait())
    done, _ = await asyncio.wait({session, stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
    if session in done:
        log.warning("stopping: %s", session.exception() or "the head session ended")
    log.info("worker stopping")
    metrics.close()
    await pool.stop()
    logs.close()
    node_store.close()
    session.cancel()
    await link.close()
    await transfers.close()
    await bulk_server.close()
    await server.stop(grace=config.SERVER_STOP_GRACE_S)


class HeadLost(Exception):
    """The head is gone for good, or refuses this node."""


class HeadLink:
    """The node's session with the head, on one long-lived stream.

    If the stream breaks, the node keeps its tasks, actors and objects and
    reconnects with backoff for up to config.HEAD_RECONNECT_S: a restarted head
    adopts what the node reports in its hello. A head that refuses the node
    (it was declared dead, or a wrong token or version) ends the daemon.
    """

    def __init__(self, address: str, token: str, tls_material: tls.Material | None) -> None:
        self.address = address
        self.channel = auth.channel(address, token, tls_material)
        self.metadata = auth.call_metadata(token)
        self.stub = head_pb2_grpc.HeadServiceStub(self.channel)
        self.outbox = Outbox(head_pb2.NodeBatch)
        self.registered = asyncio.Event()  # the head acknowledged us, the first time

    def attach(
        self, info: common_pb2.NodeInfo, pool: ExecutorPool, store: NodeStore, leases: LeaseServer | None = None
    ) -> None:
        if leases is None:
            leases = LeaseServer(self.report_drained)
        self.info, self.pool, self.store, self.leases = info, pool, store, leases
        # what the head's messages ask of the node, applied in the order of raylite/message_order.py
        actions: dict[str, Callable[[Any], None] | None] = {
            "nodes": None,  # the acknowledgement of the hello: any message is one
            "kill_actors": _each(pool.kill_actor),
            "promoted_objects": _each(store.promote),
            "free_objects": _each(store.delete),
            "tasks": _each(pool.submit),
            "cancel_tasks": _each(pool.cancel),
            "leases": _each(leases.announce),
            "lease_lends": _each(leases.lend),
            "lease_ends": _each(leases.stop),
        }
        self.steps = message_order.bind(head_pb2.HeadToNode, actions)

    def outbox_result(self, result: head_pb2.TaskResult) -> None:
        self.outbox.touch().results.append(result)

    def report_drained(self, lease_id: bytes, why: str) -> None:
        self.outbox.touch().leases_drained.add(lease_id=lease_id, why=why)

    def report_running(self, started: list[lease_pb2.LeaseTaskRecord], ended: list[bytes]) -> None:
        msg = self.outbox.touch()
        msg.task_records.extend(started)
        msg.leased_tasks_ended.extend(ended)

    def send_log_batches(self, batches: list[head_pb2.WorkerLogBatch]) -> None:
        self.outbox.touch().log_batches.extend(batches)

    def log_backlog(self) -> int:
        """Lines on their way to the head and not yet written to the stream."""
        return sum(len(b.lines) for b in self.outbox.msg.log_batches)

    async def run(self) -> None:
        resume = False
        outage = reconnect.Outage()
        while True:
            outage.connected(time.monotonic())
            error = await self._session(self._hello(resume))
            code = error.code() if isinstance(error, grpc.aio.AioRpcError) else None
            if code in reconnect.REFUSALS:
                raise HeadLost(f"the head at {self.address} refused this node: {error.details()}")  # type: ignore[union-attr]
            if not self.registered.is_set():
                raise HeadLost(f"the head at {self.address} dropped us before acknowledging: {error}")
            log.warning(
                "lost the head at %s (%s); reconnecting for up to %.0fs",
                self.address,
                _why(error),
                config.HEAD_RECONNECT_S,
            )
            if not await reconnect.reach_head(self.channel, outage):
                raise HeadLost(f"the head at {self.address} did not come back within {config.HEAD_RECONNECT_S:.0f}s")
            resume = True

    def _hello(self, resume: bool) -> head_pb2.NodeHello:
        hello = head_pb2.NodeHello(protocol_version=config.PROTOCOL_VERSION, node=self.info, resume=resume)
        if resume:
            # leased tasks are not the head's: their leases are adopted (leases_served)
            hello.running.extend(a for a in self.pool.running() if not a.lease_id)
            ports = self.pool.call_ports()  # so that its callers keep calling the actors direct
            for actor_id, attempt in self.pool.live_actors():
                hello.actors.add(actor_id=actor_id, attempt=attempt, call_address=ports.get(actor_id, ""))
            primaries, copies = self.store.held()
            for oid, size in primaries:
                # the refs inside it: alive while it is (the head knows them only from us now)
                path = self.store.readable_path(oid)
                hello.objects.add(
                    object_id=oid,
                    node_id=self.info.node_id,
                    node_address=self.info.address,
                    size=size,
                    in_store=True,
                    contained=contained_of(path) if path is not None else [],
                )
            hello.copies.extend(copies)
        return hello

    async def _session(self, hello: head_pb2.NodeHello) -> BaseException | None:
        """One stream, until it ends; returns why it ended."""
        # wait_for_ready: containers of a cluster start together; the head may come up after us
        call = self.stub.NodeStream(wait_for_ready=True, metadata=self.metadata)
        pending, self.outbox = self.outbox.msg, Outbox(head_pb2.NodeBatch)
        pending.ClearField("hello")
        msg = self.outbox.touch()
        msg.hello.CopyFrom(hello)
        if hello.resume:
            msg.leases_served.extend(self.leases.served())  # a restarted head adopts them
        msg.MergeFrom(pending)  # what the node reported while it had no head
        writer = asyncio.create_task(self.outbox.run(call))
        try:
            async for msg in call:
                self.registered.set()
                for name, action in self.steps:
                    items = getattr(msg, name)
                    if items:
                        action(items)
            return None
        except grpc.aio.AioRpcError as exc:
            return exc
        finally:
            self.outbox.close()
            writer.cancel()
            call.cancel()

    async def close(self) -> None:
        self.outbox.close()
        await self.channel.close()


def _each(apply_one: Callable[[Any], None]) -> Callable[[Any], None]:
    """An action applying a field's items one by one."""

    def apply(items: Any) -> None:
        for item in items:
            apply_one(item)

    return apply


def _why(error: BaseException | None) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name}: {error.details()}"
    return str(error) if error else "the head ended the stream"


def _read_address(fd: int) -> str:
    """The head's address, one line on the pipe whoever started us writes once the head is ready."""
    with os.fdopen(fd, "rb") as pipe:
        line = pipe.readline().decode().strip()
    if not line:
        raise SystemExit(
            "raylite worker: the process that started us closed the pipe before telling us the head's address"
        )
    return line


async def _check_head(channel: grpc.aio.Channel, address: str, tls_material: tls.Material | None) -> None:
    """One plain call before the stream, so a wrong token, version or certificate gets its own message.

    It waits for a head that is not up yet (containers of a cluster start
    together), in rounds; a failed TLS handshake, which waiting does not cure,
    is reported at the start of the round that meets it.
    """
    request = head_pb2.ClusterStateRequest(protocol_version=config.PROTOCOL_VERSION)
    stub = head_pb2_grpc.HeadServiceStub(channel)
    loop = asyncio.get_running_loop()
    # within the time whoever started us waits for our ready line, so it sees our reason
    deadline = loop.time() + 0.8 * config.DAEMON_START_TIMEOUT_S
    while True:
        why = await auth.connection_error(channel, tls_material)
        if why:
            raise SystemExit(f"raylite worker: cannot connect to the head at {address}: {why}")
        try:
            await stub.GetClusterState(
                request, wait_for_ready=True, timeout=max(0.1, min(config.CONNECT_TIMEOUT_S, deadline - loop.time()))
            )
            return
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.FAILED_PRECONDITION):
                raise SystemExit(f"raylite worker: the head at {address} refused us: {exc.details()}") from None
            if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED or loop.time() >= deadline:
                raise SystemExit(f"raylite worker: no head answers at {address} ({exc.code().name})") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="raylite-worker")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--address", help="the head, host:port")
    where.add_argument(
        "--address-fd", type=int, help="a pipe to read the head's host:port from (init() starts both daemons at once)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="where the worker service listens")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--node-ip-address", default=None)
    parser.add_argument("--num-cpus", type=float, default=None)
    parser.add_argument("--num-gpus", type=float, default=None)
    parser.add_argument("--resources", default=None, help="JSON, e.g. '{\"special\": 1}'")
    parser.add_argument("--object-store-memory", type=int, default=None)
    parser.add_argument("--labels", default=None, help='the node\'s labels as JSON, e.g. \'{"region": "us"}\'')
    parser.add_argument("--ready-fd", type=int, default=None)
    parser.add_argument("--parent-fd", type=int, default=None)
    parser.add_argument("--log-dir", default=None, help="the node's log folder (executors' output goes there)")
    parser.add_argument("--token", default=None, help="the cluster token (default: $RAYLITE_TOKEN)")
    tls.add_flags(parser)
    opts = parser.parse_args(argv)
    for fd in (opts.ready_fd, opts.parent_fd, opts.address_fd):
        if fd is not None:  # ours alone: the executors we start must not hold our parent's pipes open
            os.set_inheritable(fd, False)
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run(opts))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
