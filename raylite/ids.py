"""Ids of tasks, objects, actors, nodes and jobs.

A task id is 16 bytes: the submitting process's 8-byte random prefix and an
8-byte counter, so ids are made without any RPC. An object id is the id of the
task that returns it plus a 4-byte return index; `put` objects get a task id of
their own. An actor's id is the id of its creation task.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading

TASK_ID_BYTES = 16
OBJECT_ID_BYTES = 20
ACTOR_ID_BYTES = TASK_ID_BYTES
NODE_ID_BYTES = 16
RAY_NODE_ID_BYTES = 28  # a node id's length in Ray, which a program written for Ray may hold
CLIENT_ID_BYTES = 8  # a client's id is the prefix of the task ids it makes
FUNCTION_ID_BYTES = 16  # blake2b-128 of the pickled function
JOB_ID_BYTES = 8
LEASE_ID_BYTES = 12  # a task lease's id: its client's id and a 4-byte counter (raylite/client/state/leases.py)


class IdSource:
    """Makes unique task ids for one process."""

    def __init__(self, prefix: bytes | None = None) -> None:
        self.prefix = prefix or os.urandom(CLIENT_ID_BYTES)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def task_id(self) -> bytes:
        # itertools.count is atomic under the GIL; the lock guards free-threaded builds.
        with self._lock:
            n = next(self._counter)
        return self.prefix + n.to_bytes(8, "big")


def object_id(task_id: bytes, index: int) -> bytes:
    return task_id + index.to_bytes(4, "big")


def task_of(object_id_: bytes) -> bytes:
    return object_id_[:TASK_ID_BYTES]


def function_id(blob: bytes) -> bytes:
    """The id of an exported function or class: a hash of its pickle, so equal bodies share it."""
    return hashlib.blake2b(blob, digest_size=FUNCTION_ID_BYTES).digest()


def new_node_id() -> bytes:
    return os.urandom(NODE_ID_BYTES)


def node_id_bytes(node_id: object) -> bytes:
    """The node a NodeAffinitySchedulingStrategy names, as raylite's scheduler reads it.

    A raylite node id (NODE_ID_BYTES, in hex) is itself. A Ray-length one is well
    formed (a program written for Ray may hold one), but no raylite node has it: its
    first NODE_ID_BYTES stand for it (their hex starts as its does, for the error that
    names it), which no node has unless 128 random bits met. Anything else is refused.
    """
    try:
        raw = bytes.fromhex(node_id) if isinstance(node_id, str) else b""
    except ValueError:
        raw = b""
    if len(raw) == NODE_ID_BYTES:
        return raw
    if len(raw) == RAY_NODE_ID_BYTES:
        return raw[:NODE_ID_BYTES]
    raise ValueError(
        f"Invalid node_id {node_id!r}. Node ID must be a valid hex string: {node_id!r} is not a node id; use the "
        "hex id of a live node, as ray.nodes()[i]['NodeID'] or ray.get_runtime_context().get_node_id() give it"
    )


def new_job_id() -> bytes:
    return os.urandom(JOB_ID_BYTES)


def random_id(n: int = 16) -> bytes:
    return os.urandom(n)
