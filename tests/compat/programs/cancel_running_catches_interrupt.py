import time

import ray

ray.init(num_cpus=2)


@ray.remote
def stubborn():
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        return "interrupted and handled"
    return "slept"


ref = stubborn.remote()
time.sleep(1)
ray.cancel(ref)
try:
    print(ray.get(ref, timeout=30))
except ray.exceptions.TaskCancelledError:
    print("TaskCancelledError")
ray.shutdown()
