import os
import tempfile
import time

import ray

ray.init(num_cpus=2)
started = os.path.join(tempfile.mkdtemp(), "started")


@ray.remote
def long_running(marker):
    open(marker, "w").close()
    for _ in range(600):
        time.sleep(0.1)
    return "finished"


ref = long_running.remote(started)
while not os.path.exists(started):
    time.sleep(0.05)
time.sleep(2)  # the task is running, not just starting
for _ in range(15):  # cancel again if the first one reached the task before it could be interrupted
    ray.cancel(ref)
    if ray.wait([ref], timeout=2)[0]:
        break
try:
    ray.get(ref, timeout=30)
    print("not cancelled")
except ray.exceptions.TaskCancelledError:
    print("TaskCancelledError")


@ray.remote
def after():
    return "cluster usable"


print(ray.get(after.remote()))
ray.shutdown()
