"""What the head saves so that a restarted head can carry on: an SQLite file.

Saved: exported functions (executors fetch them by id), the actor directory
(named and detached actors must survive), and the nodes alive (a restarted
head waits for them before it schedules). Not saved: tasks and objects. The
clients resubmit their unfinished tasks and re-announce their refs, and the
nodes report what they run and store (see raylite/head/state/recovery.py).

A head that stops cleanly deletes the file, so the next start begins afresh;
a head killed mid-job leaves it for its successor on the same storage path.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from raylite.head import wire
from raylite.head.state.model import ActorRecord
from raylite.head.state.states import ActorState
from raylite.rpc import common_pb2

log = logging.getLogger("raylite.head")

FILE_NAME = "head.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (function_id BLOB PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (node_id BLOB PRIMARY KEY);
CREATE TABLE IF NOT EXISTS actors (
    actor_id BLOB PRIMARY KEY,
    spec BLOB NOT NULL,          -- the creation TaskSpec
    client_id BLOB NOT NULL,     -- who submitted the creation
    state TEXT NOT NULL,
    node_id BLOB,
    attempt INTEGER NOT NULL,
    restarts_left INTEGER NOT NULL,
    restarts INTEGER NOT NULL,
    ready BLOB                   -- the constructor's result (an ObjectValue), once it returned
);
"""


@dataclass
class Saved:
    functions: dict[bytes, bytes] = field(default_factory=dict)
    actors: list[ActorRecord] = field(default_factory=list)
    nodes: list[bytes] = field(default_factory=list)


class HeadStorage:
    def __init__(self, directory: str) -> None:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.path = Path(directory) / FILE_NAME
        existed = self.path.exists()
        self._db: sqlite3.Connection | None = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a head crash loses nothing; a power cut may lose the tail
        self._db.executescript(_SCHEMA)
        self._recovered = existed

    def load(self) -> Saved | None:
        """What a crashed predecessor left, or None when this head starts afresh."""
        if not self._recovered or self._db is None:
            return None
        saved = Saved()
        saved.functions = dict(self._db.execute("SELECT function_id, blob FROM functions"))
        saved.nodes = [row[0] for row in self._db.execute("SELECT node_id FROM nodes")]
        for row in self._db.execute(
            "SELECT spec, client_id, state, node_id, attempt, restarts_left, restarts, ready FROM actors"
        ):
            saved.actors.append(_actor_from_row(*row))
        return saved

    def _write(self, sql: str, params: tuple) -> None:
        if self._db is not None:  # streams may still end after the head closed its storage
            self._db.execute(sql, params)

    def save_function(self, function_id: bytes, blob: bytes) -> None:
        self._write("INSERT OR IGNORE INTO functions VALUES (?, ?)", (function_id, blob))

    def save_node(self, node_id: bytes) -> None:
        self._write("INSERT OR IGNORE INTO nodes VALUES (?)", (node_id,))

    def forget_node(self, node_id: bytes) -> None:
        self._write("DELETE FROM nodes WHERE node_id = ?", (node_id,))

    def save_actor(self, actor: ActorRecord) -> None:
        state = ActorState(actor.state)
        if state is ActorState.DEAD:
            self._write("DELETE FROM actors WHERE actor_id = ?", (actor.actor_id,))
            return
        creation = actor.creation
        assert creation is not None
        ready = wire.object_value(actor.ready).SerializeToString() if actor.ready is not None else None
        self._write(
            "INSERT OR REPLACE INTO actors VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                actor.actor_id,
                creation.spec,
                creation.client_id,
                state.value,
                actor.node_id,
                creation.attempt,
                actor.restarts_left,
                actor.restarts,
                ready,
            ),
        )

    def close(self, clean: bool) -> None:
        """Closes the file; a clean stop deletes it so the next head starts afresh."""
        if self._db is None:
            return
        self._db.close()
        self._db = None
        if clean:
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(f"{self.path}{suffix}")
                except FileNotFoundError:
                    pass


def _actor_from_row(
    spec_bytes: bytes,
    client_id: bytes,
    state: str,
    node_id: bytes | None,
    attempt: int,
    restarts_left: int,
    restarts: int,
    ready: bytes | None,
) -> ActorRecord:
    spec = common_pb2.TaskSpec.FromString(spec_bytes)
    creation = wire.task_record(spec, client_id)
    creation.attempt = attempt
    actor = ActorRecord(
        spec.actor_id,
        spec.job_id,
        spec.actor_name,
        spec.detached,
        spec.actor_meta,
        state=ActorState(state),
        node_id=node_id,
        creation=creation,
        restarts_left=restarts_left,
        restarts=restarts,
        max_task_retries=spec.max_task_retries,
        namespace=spec.actor_namespace,
        owner=client_id,
    )
    if ready is not None:
        actor.ready = wire.object_info(common_pb2.ObjectValue.FromString(ready))
    return actor
