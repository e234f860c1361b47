import time

import ray

ray.init(num_cpus=2)


@ray.remote
def long_running():
    time.sleep(60)
    return "finished"


ref = long_running.remote()
time.sleep(1)
ray.cancel(ref)
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
