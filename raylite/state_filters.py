"""State filters as text (`raylite list --filter`, the dashboard's `?filter=`): shared by both sides."""

from __future__ import annotations


def parse_filter(text: str) -> tuple[str, str, str]:
    """`key=value` or `key!=value` (spaces around the predicate allowed) as (key, predicate, value)."""
    for predicate in ("!=", "="):
        if predicate in text:
            key, value = text.split(predicate, 1)
            key, value = key.strip(), value.strip()
            if key:
                return key, predicate, value
    raise ValueError(f"a filter is KEY=VALUE or KEY!=VALUE, got {text!r}")
