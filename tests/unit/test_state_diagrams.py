"""The state diagrams in docs/architecture.md are the ones the transition tables draw today."""

from __future__ import annotations

from pathlib import Path

import pytest

from raylite.head.state import diagrams
from raylite.head.state.states import ACTOR_TRANSITIONS, TASK_TRANSITIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_the_architecture_document_holds_todays_diagrams() -> None:
    text = DOC.read_text()
    assert diagrams.refreshed(text) == text, "run: python -m raylite.head.state.diagrams --write docs/architecture.md"


def test_every_legal_move_is_drawn_once() -> None:
    drawn = diagrams.diagrams()
    for table in (TASK_TRANSITIONS, ACTOR_TRANSITIONS):
        for old, moves in table.items():
            for new in moves:
                assert drawn.count(f"    {old.value} --> {new.value}: ") == 1, (old, new)


def test_labels_keep_mermaid_syntax_out() -> None:
    assert diagrams._label("a: b; c -- d") == "a, b, c - d"


def test_a_file_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="markers are missing"):
        diagrams.refreshed("# no markers here\n")
