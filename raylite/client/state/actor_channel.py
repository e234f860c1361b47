"""A caller's channel to one actor for direct calls (docs/design-direct-calls.md, part (a)).

Theory of operation
-------------------
One `ActorChannel` per (caller, actor). Every call the caller makes to the
actor gets the next `call_seq` (from 1), whichever path it then takes; the
actor's executor runs one caller's calls in that order (raylite/worker/
actor_host.py: CallOrder), so the caller may switch paths between any two
calls.

    HEAD_PATH --first call--> LOCATING --located: PLACED, port--> CONNECTING
        ^                        ^   ^                                 | hello accepted
        |                        |   +------ BROKEN <--(EOF, error)---+ OPEN
        +-- (no port, refused) --+                                     |
                                   located: DEAD -> DEAD (every call then goes by the head,
                                                          which fails it with the cause)

A call goes direct only while the channel is OPEN and the call qualifies
(`direct_ok`: no ObjectRef argument the executor would have to wait for, not
a generator); every other call goes by the head, exactly as without direct
calls. Except during the first locate and connect (`holding`): calls that
qualify are held here (`held`) and go direct once the port accepts the hello,
or by the head if the actor is not placed, the port fails or refuses, a call
that does not qualify comes (it must not pass them at the head), or the
client's hold deadline passes. Without the hold, a task's first call to an
actor went by the head while its result went to the driver, and the driver's
next call, sent direct, could reach the actor first (the walkthrough's
tracker counting 7 of 8 calls). A call sent direct stays in `unanswered` (its spec: the caller is the
one that can resend it) until its answer arrives. When the channel breaks,
those calls are handed back to be resent through the head, each naming the
life of the actor it was sent to (`direct_incarnation`); the head spends one
of its `max_task_retries` for it if that life ended, or fails it as it would
a call in flight at a restart. Calls answered through the head (either path
answers a call at most once to the caller: the executor's CallLedger) are
forgotten the same way.

`first_unanswered()` is what the executor is told in the hello and in each
batch: calls below it will not come (answered by either path), so a call
held for a predecessor that failed in the head does not wait forever.

Pure: no sockets, no clock. The client (raylite/client/direct.py) carries out
what it returns.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any


class Channel(str, Enum):
    HEAD_PATH = "HEAD_PATH"  # not located yet (no call made)
    LOCATING = "LOCATING"  # asked the head where the actor is; calls go by the head meanwhile
    CONNECTING = "CONNECTING"  # a connection to its call port is being opened
    OPEN = "OPEN"
    DEAD = "DEAD"


LEGAL: dict[Channel, set[Channel]] = {
    Channel.HEAD_PATH: {Channel.LOCATING, Channel.DEAD},
    Channel.LOCATING: {Channel.CONNECTING, Channel.DEAD},
    Channel.CONNECTING: {Channel.OPEN, Channel.LOCATING, Channel.DEAD},
    Channel.OPEN: {Channel.LOCATING, Channel.DEAD},
    Channel.DEAD: set(),
}


class IllegalChannelMove(RuntimeError):
    pass


class ActorChannel:
    def __init__(self, actor_id: bytes) -> None:
        self.actor_id = actor_id
        self.state = Channel.HEAD_PATH
        self.next_seq = 1
        self.incarnation = 0  # the life of the actor the channel is (or was last) open to
        self.address = ""
        self.connection: Any = None  # the client's transport, while CONNECTING or OPEN
        self.unanswered: dict[bytes, Any] = {}  # call id -> spec, sent direct, in call_seq order
        self.seqs: dict[bytes, int] = {}  # call id -> call_seq, of every unanswered call (either path)
        self.refused = ""  # why the last connection was refused, if it was
        self.failed: tuple[int, str] = (-1, "")  # the (incarnation, address) whose port failed last
        # answered calls whose answers held refs, until the head applied their records: the
        # executor holds those refs until first_unanswered passes the call
        self.settling: set[bytes] = set()
        self.holding = False  # during the first locate and connect: calls that qualify wait in `held`
        self.held: list[Any] = []  # their specs, in call_seq order

    def _move(self, new: Channel) -> None:
        if new not in LEGAL[self.state]:
            raise IllegalChannelMove(f"actor channel {self.actor_id.hex()[:12]}: {self.state} -> {new}")
        self.state = new

    # ---- calls --------------------------------------------------------------------------

    def number(self, call_id: bytes) -> int:
        """The call's call_seq (a new one); True in `needs_locate()` right after the first."""
        seq = self.next_seq
        self.next_seq += 1
        self.seqs[call_id] = seq
        return seq

    def needs_locate(self) -> bool:
        """Whether the head must be asked where the actor is (the first call made)."""
        if self.state is Channel.HEAD_PATH:
            self._move(Channel.LOCATING)
            self.holding = True
            return True
        return False

    def route(self, call_id: bytes, spec: Any, direct_ok: bool) -> bool:
        """True: send it direct (kept as unanswered); False: send it by the head."""
        if self.state is Channel.OPEN and direct_ok:
            self.unanswered[call_id] = spec
            return True
        return False

    def hold(self, spec: Any, direct_ok: bool) -> bool:
        """A call route() refused: True if it is held for the port being opened (see above)."""
        if self.holding and direct_ok:
            self.held.append(spec)
            return True
        return False

    def release(self) -> list[Any]:
        """Stops holding: the held calls, in call_seq order, to send by the head."""
        held, self.held = self.held, []
        self.holding = False
        return held

    def answered(self, call_id: bytes) -> bool:
        """Its answer arrived (by either path); True if the channel knew the call. A call
        `settling` keeps its number (first_unanswered does not pass it) until `settled`."""
        self.unanswered.pop(call_id, None)
        if call_id in self.settling:
            return True
        return self.seqs.pop(call_id, None) is not None

    def settled(self, call_id: bytes) -> None:
        """The head applied the record of a call whose answer held refs: its executor may let them go."""
        self.settling.discard(call_id)
        self.seqs.pop(call_id, None)

    def first_unanswered(self) -> int:
        return min(self.seqs.values(), default=self.next_seq)

    # ---- the actor's location and the connection ---------------------------------------

    def located(self, state: str, incarnation: int, address: str) -> str:
        """The head says where the actor is. Returns what to do: "connect", "dead" or ""."""
        if self.state is Channel.DEAD:
            return ""
        if state == "DEAD":
            self._move(Channel.DEAD)
            return "dead"
        if self.state is not Channel.LOCATING or state != "PLACED" or not address:
            return ""  # open already (a change it learns by EOF), or not placed: calls go by the head
        if (incarnation, address) == self.failed:
            return ""  # that port failed us already: this life of the actor is called by the head
        self.incarnation, self.address = incarnation, address
        self._move(Channel.CONNECTING)
        return "connect"

    def opened(self) -> list[Any]:
        """The port accepted the hello: the held calls, now unanswered, to send direct in order."""
        self._move(Channel.OPEN)
        held = self.release()
        for spec in held:
            self.unanswered[spec.task_id] = spec
        return held

    def broke(self, why: str = "") -> list[Any]:
        """The connection failed or closed: the calls sent direct and not answered, in call_seq
        order, to resend by the head (each then names the life it was sent to)."""
        self.connection = None
        self.refused = why
        if self.state is Channel.OPEN or self.state is Channel.CONNECTING:
            self.failed = (self.incarnation, self.address)
            self._move(Channel.LOCATING)
        return self.take_unanswered()

    def take_unanswered(self) -> list[Any]:
        """The calls sent direct and not answered, in call_seq order, to resend by the head."""
        resend, self.unanswered = list(self.unanswered.values()), {}
        return resend

    def validate(self, seq_of: Callable[[Any], int]) -> None:
        """Invariants (tests): unanswered direct calls are numbered, in order, and the channel is OPEN
        or was just left; a DEAD channel holds no direct call."""
        seqs = [seq_of(spec) for spec in self.unanswered.values()]
        assert seqs == sorted(seqs), seqs
        held = [seq_of(spec) for spec in self.held]
        assert held == sorted(held) and all(self.seqs.get(spec.task_id) == seq_of(spec) for spec in self.held)
        assert self.holding or not self.held
        assert not (self.held and self.unanswered)  # held only before the first connection opens
        assert all(self.seqs.get(cid) == seq_of(spec) for cid, spec in self.unanswered.items())
        if self.state is Channel.DEAD:
            assert not self.unanswered
        assert all(0 < s < self.next_seq for s in self.seqs.values())


class SentCalls:
    """Direct calls in the order they were sent, to find those still unanswered a window later.

    The head hears of a direct call only from its CallRecord, after its answer; a call that
    runs long would be missing from the state API meanwhile. So the caller reports a call
    as running once it has been out for `window` (config.CALL_RECORD_DELAY_S) with no
    answer: a call answered sooner costs one append and one pop here and nothing at the
    head. Reported calls are kept (with when they were sent) until answered, so that they
    can be reported again to a restarted head.

    Pure: the times are arguments.
    """

    def __init__(self) -> None:
        self._sent: deque[tuple[float, bytes, ActorChannel]] = deque()
        self.reported: dict[bytes, tuple[ActorChannel, float]] = {}  # call id -> (its channel, sent)

    def sent(self, now: float, call_id: bytes, channel: ActorChannel) -> None:
        self._sent.append((now, call_id, channel))

    def due(self, now: float, window: float) -> list[tuple[Any, float]]:
        """(spec, sent) of the calls sent at least `window` before `now` and still unanswered
        on their channel (each returned once); the calls answered meanwhile are forgotten."""
        out: list[tuple[Any, float]] = []
        sent = self._sent
        limit = now - window
        while sent and sent[0][0] <= limit:
            at, call_id, channel = sent.popleft()
            spec = channel.unanswered.get(call_id)
            if spec is not None:
                self.reported[call_id] = (channel, at)
                out.append((spec, at))
        return out

    def next_due(self, window: float) -> float | None:
        """When the oldest call not yet judged is due (None: none is out)."""
        return self._sent[0][0] + window if self._sent else None

    def answered(self, call_id: bytes) -> None:
        self.reported.pop(call_id, None)

    def still_running(self) -> list[tuple[Any, float]]:
        """(spec, sent) of the reported calls still out direct (for a restarted head)."""
        out = []
        for call_id, (channel, at) in list(self.reported.items()):
            spec = channel.unanswered.get(call_id)
            if spec is None:
                del self.reported[call_id]  # resent through the head: the head lists it itself
            else:
                out.append((spec, at))
        return out
