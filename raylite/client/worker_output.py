"""Printing in the driver what its job's tasks and actors printed, as Ray does.

The head forwards each WorkerLogBatch (raylite/head/log_routing.py); each line
is printed with Ray's prefix, `(name pid=N)` for a process on the driver's
own node and `(name pid=N, ip=A)` for one elsewhere, stdout lines on
sys.stdout and stderr lines on sys.stderr. The prefix is cyan, as Ray's,
unless RAYLITE_COLOR_PREFIX=0.

Deduplication follows Ray 2.60's rules (one `Deduplicator` per stream, pure,
time passed in): a line's key is the line without its words that hold digits
(or 0x hex); a key seen from a second (ip, pid) within the window is held back
and counted; when its window (RAYLITE_DEDUP_LOGS_AGG_WINDOW_S, 5 s) is over,
a key held back more than once prints once with "[repeated Nx across
cluster]" and keeps aggregating, a key held back once prints that line.
Lines of one process are never folded among themselves; a line with an empty
key is never folded. RAYLITE_DEDUP_LOGS=0 turns it off;
RAYLITE_DEDUP_LOGS_ALLOW_REGEX lines are never folded and
RAYLITE_DEDUP_LOGS_SKIP_REGEX lines are never printed.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

_NUMBERS = re.compile(r"(\d+|0x[0-9a-fA-F]+)")
_CYAN, _GREEN, _RESET = "\x1b[36m", "\x1b[32m", "\x1b[0m"
_DEDUP_HINT = (
    " (raylite folds identical lines from several workers. Set RAYLITE_DEDUP_LOGS=0 to print every one, "
    "or RAYLITE_DEDUP_LOGS_AGG_WINDOW_S to change the window.)"
)


def dedup_key(line: str) -> str:
    return " ".join(word for word in line.split() if not _NUMBERS.search(word))


@dataclass
class Meta:
    """Who printed a line, as the prefix shows it."""

    name: str
    pid: int
    ip: str

    @property
    def source(self) -> tuple[str, int]:
        return (self.ip, self.pid)


@dataclass
class _Held:
    since: float
    count: int
    line: str
    meta: Meta
    sources: set[tuple[str, int]] = field(default_factory=set)


class Deduplicator:
    """Ray's log deduplication for one stream: lines in, (meta, text) to print out."""

    def __init__(self, window_s: float, allow: str | None = None, skip: str | None = None) -> None:
        self.window_s = window_s
        self.allow = re.compile(allow) if allow else None
        self.skip = re.compile(skip) if skip else None
        self.held: dict[str, _Held] = {}
        self.hinted = False

    def lines(self, meta: Meta, lines: list[str], now: float) -> list[tuple[Meta, str]]:
        out: list[tuple[Meta, str]] = []
        for line in lines:
            if self.allow is not None and self.allow.search(line):
                out.append((meta, line))
                continue
            if self.skip is not None and self.skip.search(line):
                continue
            key = dedup_key(line)
            held = self.held.get(key) if key else None
            if not key:
                out.append((meta, line))
            elif held is None:
                self.held[key] = _Held(now, 0, line, meta, {meta.source})
                out.append((meta, line))
            else:
                held.sources.add(meta.source)
                if len(held.sources) > 1:
                    held.count, held.line, held.meta = held.count + 1, line, meta
                else:
                    out.append((meta, line))
        out.extend(self.aged(now))
        return out

    def aged(self, now: float) -> list[tuple[Meta, str]]:
        """What the keys whose window is over have to say."""
        out: list[tuple[Meta, str]] = []
        for key in [k for k, h in self.held.items() if now - h.since >= self.window_s]:
            held = self.held[key]
            if held.count > 1:
                out.append((held.meta, self._repeated(held)))
                held.since, held.count = now, 0
            else:
                if held.count == 1:
                    out.append((held.meta, held.line))
                del self.held[key]
        return out

    def next_due(self) -> float | None:
        """When aged() next has something to do (an earliest window end), or None."""
        return min((h.since + self.window_s for h in self.held.values()), default=None)

    def flush(self) -> list[tuple[Meta, str]]:
        out = []
        for held in self.held.values():
            if held.count > 1:
                out.append((held.meta, self._repeated(held)))
            elif held.count == 1:
                out.append((held.meta, held.line))
        self.held.clear()
        return out

    def _repeated(self, held: _Held) -> str:
        hint = "" if self.hinted else _DEDUP_HINT
        self.hinted = True
        return f"{held.line}\0 [repeated {held.count}x across cluster]{hint}"


def prefix(meta: Meta, local_ip: str) -> str:
    who = f"{meta.name} pid={meta.pid}" if meta.name else f"pid={meta.pid}"
    return f"({who})" if not meta.ip or meta.ip == local_ip else f"({who}, ip={meta.ip})"


def render(meta: Meta, text: str, local_ip: str, color: bool) -> str:
    """One printed line: the prefix, the line, and any repeat note (marked by \\0 in text)."""
    line, _, note = text.partition("\0")
    if color:
        return f"{_CYAN}{prefix(meta, local_ip)}{_RESET} {line}" + (f"{_GREEN}{note}{_RESET}" if note else "")
    return f"{prefix(meta, local_ip)} {line}{note}"


class WorkerOutput:
    """A driver's printer of its job's output: both streams, deduplicated, prefixed."""

    def __init__(self, local_ip: str, environ: Any = os.environ) -> None:
        self.local_ip = local_ip
        self.color = environ.get("RAYLITE_COLOR_PREFIX", "1") != "0"
        dedup = environ.get("RAYLITE_DEDUP_LOGS", "1") not in ("0", "false", "False")
        window = float(environ.get("RAYLITE_DEDUP_LOGS_AGG_WINDOW_S", "5"))
        allow, skip = environ.get("RAYLITE_DEDUP_LOGS_ALLOW_REGEX"), environ.get("RAYLITE_DEDUP_LOGS_SKIP_REGEX")
        self.dedup: dict[bool, Deduplicator] | None = (
            {False: Deduplicator(window, allow, skip), True: Deduplicator(window, allow, skip)} if dedup else None
        )

    def take(self, batches: Any, now: float) -> None:
        for batch in batches:
            meta = Meta(batch.name, batch.pid, batch.ip)
            lines = list(batch.lines)
            chosen = self.dedup[batch.is_err].lines(meta, lines, now) if self.dedup else [(meta, x) for x in lines]
            self._print(batch.is_err, chosen)

    def tick(self, now: float) -> float | None:
        """Prints what aged out; returns when to call again (None: nothing held)."""
        if self.dedup is None:
            return None
        for is_err, dedup in self.dedup.items():
            self._print(is_err, dedup.aged(now))
        dues = [d for d in (dd.next_due() for dd in self.dedup.values()) if d is not None]
        return min(dues, default=None)

    def flush(self) -> None:
        if self.dedup is not None:
            for is_err, dedup in self.dedup.items():
                self._print(is_err, dedup.flush())

    def _print(self, is_err: bool, chosen: list[tuple[Meta, str]]) -> None:
        if not chosen:
            return
        stream = sys.stderr if is_err else sys.stdout
        text = "".join(render(meta, line, self.local_ip, self.color) + "\n" for meta, line in chosen)
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout: the lines are in the node's log files
            pass
