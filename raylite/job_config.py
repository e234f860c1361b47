"""raylite.job_config: Ray's JobConfig, the job-level settings a driver may pass to init(job_config=...).

init() takes the namespace and runtime_env from it (its own namespace= and
runtime_env= arguments win); the other fields are kept but unused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class JobConfig:
    jvm_options: list[str] = field(default_factory=list)
    code_search_path: list[str] = field(default_factory=list)
    runtime_env: dict[str, Any] | None = None
    _client_job: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    ray_namespace: str | None = None
    default_actor_lifetime: str = "non_detached"
    _py_driver_sys_path: list[str] = field(default_factory=list)

    def set_metadata(self, key: str, value: str) -> None:
        self.metadata[key] = value

    def set_ray_namespace(self, ray_namespace: str) -> None:
        self.ray_namespace = ray_namespace

    def set_runtime_env(self, runtime_env: dict[str, Any] | None, validate: bool = False) -> None:
        self.runtime_env = dict(runtime_env) if runtime_env is not None else None

    def set_default_actor_lifetime(self, default_actor_lifetime: str) -> None:
        if default_actor_lifetime not in ("detached", "non_detached"):
            raise ValueError(
                f"default_actor_lifetime must be 'detached' or 'non_detached', got {default_actor_lifetime!r}"
            )
        self.default_actor_lifetime = default_actor_lifetime
