import os
import tempfile
import time

import ray

ray.init(num_cpus=2)
folder = tempfile.mkdtemp()


@ray.remote
def occupy(i):
    open(os.path.join(folder, f"started-{i}"), "w").close()
    time.sleep(3)
    return "occupied"


@ray.remote
def queued():
    return "should not run"


blockers = [occupy.remote(i) for i in range(2)]
while len(os.listdir(folder)) < 2:  # both CPUs are busy
    time.sleep(0.05)
q = queued.remote()
ray.cancel(q)
try:
    ray.get(q, timeout=30)
except ray.exceptions.TaskCancelledError as e:
    print(type(e).__name__, isinstance(e, ray.exceptions.RayError))
print(ray.get(blockers))
ray.shutdown()
