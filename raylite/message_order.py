"""The order in which the receiver of a stream message applies its fields.

Theory of operation
-------------------
The four long-lived streams (ClientBatch and HeadToClient on a client's
session, NodeBatch and HeadToNode on a node's) carry batches: one message
holds everything its sender had to say since its last write, in fields by
kind rather than in the order it happened (raylite/batching.py). The receiver
therefore applies the fields in a fixed order, and that order is part of the
protocol: a put must not reach the head before the ref that keeps it, a kill
must not reach a node after the creation of the incarnation that replaces
the one it names.

`ORDER` writes that order down once, per message type, as a list of steps:
a field, and for a field applied in two places a filter choosing the items
each place applies (ClientBatch's ref_changes: held refs early, released
refs late). Single fields are steps too: `hello` first, since it opens the
session the rest speaks in, and `flush`, `flush_ack` and `warning` last,
since they speak of everything before them. Everything that applies or
builds these messages drives off the table:

- the head's servicer (raylite/head/service.py) and the worker daemon's link
  to the head (raylite/worker/daemon.py) and the client's reader
  (raylite/client/core.py) `bind` an action to every field of the table and
  run the actions in table order; `bind` refuses a set of actions that does
  not match the table, so a field the table places cannot go unapplied, and
  an action cannot be added for a field the table does not place;
- `raylite.batching.split`, which cuts a batch too large for one gRPC message
  into several, fills the parts in table order, so the receiver applies the
  parts one after another in the order it would have applied the whole;
- tests/unit/test_message_order.py fails when a field of one of the four
  messages is missing from the table (a new field must be placed
  explicitly), and checks the servicer and the daemon against the table.

Within one message the head applies every event in one HeadState.handle
call, and the state judges frees only at the end of it; across the parts of
a split message it does not. The orders below are therefore what makes a
split safe, and what the reasons given with each step are about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import filterfalse
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar

from raylite.rpc import head_pb2

A = TypeVar("A", bound=Callable[..., None])  # called as action(items, *context)


class Step(NamedTuple):
    field: str
    # For a field applied in two places: this step applies only the items whose
    # boolean attribute where[0] is where[1] (data rather than a function, so that
    # the filtering runs in C: it is on the hot path of every task).
    where: tuple[str, bool] | None = None


def select(step: Step) -> Callable[[Iterable[Any]], list[Any]] | None:
    """The items of a step's field that the step applies, as a function; None: all."""
    if step.where is None:
        return None
    attribute, wanted = step.where
    test = attrgetter(attribute)
    if wanted:
        return lambda items: list(filter(test, items))
    return lambda items: list(filterfalse(test, items))


ORDER: dict[type, tuple[Step, ...]] = {
    head_pb2.ClientBatch: (
        # The session first: ClientConnected (with ClientDisconnected of a stream this
        # one replaces, in the same state step) before anything the client says in it.
        Step("hello"),
        # Before tasks: a task dispatched in this batch carries its function's body,
        # which the head takes from the functions it was given.
        Step("exports"),
        # New refs before puts and tasks: a put, or a task's return, that reaches the
        # head while no process holds a ref to it is freed on arrival (commit 4cb8a74:
        # 10,000 puts of 10 MB lost two). The client makes the ref before what it names.
        Step("ref_changes", ("held", True)),
        # Before tasks: a client reconnecting to a restarted head sends the values it
        # knows as puts and its unfinished tasks again; a task whose outputs are among
        # those puts is done and is not run again.
        Step("puts"),
        # Before tasks: a task submitted into a placement group made in the same batch
        # finds the group (a task naming a group the head does not know fails).
        Step("placement_groups"),
        # Before tasks: a direct call reported running whose channel then broke comes back
        # resent through the head, possibly in the same batch; its submission replaces the entry.
        Step("calls_running"),
        Step("tasks"),
        # After puts and tasks only so that an object one of them made is delivered at
        # once; before them it would wait in the subscriber list and arrive all the same.
        Step("subscribe"),
        # After tasks: a reconnecting caller's resubmitted generators are its streams again
        # when the head hears how far it got in each (and before generator_items, so that an
        # item a client that is both ends resends is judged against what the caller has).
        Step("streams_received"),
        # An executor sends a task's blocking and resuming before its result; a resume
        # applied after the result would find the task gone (harmless), and no other
        # step names a task's block state.
        Step("block_states"),
        # An executor's generator items before its results: the items of a task precede
        # its end (which publishes the error of a failed stream after the last item), and
        # after ref_changes held, puts and tasks for the same reason as results below.
        Step("generator_items"),
        # User metrics change nothing of the state; before results, so that when a task's
        # result is out the increments it made are counted (raylite/client/metrics_buffer.py).
        Step("metrics"),
        # An executor's results travel on its client stream after the task's own
        # submissions, puts and refs, and before it releases refs pickled inside the
        # result (commit 89a1189): the stored result pins them first.
        Step("results"),
        # Records of tasks run on leases, like results: after the refs this client holds to their
        # outputs (held ref_changes) and before it releases them (the last step).
        Step("lease_task_records"),
        # A caller's records of its answered direct calls: after ref_changes held and puts
        # (the caller holds the results it records), before released refs (a record pins
        # the refs inside its results before the caller lets them go).
        Step("call_records"),
        # Names actors only; the head answers with their locations now and on each change.
        Step("locate_actors"),
        # After tasks: a task submitted in this batch and cancelled in it is known to the
        # head when the cancel is applied (a cancel of an unknown task is refused). After
        # results too, though no client reports a result of a task it cancels.
        Step("cancels"),
        # A caller's progress through a streaming generator names nothing else of the
        # batch; after generator_items, the order a client that is both ends would expect.
        Step("generator_consumed"),
        # After tasks: an actor created in this batch exists when its kill is applied
        # (a kill of an unknown actor is ignored). kill() returns once its flush is
        # acknowledged, so no call made after it shares its batch.
        Step("kill_actors"),
        # As kill_actors; no order between the two is needed (kill() and
        # kill(no_restart=False) each flush before returning).
        Step("restart_actors"),
        # After tasks: a task submitted into a group before its removal, in the same
        # batch, fails as the group's other tasks do. remove_placement_group() flushes.
        Step("remove_placement_groups"),
        # Released refs after everything else: a task submitted in this batch with a
        # ref pins it, and a result pins the refs inside it, before the ref goes.
        Step("ref_changes", ("held", False)),
        # Task leases (raylite/head/state/leases.py). Requests after tasks: the tasks of this
        # batch that went through the head are queued before the lease that may take their
        # class's slots. Returns after results and cancels: a returned lease's last answers
        # were already on the lease stream, nothing of this batch names it.
        Step("lease_requests"),
        Step("lease_returns"),
        # Last: its echo says that everything before it was applied.
        Step("flush"),
    ),
    head_pb2.HeadToClient: (
        # What the job's tasks printed, first: a task's lines come in the message that brings its
        # result (its node sends them before it), and are printed before the get() it wakes returns.
        Step("log_batches"),
        # Before flush_ack: a thread woken by the ack finds the values pushed with it.
        Step("objects"),
        # Before flush_ack: cancel() waits for the ack of its batch, then reads what was refused.
        Step("cancel_refused"),
        # Where actors called directly live: after objects (a call answered through the head
        # before its actor moved is settled first), before flush_ack.
        Step("actor_locations"),
        # A generator's caller progressed: wakes an executor paused by backpressure. It names
        # no object, so its place only has to come before the ack that speaks of everything.
        Step("generator_consumed"),
        # Grants and revocations name no object; before flush_ack, which speaks of everything.
        Step("leases"),
        Step("lease_revokes"),
        Step("flush_ack"),
        # Printed after the ack, as it always was; it changes nothing else.
        Step("warning"),
    ),
    head_pb2.NodeBatch: (
        # The session first: NodeAdded (and what a resuming node still holds) before
        # anything the node reports in its first batch.
        Step("hello"),
        # Printed lines change no state; forwarded before the results the node sends with them,
        # so that the driver has them by the time its get() returns.
        Step("log_batches"),
        # Before deaths: an executor that reported a result and then died must not
        # have that task retried; the death of a task already finished is ignored.
        Step("results"),
        # Records of leased tasks after results, as the design says (a record names only its own
        # task and its stored outputs, which it publishes), and before deaths for the reason above.
        Step("task_records"),
        # A leased task reported running and then ended: after the record that reported it.
        Step("leased_tasks_ended"),
        Step("deaths"),
        # A drained lease's slots go back after its last records and its executors' deaths: the
        # head frees the slots only when nothing of the lease is left to hear of.
        Step("leases_drained"),
        # Leases a resuming node serves: after hello (the node exists), adopted as granted.
        Step("leases_served"),
        # Copies relate to no result or death of the same batch; added before removed,
        # the order of a pull and a later eviction of the same copy. (A copy evicted
        # and pulled again within one batch is reported as removed: the two lists keep
        # no order between them.)
        Step("copies_added"),
        Step("copies_removed"),
        # Progress of long pulls changes nothing but what an explanation says: last.
        Step("pulls"),
        # The node's traffic and store use relate to nothing else of the batch.
        Step("metrics"),
    ),
    head_pb2.HeadToNode: (
        # The node's own NodeInfo, in the head's first message: the acknowledgement of
        # the hello. The daemon takes any message as that and reads nothing of it.
        Step("nodes"),
        # Kills before tasks: they name incarnations older than any creation in this
        # message, and the process of a restart's creation must not be the one killed.
        Step("kill_actors"),
        # The daemon applies a message without yielding, so only steps that name the
        # same actor or object can affect one another. A promotion and a free of one
        # object end the same in either order (a promotion of an object the store no
        # longer holds is ignored); the free, the head's later decision, comes last.
        Step("promoted_objects"),
        Step("free_objects"),
        # Tasks after the objects: the head frees nothing a dispatched task pins, so the steps above
        # touch no argument of these.
        Step("tasks"),
        # A lease is known to the node before its client can have heard of it (the head sends
        # the grant to both in one step); ends after grants, since one message may carry both.
        Step("leases"),
        # A lent slot names a lease granted before (in this message or an earlier one); before ends:
        # a lease lent and stopped in one message drains with its waiting tasks started.
        Step("lease_lends"),
        Step("lease_ends"),
        # After tasks: a task dispatched and cancelled while one message was being built
        # comes in it with its cancel; the cancel must find it given out.
        Step("cancel_tasks"),
    ),
}


def steps(message_type: type) -> tuple[Step, ...]:
    """Every field of a message type, in the order it is applied: the table, then any
    field it does not name (none, for the four streams' messages: a test sees to it),
    repeated fields in declaration order before single fields. `split` uses this, so
    it drops nothing even from a message with no table."""
    order = ORDER.get(message_type, ())
    named = {step.field for step in order}
    rest = [f for f in message_type.DESCRIPTOR.fields if f.name not in named]  # type: ignore[attr-defined]
    return (
        order
        + tuple(Step(f.name) for f in rest if f.is_repeated)
        + tuple(Step(f.name) for f in rest if not f.is_repeated)
    )


def bind(message_type: type, actions: Mapping[str, A | None]) -> list[tuple[str, A]]:
    """The table's steps for message_type, each as (field, the action for it), in order.

    `actions` names every field of the table: an action, or None for a field this
    receiver has nothing to do for (hello, which the session reads before the batch;
    HeadToNode.nodes). Steps with no action are left out. A receiver calls an action
    as `action(items, *context)` with the field's value when it is not empty (a list
    of items for a repeated field) and context of its own; for a step with a filter,
    the action sees only the items the filter keeps, and is not called when none is.
    A single field of message type cannot have an action: a receiver tests a field's
    presence by its truth, which a message always has.
    """
    order = ORDER[message_type]
    named = {step.field for step in order}
    if named != set(actions):
        missing, extra = sorted(named - set(actions)), sorted(set(actions) - named)
        raise ValueError(
            f"{message_type.__name__}: no action for {missing}; actions for fields not in the order {extra}"
        )
    fields = message_type.DESCRIPTOR.fields_by_name  # type: ignore[attr-defined]
    bound = []
    for step in order:
        action = actions[step.field]
        if action is None:
            continue
        descriptor = fields[step.field]
        if not descriptor.is_repeated and descriptor.message_type is not None:
            raise ValueError(f"{message_type.__name__}.{step.field}: a single message field cannot have an action")
        chosen = select(step)
        bound.append((step.field, action if chosen is None else _filtered(chosen, action)))
    return bound


def _filtered(chosen: Callable[[Iterable[Any]], list[Any]], action: A) -> A:
    def apply(items: Any, *context: Any) -> None:
        kept = chosen(items)
        if kept:
            action(kept, *context)

    return apply  # type: ignore[return-value]
