"""Node labels and the conditions tasks put on them (Ray's node labels).

A node has labels, string to string: those given to `raylite start --labels
"k=v,k2=v2"` (or `--labels-file`, or `init(labels=...)` for a local cluster),
plus `ray.io/node-id`, its id in hex, which the head adds. A task or actor
names conditions on them in two ways, as Ray's API does:

- `NodeLabelSchedulingStrategy(hard={...}, soft={...})` with the operators
  `In`, `NotIn`, `Exists`, `DoesNotExist` (raylite/util/scheduling_strategies.py);
- the `label_selector={"key": "value"}` option, whose values read
  "v" (equals), "!v" (differs or missing), "in(a,b)" and "!in(a,b)".

Both become `Match`es: (key, op, values). Only nodes that satisfy every hard
one may run the work; among those, nodes that satisfy every soft one are
preferred. Pure functions, shared by the client (checking and translating
what the user wrote) and the head (raylite/head/state/scheduler.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

IN, NOT_IN, EXISTS, DOES_NOT_EXIST = "in", "not_in", "exists", "does_not_exist"
OPS = (IN, NOT_IN, EXISTS, DOES_NOT_EXIST)
NODE_ID = "ray.io/node-id"

Match = tuple[str, str, tuple[str, ...]]  # (key, op, values): values only for in / not_in


def holds(labels: Mapping[str, str], match: Match) -> bool:
    key, op, values = match
    if op == IN:
        return key in labels and labels[key] in values
    if op == NOT_IN:
        return key not in labels or labels[key] not in values
    if op == EXISTS:
        return key in labels
    return key not in labels  # DOES_NOT_EXIST


def satisfies(labels: Mapping[str, str], matches: Iterable[Match]) -> bool:
    return all(holds(labels, m) for m in matches)


def to_wire(field: Any, matches: Iterable[Match]) -> None:
    """Appends matches to a repeated LabelMatch field of a message (common.proto)."""
    for key, op, values in matches:
        field.add(key=key, op=op, values=values)


def from_wire(field: Iterable[Any]) -> tuple[Match, ...]:
    """A repeated LabelMatch field as matches."""
    return tuple((m.key, m.op, tuple(m.values)) for m in field)


def describe(matches: Iterable[Match]) -> str:
    """The conditions as a person reads them: `region in (us, eu), gpu exists`."""
    parts = []
    for key, op, values in matches:
        if op in (IN, NOT_IN):
            word = "in" if op == IN else "not in"
            parts.append(f"{key} {word} ({', '.join(values)})")
        else:
            parts.append(f"{key} {'exists' if op == EXISTS else 'does not exist'}")
    return ", ".join(parts)


def parse_selector(selector: Mapping[str, str]) -> list[Match]:
    """The label_selector option's {key: "v" | "!v" | "in(a,b)" | "!in(a,b)"} as matches."""
    if not isinstance(selector, Mapping):
        raise TypeError(
            f'label_selector must be a dict of label name to value, e.g. {{"region": "us"}}, not {selector!r}'
        )
    out: list[Match] = []
    for key, value in selector.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"label_selector: a label name must be a non-empty string, got {key!r}")
        if not isinstance(value, str):
            raise ValueError(f"label_selector[{key!r}]: the value must be a string such as 'v', '!v' or 'in(a,b)'")
        negated = value.startswith("!")
        body = value[1:] if negated else value
        if body.startswith("in(") and body.endswith(")"):
            values = tuple(v.strip() for v in body[3:-1].split(",") if v.strip())
            if not values:
                raise ValueError(f"label_selector[{key!r}]: {value!r} lists no value inside in(...)")
        else:
            values = (body,)
        out.append((key, NOT_IN if negated else IN, values))
    return out


def parse_labels_arg(text: str) -> dict[str, str]:
    """`raylite start --labels "k=v,k2=v2"` as a dict; ValueError naming the bad part."""
    labels: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f'--labels: {part!r} is not key=value (write --labels "key1=val1,key2=val2")')
        labels[key.strip()] = value.strip()
    return labels


def parse_labels_file(text: str) -> dict[str, str]:
    """A --labels-file: a flat YAML map, one `key: value` per line (# comments, quotes allowed)."""
    labels: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise ValueError(f"--labels-file line {number}: {line!r} is not `key: value`")
        labels[_unquote(key.strip())] = _unquote(value.strip())
    return labels


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def check_labels(labels: object, where: str) -> dict[str, str]:
    """A node's labels as given by a user: a dict of strings to strings."""
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise TypeError(f"{where}: labels must be a dict of str to str, e.g. {{'region': 'us'}}, not {labels!r}")
    for key, value in labels.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise TypeError(f"{where}: label {key!r}: {value!r}: names and values are strings (names non-empty)")
    return dict(labels)
