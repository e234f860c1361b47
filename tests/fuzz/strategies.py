"""Hypothesis strategies that build any protobuf message from its descriptor.

`messages(cls, hints)` walks the message's fields: scalars of every type
(with the extremes: NaN and infinities, the ends of integer ranges, unknown
enum numbers), nested messages, repeated fields and maps. `hints` may offer a
better strategy for a field by name (ids that the servicers know, addresses
that do not need DNS); hinted fields still draw arbitrary values now and then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

F = FieldDescriptor

_INT_RANGES = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1),
    F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
}

Hints = Mapping[str, st.SearchStrategy[Any]]


def mostly(good: st.SearchStrategy[Any], other: st.SearchStrategy[Any], one_in: int = 8) -> st.SearchStrategy[Any]:
    """good, except one draw in `one_in` comes from other."""
    return st.integers(0, one_in - 1).flatmap(lambda i: other if i == 0 else good)


def scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    """Any value the field's type can hold, biased towards small ones."""
    t = field.type
    if t in _INT_RANGES:
        lo, hi = _INT_RANGES[t]
        return mostly(st.integers(max(lo, -2), 4), st.sampled_from([lo, hi]) | st.integers(lo, hi), one_in=4)
    if t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        small = st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0])
        return mostly(small, st.floats(allow_nan=True, allow_infinity=True, width=64 if t == F.TYPE_DOUBLE else 32), 3)
    if t == F.TYPE_BOOL:
        return st.booleans()
    if t == F.TYPE_STRING:
        return st.text(max_size=16)
    if t == F.TYPE_BYTES:
        return st.binary(max_size=24)
    if t == F.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return mostly(st.sampled_from(known), st.integers(-(2**31), 2**31 - 1), one_in=6)
    raise TypeError(f"no strategy for field {field.full_name} of type {t}")


def messages(
    target: type[Message] | Descriptor, hints: Hints | None = None, depth: int = 3
) -> st.SearchStrategy[Message]:
    """Messages of target's type with any subset of fields set, to any values."""
    descriptor = target if isinstance(target, Descriptor) else target.DESCRIPTOR
    hints = hints or {}
    key = (descriptor.full_name, depth, id(hints))
    cached = _CACHE.get(key)
    if cached is not None:
        return cached[0]
    cls = message_factory.GetMessageClass(descriptor)
    fields = [
        (field, _field_values(field, hints, depth))
        for field in descriptor.fields
        if field.type != F.TYPE_MESSAGE or depth > 0
    ]

    @st.composite
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Message:
        msg = cls()
        for field, values in fields:
            if draw(_PRESENT):
                _set(msg, field, draw(values))
        return msg

    strategy = build()
    _CACHE[key] = (strategy, hints)  # hints kept alive so that their id stays theirs
    return strategy


_CACHE: dict[tuple[str, int, int], Any] = {}
_PRESENT = st.integers(0, 2).map(lambda n: n == 0)  # a field is set one time in three


def _value(field: FieldDescriptor, hints: Hints, depth: int) -> st.SearchStrategy[Any]:
    if field.type == F.TYPE_MESSAGE:
        return messages(field.message_type, hints, depth - 1)
    base = scalar(field)
    hint = hints.get(f"{field.containing_type.name}.{field.name}", hints.get(field.name))
    return mostly(hint, base, one_in=8) if hint is not None else base


def _field_values(field: FieldDescriptor, hints: Hints, depth: int) -> st.SearchStrategy[Any]:
    """What one field is set to: a value, a list of them, or a dict for a map."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key_field = field.message_type.fields_by_name["key"]
        value_field = field.message_type.fields_by_name["value"]
        keys = hints.get(f"{field.name}.key", scalar(key_field))
        return st.dictionaries(keys, _value(value_field, hints, depth), max_size=3)
    if field.is_repeated:
        return st.lists(_value(field, hints, depth), max_size=3)
    return _value(field, hints, depth)


def _set(msg: Message, field: FieldDescriptor, value: Any) -> None:
    target = getattr(msg, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_is_message = field.message_type.fields_by_name["value"].type == F.TYPE_MESSAGE
        for key, item in value.items():
            if value_is_message:
                target[key].CopyFrom(item)
            else:
                target[key] = item
    elif field.is_repeated:
        if field.type == F.TYPE_MESSAGE:
            for item in value:
                target.add().CopyFrom(item)
        else:
            target.extend(value)
    elif field.type == F.TYPE_MESSAGE:
        target.CopyFrom(value)
    else:
        setattr(msg, field.name, value)
