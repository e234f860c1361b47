"""The joblib backend behind register_ray(): joblib's batches run on a raylite Pool.

Each Parallel call gets a raylite.util.multiprocessing.Pool of n_jobs actors
(n_jobs=-1: one per CPU of the cluster; -2: all but one, and so on), sized
batches by joblib's auto-batching, and terminates the pool at the end.
"""

from __future__ import annotations

from typing import Any

from joblib._parallel_backends import AutoBatchingMixin, ParallelBackendBase, PoolManagerMixin, SequentialBackend
from joblib.parallel import FallbackToBackend

from raylite.client import api
from raylite.util.multiprocessing import Pool

_POOL_OPTIONS = ("initializer", "initargs", "maxtasksperchild", "ray_address", "ray_remote_args")


def _cluster_cpus() -> int:
    if not api.is_initialized():
        api.init()
    return max(1, int(api.cluster_resources().get("CPU", 1)))


class RayBackend(PoolManagerMixin, AutoBatchingMixin, ParallelBackendBase):
    """joblib's multiprocessing backend, with the pool's processes as raylite actors."""

    supports_retrieve_callback = True
    supports_return_generator = False
    supports_timeout = True
    default_n_jobs = -1

    def __init__(self, nesting_level: int | None = None, inner_max_num_threads: int | None = None, **kwargs: Any):
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads, **kwargs)

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None:
            n_jobs = self.default_n_jobs
        if n_jobs < 0:
            return max(_cluster_cpus() + 1 + n_jobs, 1)
        return int(n_jobs)

    def configure(
        self,
        n_jobs: int | None = 1,
        parallel: Any = None,
        prefer: Any = None,
        require: Any = None,
        **pool_kwargs: Any,
    ) -> int:
        n_jobs = self.effective_n_jobs(n_jobs)
        if n_jobs == 1:
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        # joblib also passes its memmapping options (max_nbytes, mmap_mode, ...): values
        # travel through the object store here, so only the pool's own options apply
        options = {k: v for k, v in {**self.backend_kwargs, **pool_kwargs}.items() if k in _POOL_OPTIONS}
        self._pool = Pool(processes=n_jobs, **options)
        self.parallel = parallel
        return n_jobs

    def terminate(self) -> None:
        super().terminate()
        self.reset_batch_stats()
