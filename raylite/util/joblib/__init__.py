"""A joblib backend named "ray" that runs joblib's work on the cluster, as ray.util.joblib.

    from raylite.util.joblib import register_ray
    register_ray()
    with joblib.parallel_backend("ray"):
        Parallel(n_jobs=-1)(delayed(f)(i) for i in range(100))

joblib is not a dependency of raylite: this module imports without it, and
register_ray() says how to install it.
"""

from __future__ import annotations


def register_ray() -> None:
    """Registers the "ray" parallel backend with joblib (pip install joblib first)."""
    try:
        from joblib.parallel import register_parallel_backend
    except ImportError as exc:
        raise ImportError("raylite.util.joblib needs joblib, which is not installed: pip install joblib") from exc
    from raylite.util.joblib.ray_backend import RayBackend

    register_parallel_backend("ray", RayBackend)


__all__ = ["register_ray"]
