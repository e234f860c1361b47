"""Resource arithmetic: requests and capacities as {name: amount} dicts."""

from __future__ import annotations

import math
from collections.abc import Mapping

EPS = 1e-9

Resources = dict[str, float]


def fits(request: Mapping[str, float], available: Mapping[str, float]) -> bool:
    """True when every amount in request is available."""
    for name, amount in request.items():
        if amount > EPS and available.get(name, 0.0) + EPS < amount:
            return False
    return True


def subtract(available: dict[str, float], request: Mapping[str, float]) -> None:
    for name, amount in request.items():
        if amount:
            available[name] = available.get(name, 0.0) - amount


def add(available: dict[str, float], request: Mapping[str, float]) -> None:
    for name, amount in request.items():
        if amount:
            available[name] = available.get(name, 0.0) + amount


def request_key(request: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    """A hashable form of a request: tasks with equal keys queue together."""
    return tuple(sorted((k, v) for k, v in request.items() if v))


def normalize(
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    resources: Mapping[str, float] | None = None,
    memory: float | None = None,
    default_cpus: float = 1.0,
) -> Resources:
    """Builds a request from Ray-style options, checking the amounts."""
    out: Resources = {}
    cpus = default_cpus if num_cpus is None else num_cpus
    for name, amount in (("CPU", cpus), ("GPU", num_gpus or 0), ("memory", memory or 0)):
        if amount:
            out[name] = float(amount)
    for name, amount in (resources or {}).items():
        if name in ("CPU", "GPU"):
            raise ValueError(f"use num_cpus/num_gpus instead of resources={{'{name}': ...}}")
        out[name] = float(amount)
    for name, amount in out.items():
        if not math.isfinite(amount) or amount < 0:
            raise ValueError(f"resource {name!r} must be a finite amount >= 0, got {amount}")
        if amount > 1 and amount != int(amount):
            # as in Ray: fractions only below one unit, so slots stay whole
            raise ValueError(f"resource {name!r}: amounts above 1 must be whole numbers, got {amount}")
    return out
