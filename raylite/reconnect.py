"""How a process that lost the head tries to reach it again.

Worker daemons and clients (drivers, executors) keep their work when the
head's stream breaks: a restarted head adopts it. They retry with a growing
back-off for up to `config.HEAD_RECONNECT_S` per outage. An outage begins
when the head is lost after a session that lived (`config.STABLE_SESSION_S`);
a session that breaks sooner continues the same outage, so a head that
accepts and then drops us at once does not reset the budget.

`Outage` is the pure bookkeeping (time is an argument); `reach_head` is the
one place that waits.
"""

from __future__ import annotations

import asyncio
import time

import grpc

from raylite import config

# How a head says no to what a peer sent: reconnecting to send the same again is no use.
REFUSALS = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT)


class Outage:
    def __init__(self, budget_s: float | None = None) -> None:
        self.budget_s = config.HEAD_RECONNECT_S if budget_s is None else budget_s
        self.since: float | None = None  # when the current outage began
        self._delay = config.RECONNECT_FIRST_DELAY_S
        self._connected_at: float | None = None

    def connected(self, now: float) -> None:
        """A session with the head began."""
        self._connected_at = now

    def lost(self, now: float) -> float:
        """The head was lost; returns how long to wait before the next attempt."""
        stable = self._connected_at is not None and now - self._connected_at >= config.STABLE_SESSION_S
        if self.since is None or stable:
            self.since, self._delay = now, config.RECONNECT_FIRST_DELAY_S
        self._connected_at = None
        delay = self._delay
        self._delay = min(self._delay * 2, config.RECONNECT_MAX_DELAY_S)
        return delay

    def remaining(self, now: float) -> float:
        """Seconds left of this outage's budget."""
        return 0.0 if self.since is None else max(0.0, self.since + self.budget_s - now)


async def reach_head(channel: grpc.aio.Channel, outage: Outage) -> bool:
    """Waits (with back-off) until the head's address answers again; False once the budget is spent."""
    # the back-off matters when the address answers but the head fails at once
    await asyncio.sleep(outage.lost(time.monotonic()))
    try:
        await asyncio.wait_for(channel.channel_ready(), timeout=outage.remaining(time.monotonic()))
    except asyncio.TimeoutError:
        return False
    return True
