"""inspect_serializability: why a value cannot be sent to the cluster, as ray.util's.

raylite pickles task arguments, results and function bodies with cloudpickle.
When that fails, this walks into the value to find the parts that fail on
their own: a function's closure variables and the globals it uses, an
object's attributes, the items of lists, tuples, sets and dicts. A part
that fails while none of its own parts does is reported as a failure (the
culprit); the walk stops at `depth` levels. It prints the walk as an
indented tree and returns (serializable, failures).
"""

from __future__ import annotations

import inspect
import sys
from types import MappingProxyType
from typing import Any, TextIO

import cloudpickle


class FailureTuple:
    """One part that cannot be pickled: the object, the names leading to it from
    the inspected value (path, a tuple), and the object holding it (parent)."""

    def __init__(self, obj: Any, path: tuple[str, ...], parent: Any) -> None:
        self.obj = obj
        self.path = path
        self.parent = parent

    @property
    def name(self) -> str:
        return self.path[-1] if self.path else "unknown"

    def __hash__(self) -> int:
        return hash((self.path, id(self.obj)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FailureTuple) and (self.path, id(self.obj)) == (other.path, id(other.obj))

    def __repr__(self) -> str:
        return f"FailTuple({self.name} [path={' -> '.join(self.path)}, obj={self.obj}, parent={self.parent}])"


FailTuple = FailureTuple  # the name older Ray versions gave it


def _pickle_error(obj: Any) -> str | None:
    try:
        cloudpickle.dumps(obj)
    except Exception as exc:  # noqa: BLE001 - any failure to pickle is what we report
        return f"{type(exc).__name__}: {exc}"
    return None


def _short(obj: Any, limit: int = 80) -> str:
    try:
        text = repr(obj)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not stop the inspection
        text = f"<{type(obj).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parts(obj: Any) -> tuple[str, list[tuple[str, Any]]]:
    """What obj is made of, as (what those parts are, [(name, part)])."""
    if inspect.isfunction(obj):
        try:
            closure = inspect.getclosurevars(obj)
        except (TypeError, ValueError):
            return "", []
        return "closure variables and globals", [*closure.nonlocals.items(), *closure.globals.items()]
    if isinstance(obj, dict):
        return "items", [(f"[{k!r}]", v) for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return "items", [(f"[{i}]", v) for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        return "items", [(f"<item {i}>", v) for i, v in enumerate(obj)]
    if inspect.ismethod(obj):
        return "bound object", [("__self__", obj.__self__), ("__func__", obj.__func__)]
    attributes = getattr(obj, "__dict__", None)
    if isinstance(attributes, (dict, MappingProxyType)):
        if inspect.isclass(obj):
            members = [(k, v) for k, v in attributes.items() if not (k.startswith("__") and k.endswith("__"))]
            return "class members", members
        return "attributes", list(attributes.items())
    return "", []


class _Inspector:
    def __init__(self, depth: int, out: TextIO) -> None:
        self.depth = depth
        self.out = out
        self.failures: set[FailureTuple] = set()
        self._seen: set[int] = set()

    def say(self, level: int, text: str) -> None:
        print("    " * level + text, file=self.out)

    def inspect(self, obj: Any, name: str, parent: Any, path: tuple[str, ...], nesting: int) -> bool:
        """Whether obj pickles; records the culprits below it when it does not."""
        error = _pickle_error(obj)
        if error is None:
            return True
        level = 2 * nesting  # indentation: a part's line, then its parts' header, then theirs
        shown = name if name == _short(obj) else f"{name}: {_short(obj)}"
        self.say(level, f"FAIL  {shown}  ({error})")
        found_below = False
        if nesting < self.depth and id(obj) not in self._seen:
            self._seen.add(id(obj))
            kind, parts = _parts(obj)
            if parts:
                self.say(level + 1, f"checking its {len(parts)} {kind}")
            for part_name, part in parts:
                if not self.inspect(part, part_name, obj, (*path, part_name), nesting + 1):
                    found_below = True
        if not found_below:
            self.failures.add(FailureTuple(obj, path, parent))
            if nesting:
                self.say(level + 1, f"^ {name} itself cannot be pickled")
        return False


def inspect_serializability(
    base_obj: Any, name: str | None = None, depth: int = 3, print_file: TextIO | None = None
) -> tuple[bool, set[FailureTuple]]:
    """Whether base_obj can be sent to the cluster, and if not which parts of it cannot.

    Prints the parts it tried as a tree (to print_file, default stdout) and
    returns (True, set()) or (False, {FailureTuple(obj, path, parent), ...}).
    """
    out = print_file if print_file is not None else sys.stdout
    label = name if name is not None else _short(base_obj)
    title = f"Can {label} be serialized?"
    print("=" * len(title), file=out)
    print(title, file=out)
    print("=" * len(title), file=out)
    inspector = _Inspector(depth, out)
    ok = inspector.inspect(base_obj, label, None, (name,) if name is not None else (), 0)
    if ok:
        print(f"yes: {label} pickles", file=out)
        return True, set()
    print("-" * len(title), file=out)
    print(f"no: {len(inspector.failures)} part(s) cannot be pickled:", file=out)
    for failure in sorted(inspector.failures, key=lambda f: f.path):
        print(f"    {' -> '.join(failure.path) or label}: {_short(failure.obj)}", file=out)
    print(
        "Make these parts picklable, leave them out of what the task or actor receives, "
        "or create them inside the task or actor instead.",
        file=out,
    )
    return False, inspector.failures
