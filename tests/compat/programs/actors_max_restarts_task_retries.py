import os
import tempfile

import ray

ray.init(num_cpus=2)
marker = os.path.join(tempfile.mkdtemp(), "died")


@ray.remote(max_restarts=2, max_task_retries=2)
class Fragile:
    def __init__(self):
        self.generation = 0

    def work(self, path):
        if not os.path.exists(path):
            open(path, "w").close()
            os._exit(1)
        return "done after restart"

    def state(self):
        return self.generation


f = Fragile.remote()
print(ray.get(f.work.remote(marker)))
print(ray.get(f.state.remote()))
ray.shutdown()
