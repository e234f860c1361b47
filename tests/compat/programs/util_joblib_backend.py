# compat: requires=joblib
import joblib
import ray
from ray.util.joblib import register_ray

ray.init(num_cpus=2)
register_ray()


def slow_square(x):
    return x * x


with joblib.parallel_backend("ray"):
    print(joblib.Parallel(n_jobs=2)(joblib.delayed(slow_square)(i) for i in range(8)))
ray.shutdown()
