"""The GPUs of a node as its executors share them (get_gpu_ids(), CUDA_VISIBLE_DEVICES)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from typing import Any

from raylite.session import pid_alive


def _visible_gpus() -> list[str] | None:
    """The GPU ids CUDA_VISIBLE_DEVICES named when this executor started, if it was set."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def choose_gpus(in_use: dict[int, float], total: int, amount: float) -> list[int]:
    """Which of a node's `total` GPUs a task asking for `amount` of them gets, given what others use.

    A whole number asks for that many GPUs, the least used first (free ones when
    the scheduler's accounting holds). A fraction shares one GPU: the fullest
    that still has room, so that fractions pack together and whole GPUs stay
    free, as Ray places them.
    """
    if total <= 0 or amount <= 0:
        return []
    indices = list(range(total))
    if amount < 1:
        fits = [i for i in indices if in_use.get(i, 0.0) + amount <= 1.0 + 1e-9]
        if fits:
            return [max(fits, key=lambda i: (in_use.get(i, 0.0), -i))]
        return [min(indices, key=lambda i: (in_use.get(i, 0.0), i))]
    wanted = min(total, int(amount + 0.5) if abs(amount - round(amount)) < 1e-9 else int(amount) + 1)
    return sorted(sorted(indices, key=lambda i: (in_use.get(i, 0.0), i))[:wanted])


class GpuSlots:
    """The node's GPUs as its executors share them: who holds which, in a file in the node's store folder.

    Each executor claims GPUs for a task (or for the life of an actor) under
    an exclusive lock on the file and releases them when the task ends;
    claims of processes that died are dropped at the next claim. Only
    processes of one node share the file, so no daemon needs to take part.
    """

    FILE = "gpu-claims.json"

    def __init__(self, path: str, total: int, original_visible: list[str] | None) -> None:
        self.path = path
        self.total = total
        self.original_visible = original_visible

    def claim(self, owner: str, amount: float) -> list[Any]:
        with self._locked() as claims:
            in_use: dict[int, float] = {}
            for held in claims.values():
                for index, share in held.items():
                    in_use[int(index)] = in_use.get(int(index), 0.0) + share
            chosen = choose_gpus(in_use, self.total, amount)
            share = amount if amount < 1 else 1.0
            claims[owner] = {str(i): share for i in chosen}
        if self.original_visible is not None:
            return [self.original_visible[i] for i in chosen if i < len(self.original_visible)]
        return chosen

    def release(self, owner: str) -> None:
        with self._locked() as claims:
            claims.pop(owner, None)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, float]]]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+") as f:
                try:
                    claims = json.loads(f.read() or "{}")
                except ValueError:
                    claims = {}
                claims = {o: held for o, held in claims.items() if pid_alive(int(o.split(":", 1)[0]))}
                yield claims
                f.seek(0)
                f.truncate()
                f.write(json.dumps(claims))
        finally:
            os.close(fd)  # releases the lock
