"""What init() returns (Ray's RayContext) and which keyword arguments it takes.

The context is a read-only mapping of the connection's facts (`address_info`:
node_ip_address, node_id, address, gcs_address, session_dir, webui_url, ...)
with `dashboard_url`, `python_version`, `ray_version`, `ray_commit`, and is a
context manager: `with ray.init(): ...` shuts down at the end of the block.
As in Ray, reading it as a mapping still works but warns (the facts are
meant to be read from `address_info`).
"""

from __future__ import annotations

import platform
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Keyword arguments of Ray's init() that raylite takes; those it has no use for are accepted and ignored.
NAMED_OPTIONS = (
    "address",
    "num_cpus",
    "num_gpus",
    "resources",
    "labels",
    "object_store_memory",
    "local_mode",
    "ignore_reinit_error",
    "include_dashboard",
    "dashboard_host",
    "dashboard_port",
    "job_config",
    "configure_logging",
    "logging_level",
    "logging_format",
    "logging_config",
    "log_to_driver",
    "namespace",
    "runtime_env",
    "enable_resource_isolation",
    "cgroup_path",
    "system_reserved_cpu",
    "system_reserved_memory",
    "proxy_server_url",
)
# Ray's underscore options (and object_spilling_directory): accepted and ignored.
PRIVATE_OPTIONS = frozenset(
    {
        "_enable_object_reconstruction",
        "_plasma_directory",
        "object_spilling_directory",
        "_node_ip_address",
        "_driver_object_store_memory",
        "_memory",
        "_redis_username",
        "_redis_password",
        "_temp_dir",
        "_metrics_export_port",
        "_system_config",
        "_tracing_startup_hook",
        "_node_name",
        "_skip_env_hook",
    }
)


def check_extra_options(extra: Mapping[str, Any]) -> None:
    """Refuses init() keywords Ray's init refuses: RuntimeError naming them, as Ray's, and the valid ones."""
    if extra.get("allow_multiple"):
        raise RuntimeError(
            "init(allow_multiple=...) is for Ray Client connections (ray://), which raylite does not have; leave it out"
        )
    if extra.get("storage"):
        raise RuntimeError("init(storage=...) was removed from Ray (after 2.47) and raylite does not take it")
    unknown = [k for k in extra if k not in PRIVATE_OPTIONS and k not in ("allow_multiple", "storage")]
    if unknown:
        raise RuntimeError(
            f"Unknown keyword argument(s): {', '.join(unknown)}. init() takes: {', '.join(NAMED_OPTIONS)}"
        )


class BaseContext(Mapping[str, Any]):
    """The context a connection returns; `with` it to shut down at the end of the block."""

    def disconnect(self) -> None:
        from raylite.client.api import shutdown

        shutdown()

    def __enter__(self) -> BaseContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    # Mapping over address_info (as Ray's, with a warning)
    address_info: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        warnings.warn(
            f'ctx["{key}"] reads the init context as a dict, which Ray deprecates; use ctx.address_info["{key}"]',
            DeprecationWarning,
            stacklevel=2,
        )
        return self.address_info[key]

    def __len__(self) -> int:
        warnings.warn("len(ctx) is deprecated as in Ray; use len(ctx.address_info)", UserWarning, stacklevel=2)
        return len(self.address_info)

    def __iter__(self) -> Iterator[str]:
        return iter(self.address_info)


class RayContext(BaseContext):
    """What init() returns: the connection's facts (Ray's name for the class)."""

    def __init__(self, address_info: dict[str, Any]) -> None:
        self.address_info = dict(address_info)
        self.dashboard_url: str = self.address_info.get("webui_url") or ""
        self.python_version = platform.python_version()
        from raylite import __version__

        self.ray_version = __version__
        self.ray_commit = "unknown"  # raylite is not built from Ray's repository

    def __repr__(self) -> str:
        return f"RayContext(address={self.address_info.get('address')!r}, node_id={self.address_info.get('node_id')!r})"


@dataclass
class LoggingConfig:
    """Ray's logging set-up for init(logging_config=...): accepted; raylite's processes log as they do."""

    encoding: str = "TEXT"
    log_level: str = "INFO"
    additional_log_standard_attrs: list[str] = field(default_factory=list)
