import time

import ray

ray.init(num_cpus=2)


@ray.remote
def busy_loop():
    while True:
        time.sleep(0.01)


ref = busy_loop.remote()
time.sleep(1)
ray.cancel(ref, force=True)
try:
    ray.get(ref, timeout=30)
except (ray.exceptions.TaskCancelledError, ray.exceptions.WorkerCrashedError) as e:
    print(type(e).__name__)


@ray.remote
def after():
    return "ok"


print(ray.get(after.remote()))
ray.shutdown()
