"""The head's gRPC servicer: decode, handle, carry out effects, reply.

Every stream has an Outbox (raylite/batching.py): effects append to the
message being built, so a burst of effects leaves as one message.

A batch's fields are turned into events in the order raylite/message_order.py
gives (`_CLIENT_ACTIONS`, `_NODE_ACTIONS`, in raylite/head/batch_actions.py), and
the events of one batch are applied in one HeadState step, which judges frees
once the whole batch is in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, assert_never

import grpc

from raylite import config, tls
from raylite.batching import Outbox
from raylite.head import lease_wire, validate, wire
from raylite.head.batch_actions import _CLIENT_STEPS, _NODE_STEPS, _ClientSession, _node_added
from raylite.head.dashboard import rpc as state_views
from raylite.head.log_routing import LogRouter
from raylite.head.metrics import HeadMetrics
from raylite.head.state import (
    ActorChanged,
    CancelRefused,
    CancelTask,
    ClientConnected,
    ClientDisconnected,
    Deliver,
    Dispatch,
    FreeObject,
    GeneratorProgressed,
    HeadRestarted,
    HeadState,
    KillActor,
    NodeRemoved,
    ObjectInfo,
    PromoteObject,
    RecoveryEnded,
    Warn,
    direct_calls,
)
from raylite.head.storage import HeadStorage
from raylite.rpc import calls_pb2, common_pb2, head_pb2, head_pb2_grpc

log = logging.getLogger("raylite.head")


class HeadServicer(head_pb2_grpc.HeadServiceServicer):
    def __init__(self, session_name: str, storage: HeadStorage | None = None) -> None:
        self.session_name = session_name
        self.state = HeadState(task_history=config.TASK_HISTORY)
        self.storage = storage
        self.functions: dict[bytes, bytes] = {}
        self.clients: dict[bytes, Outbox] = {}
        self.nodes: dict[bytes, Outbox] = {}
        self.node_functions: dict[bytes, set[bytes]] = {}
        self.logs = LogRouter()
        # how the head calls worker daemons (the dashboard's logs): the head's own TLS files, set by its entry
        self.peer_tls: tls.Choice = tls.FROM_ENV
        self.dashboard_url = ""  # set by the head's entry once its dashboard listens
        self.metrics = HeadMetrics(config.METRICS_MAX_SERIES)  # what /metrics reads beyond the state
        self._now = 0.0  # the time of the step being applied (apply())
        # direct actor calls: actor -> the clients that located it, told of each change
        self.locators: dict[bytes, set[bytes]] = {}

    def recover(self, grace_s: float) -> bool:
        """Takes over what a crashed predecessor saved; False when there was nothing."""
        saved = self.storage.load() if self.storage is not None else None
        if saved is None:
            return False
        self.functions.update(saved.functions)
        log.warning(
            "head restarted: recovering %d actors; waiting up to %.0fs for %d nodes and the clients",
            len(saved.actors),
            grace_s,
            len(saved.nodes),
        )
        self.apply(HeadRestarted(saved.actors, saved.nodes))
        asyncio.get_running_loop().call_later(grace_s, self._end_recovery)
        return True

    def _end_recovery(self) -> None:
        log.info("head recovery over: %d nodes, %d clients are back", len(self.nodes), len(self.clients))
        self.apply(RecoveryEnded())

    # ---- effects ---------------------------------------------------------------

    def apply(self, *events: Any) -> None:
        # an isinstance chain, in order of frequency: as fast as comparing type(effect)
        # (a match statement's class patterns cost twice as much per effect), and the
        # type checker narrows each branch and sees that every effect is handled
        self._now = now = time.time()
        for effect in self.state.handle(*events, now=now):
            if isinstance(effect, Deliver):
                out = self.clients.get(effect.client_id)
                if out is not None:
                    out.touch().objects.append(self._value(effect.obj))
            elif isinstance(effect, Dispatch):
                self._dispatch(effect)
            elif isinstance(effect, FreeObject):
                out = self.nodes.get(effect.node_id)
                if out is not None:
                    out.touch().free_objects.append(effect.object_id)
            elif isinstance(effect, KillActor):
                out = self.nodes.get(effect.node_id)
                if out is not None:
                    out.touch().kill_actors.append(effect.actor_id)
            elif isinstance(effect, PromoteObject):
                out = self.nodes.get(effect.node_id)
                if out is not None:
                    out.touch().promoted_objects.append(effect.object_id)
            elif isinstance(effect, ActorChanged):
                if self.storage is not None:
                    self.storage.save_actor(self.state.actors[effect.actor_id])
                if effect.actor_id in self.locators:
                    self._tell_location(effect.actor_id, self.locators[effect.actor_id])
            elif isinstance(effect, CancelTask):
                out = self.nodes.get(effect.node_id)
                if out is not None:  # (no stream: NodeRemoved finishes the task as cancelled)
                    out.touch().cancel_tasks.add(task_id=effect.task_id, actor_id=effect.actor_id, force=effect.force)
            elif isinstance(effect, CancelRefused):
                out = self.clients.get(effect.client_id)
                if out is not None:
                    out.touch().cancel_refused.add(object_id=effect.object_id, actor_call=effect.actor_call)
            elif isinstance(effect, GeneratorProgressed):
                out = self.clients.get(effect.client_id)
                if out is not None:
                    out.touch().generator_consumed.add(task_id=effect.task_id, consumed=effect.consumed)
            elif isinstance(effect, Warn):
                log.warning("%s", effect.message)
                out = self.clients.get(effect.client_id)
                if out is not None:
                    msg = out.touch()
                    msg.warning = f"{msg.warning}\n{effect.message}" if msg.warning else effect.message
            else:
                assert_never(effect)
        lease_effects = self.state.lease_effects()
        if lease_effects:
            lease_wire.carry_out(lease_effects, self.clients, self.nodes, self._node_address)

    def _node_address(self, node_id: bytes) -> str:
        node = self.state.nodes.get(node_id)
        return node.info.address if node is not None and node.info is not None else ""

    def _value(self, info: ObjectInfo) -> common_pb2.ObjectValue:
        """An object's wire form, naming where its primary and its copies live now."""
        value = wire.object_value(info)
        if info.node_id is None:
            return value
        holders = [info.node_id, *sorted(self.state.copies.get(info.object_id, ()))]
        addresses = [self.state.nodes[n].info.address for n in holders if n in self.state.nodes]
        if not addresses or (value.node_id == info.node_id and len(addresses) == 1):
            return value  # (no address: a put named a node that never joined; its value says where)
        moved = common_pb2.ObjectValue()
        moved.CopyFrom(value)
        moved.node_id = info.node_id
        moved.node_address = addresses[0]
        moved.copy_addresses[:] = addresses[1:]
        return moved

    def _dispatch(self, effect: Dispatch) -> None:
        out = self.nodes.get(effect.node_id)
        if out is None:
            return  # the node's stream is gone; NodeRemoved retries the task
        assignment = out.touch().tasks.add()
        assignment.spec.MergeFromString(effect.task.spec)
        assignment.attempt = effect.task.attempt
        self.metrics.dispatched(effect.task, self._now)
        for arg in effect.args:
            assignment.args.append(self._value(arg))
        fid = effect.task.function_id
        if fid:
            sent = self.node_functions.setdefault(effect.node_id, set())
            if fid not in sent:
                blob = self.functions.get(fid)
                if blob is not None:
                    sent.add(fid)
                    assignment.function.function_id = fid
                    assignment.function.blob = blob

    # ---- client sessions ---------------------------------------------------------

    async def ClientStream(
        self, request_iterator: AsyncIterator[head_pb2.ClientBatch], context: grpc.aio.ServicerContext
    ) -> None:
        first = await anext(aiter(request_iterator), None)
        if first is None:
            return
        await _check_first(first, validate.client_batch, context)
        hello = first.hello
        client_id = hello.client_id
        out = Outbox(head_pb2.HeadToClient)
        # A client reconnecting before its old stream ended replaces it; both in one
        # step, so nothing it re-announces in its first batch is freed in between.
        replaced = [ClientDisconnected(client_id)] if self.clients.pop(client_id, None) is not None else []
        self.clients[client_id] = out
        if hello.log_to_driver and hello.is_driver:
            self.logs.listen(client_id, hello.job_id, out)
        writer = asyncio.create_task(out.run(context))
        try:
            connected = ClientConnected(client_id, hello.job_id, hello.is_driver)
            session = _ClientSession(self, client_id, out)
            self._on_client_batch(session, first, [*replaced, connected])
            async for batch in request_iterator:
                await _check(validate.client_batch(batch, first=False), context, (out, writer))
                self._on_client_batch(session, batch)
        finally:
            out.close()  # before anything awaits: a cancelled call may be cancelled again
            self.logs.stop_listening(client_id, hello.job_id, out)
            if self.clients.get(client_id) is out:  # not replaced by a reconnection
                del self.clients[client_id]
                self.apply(ClientDisconnected(client_id))
            await _stop_writer(out, writer)

    def _on_client_batch(
        self, session: _ClientSession, batch: head_pb2.ClientBatch, events: list[Any] | None = None
    ) -> None:
        events = events or []
        for name, action in _CLIENT_STEPS:
            items = getattr(batch, name)
            if items:
                action(items, session, events)
        if events:
            self.apply(*events)
        if batch.locate_actors:  # answered after the batch: an actor created in it exists by now
            self.locate(session.client_id, batch.locate_actors)

    def locate(self, client_id: bytes, actor_ids: Any) -> None:
        """A client calls these actors directly: tell it where they are now, and on every change."""
        for actor_id in actor_ids:
            self.locators.setdefault(actor_id, set()).add(client_id)
            self._tell_location(actor_id, (client_id,))

    def _tell_location(self, actor_id: bytes, client_ids: Any) -> None:
        actor = self.state.actors.get(actor_id)
        if actor is None:
            return  # (not known here: its calls go through the head, which fails them)
        state, incarnation, address, death = direct_calls.location(actor)
        location = calls_pb2.ActorLocation(
            actor_id=actor_id, state=state, incarnation=incarnation, call_address=address, death=death
        )
        gone = []
        for client_id in client_ids:
            out = self.clients.get(client_id)
            if out is None:
                gone.append(client_id)
            else:
                out.touch().actor_locations.append(location)
        if gone:
            locators = self.locators.get(actor_id, set())
            locators.difference_update(gone)
            if not locators:
                self.locators.pop(actor_id, None)
        if location.state == "DEAD":
            self.locators.pop(actor_id, None)

    def take_exports(self, exports: Any) -> None:
        """Keeps the functions a client exported, for the tasks that name them."""
        for export in exports:
            if export.function_id not in self.functions:
                self.functions[export.function_id] = export.blob
                if self.storage is not None:
                    self.storage.save_function(export.function_id, export.blob)

    # ---- node sessions -----------------------------------------------------------

    async def NodeStream(
        self, request_iterator: AsyncIterator[head_pb2.NodeBatch], context: grpc.aio.ServicerContext
    ) -> None:
        first = await anext(aiter(request_iterator), None)
        if first is None:
            return
        await _check_first(first, validate.node_batch, context)
        hello = first.hello
        info = common_pb2.NodeInfo()
        info.CopyFrom(hello.node)
        node_id = info.node_id
        if node_id in self.state.nodes:
            # It lost its stream to this very head, which has dropped it (or does now):
            # its tasks were retried and its actors restarted elsewhere. It must come
            # back as a new node; only a restarted head adopts a node's work.
            if self.state.nodes[node_id].alive:
                self.apply(NodeRemoved(node_id, "its stream to the head broke"))
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"node {node_id.hex()[:12]} was declared dead by this head; restart its worker daemon "
                "(`raylite start --address ...`) to join as a new node",
            )
        out = Outbox(head_pb2.HeadToNode)
        self.nodes[node_id] = out
        self.node_functions[node_id] = set()
        log.info("node %s joined at %s with %s", node_id.hex()[:12], info.address, dict(info.total))
        writer = asyncio.create_task(out.run(context))
        if hello.resume:
            log.info(
                "node %s resumed: %d running tasks, %d actors, %d objects",
                node_id.hex()[:12],
                len(hello.running),
                len(hello.actors),
                len(hello.objects),
            )
        self.apply(_node_added(info, hello))
        if self.storage is not None:
            self.storage.save_node(node_id)
        out.touch().nodes.append(info)  # the acknowledgement the daemon waits for
        try:
            self._on_node_batch(node_id, first)
            async for batch in request_iterator:
                await _check(validate.node_batch(batch, first=False), context, (out, writer))
                self._on_node_batch(node_id, batch)
        finally:
            out.close()  # before anything awaits: a cancelled call may be cancelled again
            if self.nodes.get(node_id) is out:  # not replaced by a reconnection
                del self.nodes[node_id]
                log.warning("node %s left", node_id.hex()[:12])
                if self.storage is not None:
                    self.storage.forget_node(node_id)
                self.apply(NodeRemoved(node_id, "its worker daemon disconnected"))
            await _stop_writer(out, writer)

    def _on_node_batch(self, node_id: bytes, batch: head_pb2.NodeBatch) -> None:
        if batch.log_batches:  # before the results: see message_order.py
            node = self.state.nodes.get(node_id)
            self.logs.route(node.info if node is not None else None, batch.log_batches)
        events: list[Any] = []
        if batch.metrics:
            self.metrics.node_reported(node_id, batch.metrics)
        for name, action in _NODE_STEPS:
            items = getattr(batch, name)
            if items:
                action(items, node_id, events)
        if events:
            self.apply(*events)

    # ---- queries -------------------------------------------------------------------

    async def GetClusterState(
        self, request: head_pb2.ClusterStateRequest, context: grpc.aio.ServicerContext
    ) -> head_pb2.ClusterStateReply:
        await _check_version(request.protocol_version, context)
        reply = head_pb2.ClusterStateReply(session_name=self.session_name, dashboard_url=self.dashboard_url)
        for node in self.state.nodes.values():
            info = reply.nodes.add()
            info.CopyFrom(node.info)
            info.ClearField("available")
            info.available.update({k: v for k, v in node.available.items()})
            info.alive = node.alive
        return reply

    async def GetFunction(
        self, request: head_pb2.GetFunctionRequest, context: grpc.aio.ServicerContext
    ) -> head_pb2.GetFunctionReply:
        blob = self.functions.get(request.function_id)
        if blob is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no function {request.function_id.hex()} was exported")
        return head_pb2.GetFunctionReply(blob=blob)

    async def GetActor(
        self, request: head_pb2.GetActorRequest, context: grpc.aio.ServicerContext
    ) -> head_pb2.GetActorReply:
        actor_id = self.state.named_actors.get((request.namespace, request.name))
        if actor_id is None:
            return head_pb2.GetActorReply(found=False)
        actor = self.state.actors[actor_id]
        return head_pb2.GetActorReply(found=True, actor_id=actor_id, actor_meta=actor.meta)

    async def GetStateView(
        self, request: head_pb2.StateViewRequest, context: grpc.aio.ServicerContext
    ) -> head_pb2.StateViewReply:
        return await state_views.get_state_view(self.state, request, context, self.dashboard_url)

    async def GetPlacementGroups(
        self, request: head_pb2.GetPlacementGroupsRequest, context: grpc.aio.ServicerContext
    ) -> head_pb2.GetPlacementGroupsReply:
        groups = self.state.placement_groups
        if request.placement_group_id:
            chosen = [groups[request.placement_group_id]] if request.placement_group_id in groups else []
        elif request.name:
            pg_id = self.state.named_placement_groups.get(request.name)
            chosen = [groups[pg_id]] if pg_id is not None else []
        else:
            chosen = list(groups.values())
        reply = head_pb2.GetPlacementGroupsReply()
        for group in chosen:
            info = reply.groups.add(state=group.state.value)
            info.spec.CopyFrom(group.spec)
            info.bundle_nodes.extend(node_id or b"" for node_id in group.nodes)
        return reply

    async def ListNamedActors(
        self, request: head_pb2.ListNamedActorsRequest, context: grpc.aio.ServicerContext
    ) -> head_pb2.ListNamedActorsReply:
        reply = head_pb2.ListNamedActorsReply()
        for namespace, name in sorted(self.state.named_actors):
            if request.all_namespaces or namespace == request.namespace:
                reply.actors.add(name=name, namespace=namespace)
        return reply


async def _check_first(first: Any, check: Any, context: grpc.aio.ServicerContext) -> None:
    """The version of the peer first (its messages may mean other things), then the message."""
    if first.HasField("hello"):
        await _check_version(first.hello.protocol_version, context)
    await _check(check(first, first=True), context)


async def _check(
    problem: str | None,
    context: grpc.aio.ServicerContext,
    stream: tuple[Outbox, asyncio.Task[None]] | None = None,
) -> None:
    """Ends the call of a peer that sent a malformed message (raylite/head/validate.py);
    `stream`: the call's outbox and its writer, once it has them."""
    if problem is None:
        return
    log.warning("refused a peer's message (%s): %s", context.peer(), problem)
    if stream is not None:
        await _stop_writer(*stream)
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)


async def _stop_writer(out: Outbox, writer: asyncio.Task[None]) -> None:
    """Stops a stream's writer once its write in flight is done: gRPC refuses to end
    a call (abort, or the status after the handler returns) while a write is pending,
    and the call then hangs until the peer gives up."""
    out.close()
    try:
        await asyncio.wait([writer], timeout=config.PEER_TIMEOUT_S)
    finally:
        writer.cancel()


async def _check_version(version: int, context: grpc.aio.ServicerContext) -> None:
    if version != config.PROTOCOL_VERSION:
        await context.abort(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"protocol version mismatch: this head speaks raylite protocol {config.PROTOCOL_VERSION}, "
            f"the peer speaks {version}; install the same raylite version on every machine",
        )
