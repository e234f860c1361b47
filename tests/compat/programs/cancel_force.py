import os
import tempfile
import time

import ray

ray.init(num_cpus=2)
started = os.path.join(tempfile.mkdtemp(), "started")


@ray.remote
def busy_loop(marker):
    open(marker, "w").close()
    while True:
        time.sleep(0.01)


ref = busy_loop.remote(started)
while not os.path.exists(started):
    time.sleep(0.05)
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
