"""The resources a placement group's bundles add to their nodes, and what its tasks ask of them.

A bundle reserved on a node takes its resources (say {"CPU": 1}) out of the
node's free pool and adds resources of its own to the node, named after the
group (the group's id in hex) and the bundle's index, as Ray names them:

    CPU_group_<index>_<hex>      the bundle's CPU, for tasks that ask for this bundle
    CPU_group_<hex>              the CPU of every bundle of the group on the node, for any bundle
    bundle_group_<index>_<hex>   1000 per bundle: a task takes 0.001, so that even a task
    bundle_group_<hex>           asking for nothing lands on a node that holds the bundle

A task in the group asks for these instead of the node's own resources
(`translate`), so the ordinary scheduler places it on a node holding its
bundle and its resources come out of the bundle, never out of the node's free
pool. Ray hides these names from cluster_resources() and available_resources()
(`is_group_resource`). The client and the head both use this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

BUNDLE = "bundle"
BUNDLE_CAPACITY = 1000.0  # of bundle_group_*, per bundle
BUNDLE_TASK_SHARE = 0.001  # of bundle_group_*, per task

_GROUP_NAME = re.compile(r"_group_(\d+_)?[0-9a-f]{32}$")


def bundle_resources(bundle: Mapping[str, float], index: int, pg_hex: str) -> dict[str, float]:
    """What reserving bundle number `index` of group pg_hex adds to its node."""
    out: dict[str, float] = {}
    for name, amount in bundle.items():
        if amount > 0:
            out[f"{name}_group_{index}_{pg_hex}"] = amount
            out[f"{name}_group_{pg_hex}"] = amount
    out[f"{BUNDLE}_group_{index}_{pg_hex}"] = BUNDLE_CAPACITY
    out[f"{BUNDLE}_group_{pg_hex}"] = BUNDLE_CAPACITY
    return out


def translate(request: Mapping[str, float], pg_hex: str, index: int) -> dict[str, float]:
    """A task's request, as resources of its group's bundle (index -1: of any bundle)."""
    out: dict[str, float] = {}
    for name, amount in request.items():
        if amount > 0:
            out[f"{name}_group_{pg_hex}"] = amount
            if index >= 0:
                out[f"{name}_group_{index}_{pg_hex}"] = amount
    out[f"{BUNDLE}_group_{pg_hex}"] = BUNDLE_TASK_SHARE
    if index >= 0:
        out[f"{BUNDLE}_group_{index}_{pg_hex}"] = BUNDLE_TASK_SHARE
    return out


def untranslate(request: Mapping[str, float], pg_hex: str) -> dict[str, float]:
    """The node's own resources a translated request stands for (the inverse of translate)."""
    suffix = f"_group_{pg_hex}"
    return {
        name[: -len(suffix)]: amount
        for name, amount in request.items()
        if name.endswith(suffix) and name != f"{BUNDLE}{suffix}"
    }


def is_group_resource(name: str) -> bool:
    return _GROUP_NAME.search(name) is not None
