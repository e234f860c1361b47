"""What executors print, cut into lines and attributed, on its way to the drivers.

Theory of operation. An executor's stdout and stderr are pipes its worker
daemon reads (raylite/worker/executor_logs.py). Whenever the executor starts
a normal task or becomes an actor it writes a marker line on both pipes
(`marker()`): the job, the task, the actor and the name the driver shows in
its prefix. Every line after a marker belongs to what the marker names, until
the next marker; lines before any marker (the executor's own start-up) belong
to no job and stay in the node's log files only.

`LineSplitter` turns the bytes of one pipe into lines and attributions, and
cuts a line that grows past MAX_LINE_BYTES without a newline (a progress bar
redrawn with \\r) so that nothing is held without bound. `Pending` keeps the
lines waiting for the next batch to the head, grouped by source; when it holds
MAX_PENDING_LINES it drops further lines and counts them, and the next batch
carries a line saying how many were lost instead of stalling the executor or
growing the daemon's memory. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MARKER = b"\x1eraylite-log "  # starts a marker line; \x1e (record separator) does not occur in text
MAX_LINE_BYTES = 16 * 1024
MAX_PENDING_LINES = 50_000
MAX_PENDING_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Source:
    """Who printed a line: what the latest marker on that pipe named."""

    job_id: bytes = b""
    task_id: bytes = b""
    actor_id: bytes = b""
    name: str = ""


NO_SOURCE = Source()


def marker(source: Source) -> bytes:
    """The marker line an executor writes when source starts printing on its pipes."""
    name = source.name.replace("\n", " ").replace("\r", " ")
    ids = " ".join((source.job_id.hex() or "-", source.task_id.hex() or "-", source.actor_id.hex() or "-"))
    return MARKER + ids.encode() + b" " + name.encode(errors="replace") + b"\n"


def parse_marker(line: bytes) -> Source | None:
    """The source a marker line names; None when the line is not a well-formed marker."""
    if not line.startswith(MARKER):
        return None
    parts = line[len(MARKER) :].rstrip(b"\r\n").split(b" ", 3)
    if len(parts) != 4:
        return None
    try:
        job, task, actor = (b"" if p == b"-" else bytes.fromhex(p.decode()) for p in parts[:3])
    except ValueError:
        return None
    return Source(job, task, actor, parts[3].decode(errors="replace"))


class LineSplitter:
    """One pipe's bytes -> (source, line) pairs, markers applied and left out.

    A marker is only parsed when a line follows it: an executor writes one per
    task, and most tasks print nothing, so most markers are overtaken by the
    next before anything needs them. The raw markers since the last line wait
    in `_markers` (a few at most); the newest well-formed one is the source, as
    if each had been applied in turn.
    """

    MAX_HELD_MARKERS = 16  # past this many, the held markers are resolved (their memory stays bounded)

    def __init__(self) -> None:
        self.partial = b""
        self._source = NO_SOURCE
        self._markers: list[bytes] = []

    @property
    def source(self) -> Source:
        """What the markers so far name (NO_SOURCE before the first well-formed one)."""
        if self._markers:
            self._resolve()
        return self._source

    def feed(self, data: bytes) -> list[tuple[Source, str]]:
        out: list[tuple[Source, str]] = []
        if not self.partial and data.startswith(MARKER) and data.find(b"\n") == len(data) - 1:
            self._hold(data[:-1])  # the usual chunk: one task's marker alone
            return out
        chunks = (self.partial + data).split(b"\n")
        self.partial = chunks.pop()
        for raw in chunks:
            self._line(raw, out)
        while len(self.partial) > MAX_LINE_BYTES:
            cut, self.partial = self.partial[:MAX_LINE_BYTES], self.partial[MAX_LINE_BYTES:]
            self._line(cut, out)
        return out

    def close(self) -> list[tuple[Source, str]]:
        """What is left when the pipe ends: a last line without its newline."""
        out: list[tuple[Source, str]] = []
        if self.partial:
            self._line(self.partial, out)
            self.partial = b""
        return out

    def _line(self, raw: bytes, out: list[tuple[Source, str]]) -> None:
        if raw.startswith(MARKER):
            self._hold(raw)
            return
        out.append((self.source, raw.rstrip(b"\r").decode(errors="replace")))

    def _hold(self, raw: bytes) -> None:
        self._markers.append(raw)
        if len(self._markers) >= self.MAX_HELD_MARKERS:
            self._resolve()

    def _resolve(self) -> None:
        """The newest well-formed held marker wins; malformed ones change nothing."""
        for raw in reversed(self._markers):
            parsed = parse_marker(raw)
            if parsed is not None:
                self._source = parsed
                break
        self._markers.clear()


@dataclass
class Group:
    """Lines of one source on one stream of one executor, in order."""

    pid: int
    is_err: bool
    source: Source
    lines: list[str] = field(default_factory=list)
    dropped: int = 0


class Pending:
    """Lines waiting for the next batch to the head, bounded."""

    def __init__(self, max_lines: int = MAX_PENDING_LINES, max_bytes: int = MAX_PENDING_BYTES) -> None:
        self.max_lines, self.max_bytes = max_lines, max_bytes
        self.groups: list[Group] = []
        self.lines = 0
        self.bytes = 0
        self.dropped_total = 0

    def add(self, pid: int, is_err: bool, source: Source, line: str) -> bool:
        """Keeps a line for the drivers; False when it was dropped (full, or no job to send it to)."""
        if not source.job_id:
            return False
        last = self.groups[-1] if self.groups else None
        if last is None or (last.pid, last.is_err, last.source) != (pid, is_err, source):
            last = Group(pid, is_err, source)
            self.groups.append(last)
        if self.lines >= self.max_lines or self.bytes + len(line) > self.max_bytes:
            last.dropped += 1
            self.dropped_total += 1
            return False
        last.lines.append(line)
        self.lines += 1
        self.bytes += len(line)
        return True

    def take(self) -> list[Group]:
        """Every group, a notice of its dropped lines last; empties the buffer."""
        groups, self.groups = self.groups, []
        self.lines = self.bytes = 0
        for group in groups:
            if group.dropped:
                group.lines.append(
                    f"[raylite: {group.dropped} lines dropped: printed faster than they could be forwarded; "
                    "all are in the node's log file]"
                )
        return [g for g in groups if g.lines]


class MarkerFilter:
    """Keeps the lines of a log file that one task or actor printed (none set: every line), markers left out.

    Fed whole lines, in file order; it remembers which source the last marker
    named, so a file can be read in pieces (a followed file)."""

    def __init__(self, task_id: bytes = b"", actor_id: bytes = b"") -> None:
        self.task_id, self.actor_id = task_id, actor_id
        self.keeping = not (task_id or actor_id)
        self.matched = self.keeping  # a marker of the wanted source was seen

    def feed(self, data: bytes) -> bytes:
        if MARKER not in data and self.keeping:
            return data
        kept = []
        for line in data.splitlines(keepends=True):
            if line.startswith(MARKER):
                source = parse_marker(line)
                if source is not None and (self.task_id or self.actor_id):
                    self.keeping = (self.task_id and source.task_id == self.task_id) or (
                        bool(self.actor_id) and source.actor_id == self.actor_id
                    )
                    self.matched = self.matched or self.keeping
                continue
            if self.keeping:
                kept.append(line)
        return b"".join(kept)


def safe_file_name(name: str) -> str | None:
    """Why name cannot be a file of a log folder (a path out of it), or None."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or len(name) > 255:
        return f"{name!r} is not the name of a file in the log folder (no paths: list them with `raylite logs`)"
    return None
