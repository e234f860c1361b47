"""An actor executor's side of direct calls (docs/design-direct-calls.md (a)): its call port,
the calls that come by it, and their answers.

A call that came by the port runs exactly as one that came by the head
(`dispatch`: the CallLedger first, then CallOrder, a thread group or the async
loop); only its answer goes back to the connection it came on (`direct_routes`)
instead of to the daemon or the head. Both paths meet in CallOrder, which orders
one caller's calls by call_seq.

Refs pickled inside a direct call's result are held here (`holds`) until the
caller says it has told the head of the result (its `first_unanswered` passed the
call): the caller's CallRecord pins them in the head, and only then may this
process's release of them reach the head. A connection that closes lets its holds
go (its caller is gone or will resend through the head).

DirectCalls is a part of raylite.worker.executor_main.Executor; the names it uses
of the rest of the executor are declared for the type checker.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from raylite import config, tls, tokens
from raylite.client import context
from raylite.rpc import calls_pb2, common_pb2, head_pb2
from raylite.worker import call_port, protocol
from raylite.worker.cancels import ASYNCIO

log = logging.getLogger("raylite")


class DirectCalls:
    if TYPE_CHECKING:  # the rest of the executor (executor_main.py)
        cfg: dict[str, Any]
        ip: str
        cancels: Any
        in_order: Any
        inbox: Any
        send_lock: Any
        channel: Any

        def dispatch(self, assignment: head_pb2.TaskAssignment) -> None: ...

    port: call_port.CallPort | None = None
    direct_routes: dict[bytes, tuple[call_port.Connection, int, float]]
    holds: dict[call_port.Connection, list[tuple[int, list[bytes]]]]

    def _open_call_port(self, actor_id: bytes, incarnation: int) -> str:
        """Opens the actor's call port (direct calls on); its address, or "" for none."""
        self.direct_routes = {}
        self.holds = {}
        if not config.DIRECT_ACTOR_CALLS or self.inbox is None:
            return ""
        try:
            self.port = call_port.CallPort(self.ip, tokens.find_token(), actor_id, incarnation, tls.from_env())
        except (OSError, tls.TLSConfigError) as exc:
            log.warning("actor %s: no call port (%s); its calls go through the head", actor_id.hex()[:12], exc)
            return ""
        self.inbox.port = self.port
        with self.send_lock:
            self.channel.send(protocol.CALL_PORT, self.port.address.encode())
        return self.port.address

    def _take_direct(self, event: call_port.Hello | call_port.Calls | call_port.Closed) -> None:
        if isinstance(event, call_port.Closed):
            self._connection_gone(event.conn)
            if self.in_order is not None:
                self.in_order.order.disconnected(event.conn.caller)
            return
        if isinstance(event, call_port.Hello):
            if self.in_order is not None:
                self.in_order.order.skip_to(event.caller, event.first_unanswered)
            return
        conn, batch = event.conn, event.batch
        if batch.first_unanswered:
            self._release_holds(conn, batch.first_unanswered)
            if self.in_order is not None:
                self.in_order.order.skip_to(conn.caller, batch.first_unanswered)
        for call_id in batch.cancels:
            self._cancel_direct(call_id)
        now = time.time()
        for spec in batch.calls:
            self.direct_routes[spec.task_id] = (conn, spec.call_seq, now)
            self.dispatch(head_pb2.TaskAssignment(spec=spec))

    def _cancel_direct(self, call_id: bytes) -> None:
        running = self.cancels.request(call_id)
        if running is not None and running.how == ASYNCIO:
            loop, task = running.target
            loop.call_soon_threadsafe(task.cancel)

    def _deliver_direct(self, spec: common_pb2.TaskSpec, result: head_pb2.TaskResult) -> bool:
        """Answers a call that came by the port on its connection; False if it did not come so."""
        route = self.direct_routes.pop(spec.task_id, None)
        if route is None:
            return False
        conn, seq, started = route
        contained = [oid for v in result.results for oid in v.contained]
        if contained:
            self._hold(conn, seq, contained)
        # built in place in the batch that carries it: one copy of the results, not two
        batch = calls_pb2.CallReplyBatch()
        answer = batch.results.add(
            task_id=spec.task_id,
            error_summary=result.error_summary,
            started=started,
            finished=time.time(),
            node_id=result.node_id,
        )
        answer.results.extend(result.results)
        assert self.port is not None
        if not self.port.reply(conn, batch):
            self._connection_gone(conn)  # the caller resends it through the head: the ledger answers it
        return True

    def _hold(self, conn: call_port.Connection, seq: int, oids: list[bytes]) -> None:
        client = context.current()  # the refs came from somewhere: this process has a client
        client.register_refs(oids)
        for oid in oids:
            client.add_ref(oid)
        self.holds.setdefault(conn, []).append((seq, oids))

    def _release_holds(self, conn: call_port.Connection, below: int | None) -> None:
        held = self.holds.get(conn)
        if not held:
            return
        keep = [(s, o) for s, o in held if below is not None and s >= below]
        gone = [o for s, o in held if below is None or s < below]
        if keep:
            self.holds[conn] = keep
        else:
            self.holds.pop(conn, None)
        client = context.peek()
        if client is not None:
            for oids in gone:
                for oid in oids:
                    client.remove_ref(oid)

    def _connection_gone(self, conn: call_port.Connection) -> None:
        self._release_holds(conn, None)
