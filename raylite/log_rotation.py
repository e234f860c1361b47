"""Size-based rotation of log files: executors' (executor-<pid>.out and .err) and the daemons' own.

A file that would pass `limit` bytes with the next write is rotated first, as Ray rotates its
logs (`RAYLITE_LOGGING_ROTATE_BYTES`, default 512 MiB; `RAYLITE_LOGGING_ROTATE_BACKUP_COUNT`,
default 5, the meaning of Ray's RAY_LOGGING_ROTATE_*): `name.<count-1>` becomes `name.<count>`
(the oldest, `name.<count>`, is dropped), ..., `name` becomes `name.1`, and writing goes on in a
fresh `name`. So the current output is always under the same name (`raylite logs` and the
dashboard find it there) and at most `(count + 1) * limit` bytes are kept per file. A count of 0
keeps no backup: the file starts afresh. `needs_rotation()` and `rotation_moves()` decide;
`rotate_file()` carries the moves out, for `raylite/worker/executor_logs.py` and
`raylite/daemon_util.py: RotatingStderr`.
"""

from __future__ import annotations

import os


def needs_rotation(size: int, incoming: int, limit: int) -> bool:
    """Whether a file of `size` bytes must rotate before `incoming` more (a limit of 0: never;
    an empty file never rotates, so that one write larger than the limit is still kept)."""
    return limit > 0 and size > 0 and size + incoming > limit


def rotation_moves(name: str, backups: int) -> list[tuple[str, str | None]]:
    """The renames that rotate `name`, oldest first: (src, dst), or (src, None) to delete src.
    A missing src is skipped by whoever carries them out."""
    if backups <= 0:
        return [(name, None)]
    moves: list[tuple[str, str | None]] = [(f"{name}.{backups}", None)]
    moves += [(f"{name}.{i}", f"{name}.{i + 1}") for i in range(backups - 1, 0, -1)]
    moves.append((name, f"{name}.1"))
    return moves


def rotate_file(path: str, backups: int) -> None:
    """Carries out rotation_moves() on disk (a backup that does not exist is skipped); the caller
    reopens `path` afterwards."""
    for src, dst in rotation_moves(path, backups):
        try:
            if dst is None:
                os.unlink(src)
            else:
                os.replace(src, dst)
        except FileNotFoundError:
            pass
