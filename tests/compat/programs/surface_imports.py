from ray.dag import InputNode  # noqa: F401
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError  # noqa: F401
from ray.job_config import JobConfig  # noqa: F401
from ray.runtime_env import RuntimeEnv
from ray.util import ActorPool  # noqa: F401
from ray.util.multiprocessing import Pool  # noqa: F401
from ray.util.placement_group import PlacementGroup, placement_group  # noqa: F401
from ray.util.queue import Empty, Full, Queue  # noqa: F401
from ray.util.scheduling_strategies import (  # noqa: F401
    NodeAffinitySchedulingStrategy,
    PlacementGroupSchedulingStrategy,
)

env = RuntimeEnv(env_vars={"A": "1"})
print(type(env).__name__, env["env_vars"])
print("all imports resolved")
