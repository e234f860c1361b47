"""The head's pure state machines: no sockets, no clocks, no randomness.

The servicer feeds `HeadState.handle(*events)` and carries out the effects it
returns. Nothing here imports asyncio, grpc, socket, time, os or random
(tests/unit/test_purity.py checks this).
"""

from raylite.head.state.head_state import HeadState
from raylite.head.state.model import *  # noqa: F403 - the events and effects are the API
from raylite.head.state.states import ActorState, IllegalTransition, StoryEntry, TaskState

__all__ = ["ActorState", "HeadState", "IllegalTransition", "StoryEntry", "TaskState"]
