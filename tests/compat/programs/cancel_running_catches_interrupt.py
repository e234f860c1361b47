import os
import tempfile
import time

import ray

ray.init(num_cpus=2)
started = os.path.join(tempfile.mkdtemp(), "started")


@ray.remote
def stubborn(marker):
    open(marker, "w").close()
    try:
        for _ in range(600):
            time.sleep(0.1)
    except KeyboardInterrupt:
        return "interrupted and handled"
    return "slept"


ref = stubborn.remote(started)
while not os.path.exists(started):
    time.sleep(0.05)
time.sleep(2)  # the task is running, not just starting
for _ in range(15):  # cancel again if the first one reached the task before it could be interrupted
    ray.cancel(ref)
    if ray.wait([ref], timeout=2)[0]:
        break
try:
    print(ray.get(ref, timeout=30))
except ray.exceptions.TaskCancelledError:
    print("TaskCancelledError")
ray.shutdown()
