"""The pure part of the benchmark scripts: rounds, medians, ratios and the tables they print.

scripts/bench.py and scripts/bench_transfer.py run each side (raylite, a baseline raylite tree, Ray) once per
round in a fresh driver, alternating the order from round to round (A B C, C B A, A B C, ...) so that a burst
of load from other work on the machine falls on every side alike. Each round gives one value per metric and
side (within a round a side may take the median of several repeats itself); a row reports, per side, the
median of its rounds with every round's value beside it, so the spread shows, and the ratio of the medians.

Standard library only: the scripts run under Ray's interpreter too.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Value = float | bool


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str
    better: str  # "higher", "lower" or "yes" (for booleans)


@dataclass
class Row:
    key: str
    metric: Metric
    rounds: dict[str, list[Value | None]]  # side -> its value in each round (None: that round gave none)
    medians: dict[str, Value | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInfo:
    """What a pasted table must say about how it was made."""

    command: str
    date: str
    machine: str
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    sides: dict[str, str]  # side -> what it ran (version, source tree)


def round_orders(sides: Sequence[str], rounds: int) -> list[list[str]]:
    """The order of the sides in each round: as given, then reversed, and so on (A B, B A, A B, ...)."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}")
    return [list(sides) if i % 2 == 0 else list(reversed(sides)) for i in range(rounds)]


def median(values: Sequence[Value | None]) -> Value | None:
    """Median of the values a side gave (rounds that gave none are left out); booleans: true if all are."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, bool) for v in present):
        return all(present)
    return float(statistics.median(float(v) for v in present))


def ratio(a: Value | None, b: Value | None) -> float | None:
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool) or b == 0:
        return None
    return a / b


def summarize(metrics: Mapping[str, Metric], results: Mapping[str, Sequence[Mapping[str, Value]]]) -> list[Row]:
    """One row per metric that some side measured: each side's value per round and their median.

    `results` maps a side to its rounds, each a mapping metric key -> value (a round that failed is {}).
    """
    rows = []
    for key, metric in metrics.items():
        per_side = {side: [r.get(key) for r in rounds] for side, rounds in results.items()}
        if all(v is None for values in per_side.values() for v in values):
            continue
        rows.append(Row(key, metric, per_side, {side: median(vs) for side, vs in per_side.items()}))
    return rows


def fmt(v: Value | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if abs(v) >= 1000 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}"


def ratio_text(row: Row, num: str, den: str) -> str:
    """`1.23x` of the medians, and which side it favours (within 5 %: none)."""
    r = ratio(row.medians.get(num), row.medians.get(den))
    if r is None:
        return "-"
    if abs(r - 1) < 0.05 or row.metric.better not in ("higher", "lower"):
        return f"{r:.2f}x"
    wins = r > 1 if row.metric.better == "higher" else r < 1
    return f"{r:.2f}x {num if wins else den}"


def cell(row: Row, side: str) -> str:
    """The median, then every round's value: `1,234 (1,200 / 1,250 / 1,300)`."""
    values = row.rounds.get(side, [])
    med = fmt(row.medians.get(side))
    return med if len(values) <= 1 else f"{med} ({' / '.join(fmt(v) for v in values)})"


def _columns(rows: list[Row], sides: Sequence[str], ratios: Sequence[tuple[str, str]]) -> list[list[str]]:
    header = ["workload", "unit", "better", *sides, *(f"{a}/{b}" for a, b in ratios)]
    body = [
        [
            r.metric.label,
            r.metric.unit,
            r.metric.better,
            *(cell(r, s) for s in sides),
            *(ratio_text(r, a, b) for a, b in ratios),
        ]
        for r in rows
    ]
    return [header, *body]


def text_table(rows: list[Row], sides: Sequence[str], ratios: Sequence[tuple[str, str]]) -> str:
    table = _columns(rows, sides, ratios)
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    out = []
    for j, line in enumerate(table):
        out.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        )
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(
    rows: list[Row], sides: Sequence[str], ratios: Sequence[tuple[str, str]], info: RunInfo, rounds: int
) -> str:
    """A table to paste into docs/performance.md, headed by the command, the date, the machine and its load."""
    load = "/".join(f"{x:.1f}" for x in info.load_start), "/".join(f"{x:.1f}" for x in info.load_end)
    lines = [
        f"`{info.command}`, {info.date}, {info.machine}; load average (1/5/15 min) {load[0]} at the start, "
        f"{load[1]} at the end. Each cell: the median of {rounds} alternated rounds, each round's value in brackets.",
        "",
        *(f"- {side}: {what}" for side, what in info.sides.items()),
        "",
    ]
    table = _columns(rows, sides, ratios)
    lines.append("| " + " | ".join(table[0]) + " |")
    lines.append("|" + "|".join("---" if i < 3 else "---:" for i in range(len(table[0]))) + "|")
    lines += ["| " + " | ".join(line) + " |" for line in table[1:]]
    return "\n".join(lines)


def machine() -> str:
    """`2 cores (Intel Xeon ...), 23 GiB, Linux 6.18, Python 3.11.7`, from what this host says of itself."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
        mem = f", {kib / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    cpu = f"{os.cpu_count()} cores" + (f" ({model})" if model else "")
    return f"{cpu}{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)
