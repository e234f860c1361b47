"""multiprocessing.Pool on the cluster, as ray.util.multiprocessing."""

from multiprocessing import JoinableQueue, TimeoutError

from raylite.util.multiprocessing.pool import Pool

__all__ = ["JoinableQueue", "Pool", "TimeoutError"]
