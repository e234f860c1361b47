"""User metrics with Ray's API (ray.util.metrics): Counter, Gauge and Histogram.

Usable in the driver, in tasks and in actors. Each process records into its
own buffer (raylite/client/metrics_buffer.py), which its client reports to
the head in batches; the head adds counters and histograms up across
processes, keeps the last value set of a gauge, and serves them all on the
dashboard's /metrics, named `raylite_<name>` (Ray's are `ray_<name>`).

Validation follows Ray 2.60: an empty name raises ValueError; a name that is
not a valid Prometheus name warns and the metric records nothing; tag_keys
must be a tuple of str; every tag key needs a value (from the call or the
default tags); tag values must be str; a counter only goes up (value > 0);
a histogram needs positive boundaries.
"""

from __future__ import annotations

import warnings
from typing import Any

from raylite import metrics_wire as mw
from raylite.client import context
from raylite.client.metrics_buffer import BUFFER, Tags

__all__ = ["Counter", "Gauge", "Histogram"]


def _invalid_name(name: str) -> bool:
    if len(name) == 0:
        raise ValueError("Empty name is not allowed. Please provide a metric name.")
    if not mw.NAME_RE.match(name):
        warnings.warn(
            f"Invalid metric name: {name}. The metric records nothing and is not exported. "
            "Metric names can only contain letters, numbers, _, and :, and cannot start with a number.",
            UserWarning,
            stacklevel=4,
        )
        return True
    return False


class Metric:
    """What Counter, Gauge and Histogram share: a name, a description and tags."""

    _kind = 0

    def __init__(self, name: str, description: str = "", tag_keys: tuple[str, ...] | None = None) -> None:
        self._discard_metric = _invalid_name(name)
        self._name = name
        self._description = description
        self._default_tags: dict[str, str] = {}
        self._tag_keys = tag_keys or tuple()
        if not isinstance(self._tag_keys, tuple):
            raise TypeError(f"tag_keys should be a tuple type, got: {type(self._tag_keys)}")
        for key in self._tag_keys:
            if not isinstance(key, str):
                raise TypeError(f"Tag keys must be str, got {type(key)}.")
            if not key or len(key) > mw.MAX_NAME:
                raise ValueError(f"Tag keys must be 1 to {mw.MAX_NAME} characters long, got {key!r}.")
        if len(set(self._tag_keys)) > mw.MAX_TAGS:
            raise ValueError(f"A metric has at most {mw.MAX_TAGS} tag keys, got {len(self._tag_keys)}.")

    def set_default_tags(self, default_tags: dict[str, str]) -> Metric:
        """Tags every record carries unless it names them itself; returns the metric."""
        for key, value in default_tags.items():
            if key not in self._tag_keys:
                raise ValueError(f"Unrecognized tag key {key}.")
            if not isinstance(value, str):
                raise TypeError(f"Tag values must be str, got {type(value)}.")
        self._default_tags = dict(default_tags)
        return self

    @property
    def info(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "description": self._description,
            "tag_keys": self._tag_keys,
            "default_tags": self._default_tags,
        }

    def _final_tags(self, tags: dict[str, str] | None) -> Tags:
        """The record's tags (the call's over the defaults), as the buffer keys them. Tags the
        metric does not declare are ignored, as Ray exports only the declared ones."""
        merged = self._default_tags
        if tags:
            for value in tags.values():
                if not isinstance(value, str):
                    raise TypeError(f"Tag values must be str, got {type(value)}.")
            merged = {**self._default_tags, **tags}
        missing = [key for key in self._tag_keys if key not in merged]
        if missing:
            raise ValueError(f"Missing value for tag key(s): {','.join(missing)}.")
        return tuple(sorted((key, merged[key][: mw.MAX_TAG_VALUE]) for key in dict.fromkeys(self._tag_keys)))

    def _ready(self) -> bool:
        """Whether records count; makes an executor's client the first time one does, so the
        values leave with the task's result."""
        if self._discard_metric:
            return False
        if context.peek() is None and context.is_initialized():
            try:
                context.current()
            except Exception:  # noqa: BLE001 - the values wait in the buffer for a client
                pass
        return True


def _check_number(value: Any) -> None:
    if not isinstance(value, (int, float)):
        raise TypeError(f"value must be int or float, got {type(value)}.")


class Counter(Metric):
    """A value that only goes up (Prometheus' counter), exported as `raylite_<name>_total`."""

    _kind = mw.COUNTER

    def __init__(self, name: str, description: str = "", tag_keys: tuple[str, ...] | None = None) -> None:
        super().__init__(name, description, tag_keys)
        if not self._discard_metric:
            BUFFER.define(name, self._kind, description)

    def __reduce__(self) -> Any:
        return Counter, (self._name, self._description, self._tag_keys)

    def inc(self, value: int | float = 1.0, tags: dict[str, str] | None = None) -> None:
        """Adds `value` (> 0)."""
        _check_number(value)
        if value <= 0:
            raise ValueError(f"value must be >0, got {value}")
        final = self._final_tags(tags)
        if self._ready():
            BUFFER.inc(self._name, final, float(value))


class Gauge(Metric):
    """A value that goes up and down; the last one set counts (Prometheus' gauge)."""

    _kind = mw.GAUGE

    def __init__(self, name: str, description: str = "", tag_keys: tuple[str, ...] | None = None) -> None:
        super().__init__(name, description, tag_keys)
        if not self._discard_metric:
            BUFFER.define(name, self._kind, description)

    def __reduce__(self) -> Any:
        return Gauge, (self._name, self._description, self._tag_keys)

    def set(self, value: int | float | None, tags: dict[str, str] | None = None) -> None:
        """Sets the gauge to `value`; None does nothing."""
        if value is None:
            return
        _check_number(value)
        final = self._final_tags(tags)
        if self._ready():
            BUFFER.set(self._name, final, float(value))


class Histogram(Metric):
    """Observations counted in buckets by upper bound (Prometheus' histogram)."""

    _kind = mw.HISTOGRAM

    def __init__(
        self,
        name: str,
        description: str = "",
        boundaries: list[float] | None = None,
        tag_keys: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, description, tag_keys)
        if boundaries is None or len(boundaries) == 0:
            raise ValueError(
                "boundaries argument should be provided when using the Histogram class. "
                'e.g., Histogram("name", boundaries=[1.0, 2.0])'
            )
        for i, boundary in enumerate(boundaries):
            if boundary <= 0:
                raise ValueError(
                    f"Invalid `boundaries` argument at index {i}, {boundaries}. Use positive values for the arguments."
                )
        self.boundaries = boundaries
        if not self._discard_metric:
            BUFFER.define(name, self._kind, description, [float(b) for b in boundaries])

    def __reduce__(self) -> Any:
        return Histogram, (self._name, self._description, self.boundaries, self._tag_keys)

    @property
    def info(self) -> dict[str, Any]:
        return {**super().info, "boundaries": self.boundaries}

    def observe(self, value: int | float, tags: dict[str, str] | None = None) -> None:
        """Counts `value` in its bucket."""
        _check_number(value)
        final = self._final_tags(tags)
        if self._ready():
            BUFFER.observe(self._name, final, float(value))
