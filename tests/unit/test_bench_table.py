"""The pure part of the benchmark scripts (scripts/bench_table.py): round order, medians, ratios, tables."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import bench_table  # noqa: E402
from bench_table import Metric  # noqa: E402

METRICS = {
    "tasks": Metric("tasks submit-then-gather", "tasks/s", "higher"),
    "lat": Metric("latency", "ms", "lower"),
    "shm": Metric("get is a shm view", "bool", "yes"),
    "never": Metric("measured by nobody", "s", "lower"),
}
INFO = bench_table.RunInfo(
    "python scripts/bench.py --compare --rounds 3",
    "2026-12-02 15:00 UTC",
    "2 cores",
    (1.0, 2.0, 3.0),
    (4.0, 5.0, 6.0),
    {"raylite": "0.1.0, /work/x at abc1234", "ray": "2.60.0"},
)


def test_rounds_alternate_the_order_of_the_sides() -> None:
    assert bench_table.round_orders(["raylite", "ray"], 4) == [
        ["raylite", "ray"],
        ["ray", "raylite"],
        ["raylite", "ray"],
        ["ray", "raylite"],
    ]
    assert bench_table.round_orders(["a", "b", "c"], 2) == [["a", "b", "c"], ["c", "b", "a"]]
    with pytest.raises(ValueError, match="at least 1"):
        bench_table.round_orders(["a"], 0)


def test_median_leaves_out_rounds_without_a_value_and_booleans_need_all() -> None:
    assert bench_table.median([3.0, None, 1.0, 2.0]) == 2.0
    assert bench_table.median([1.0, 4.0]) == 2.5
    assert bench_table.median([None, None]) is None
    assert bench_table.median([True, True]) is True
    assert bench_table.median([True, False, None]) is False


def test_summarize_gives_each_side_its_rounds_and_their_median() -> None:
    results = {
        "raylite": [{"tasks": 100.0, "lat": 3.0, "shm": True}, {"tasks": 300.0, "lat": 1.0, "shm": True}, {}],
        "ray": [{"tasks": 50.0, "lat": 2.0}, {"tasks": 150.0, "lat": 2.0}, {"tasks": 100.0, "lat": 2.0}],
    }
    rows = {r.key: r for r in bench_table.summarize(METRICS, results)}
    assert set(rows) == {"tasks", "lat", "shm"}  # nobody measured "never"
    assert rows["tasks"].rounds["raylite"] == [100.0, 300.0, None]
    assert rows["tasks"].medians == {"raylite": 200.0, "ray": 100.0}
    assert rows["shm"].medians == {"raylite": True, "ray": None}
    assert bench_table.ratio_text(rows["tasks"], "raylite", "ray") == "2.00x raylite"
    assert bench_table.ratio_text(rows["lat"], "raylite", "ray") == "1.00x"  # within 5 %: nobody wins
    assert bench_table.ratio_text(rows["shm"], "raylite", "ray") == "-"


def test_ratio_names_the_winner_by_the_direction_that_is_better() -> None:
    slower = bench_table.summarize(METRICS, {"a": [{"lat": 3.0}], "b": [{"lat": 2.0}]})[0]
    assert bench_table.ratio_text(slower, "a", "b") == "1.50x b"  # lower is better: b wins
    assert bench_table.ratio(1.0, 0.0) is None
    assert bench_table.ratio(True, 1.0) is None


def test_tables_show_every_round_and_the_markdown_says_how_it_was_made() -> None:
    results = {"raylite": [{"tasks": 1500.0}, {"tasks": 1200.0}], "ray": [{"tasks": 1000.0}, {"tasks": 1000.0}]}
    rows = bench_table.summarize(METRICS, results)
    text = bench_table.text_table(rows, ["raylite", "ray"], [("raylite", "ray")])
    assert "1,350 (1,500 / 1,200)" in text and "1.35x raylite" in text
    md = bench_table.markdown_table(rows, ["raylite", "ray"], [("raylite", "ray")], INFO, 2)
    lines = md.splitlines()
    assert lines[0].startswith("`python scripts/bench.py --compare --rounds 3`, 2026-12-02 15:00 UTC, 2 cores")
    assert "1.0/2.0/3.0 at the start, 4.0/5.0/6.0 at the end" in lines[0]
    assert "- ray: 2.60.0" in lines
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| workload | unit | better | raylite | ray | raylite/ray |"
    assert table[1] == "|---|---|---|---:|---:|---:|"
    assert (
        table[2]
        == "| tasks submit-then-gather | tasks/s | higher | 1,350 (1,500 / 1,200) | 1,000 (1,000 / 1,000) | 1.35x raylite |"
    )


def test_one_round_shows_no_brackets_and_values_are_formatted_by_size() -> None:
    row = bench_table.summarize(METRICS, {"raylite": [{"tasks": 12.345}]})[0]
    assert bench_table.cell(row, "raylite") == "12.3"
    assert [bench_table.fmt(v) for v in (None, True, 0.1234, 2.0, 12345.6)] == ["-", "yes", "0.123", "2", "12,346"]
