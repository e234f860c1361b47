import re

import ray

ray.init(num_cpus=2)


@ray.remote
class Worker:
    def run(self):
        raise KeyError("no such key")


w = Worker.remote()
try:
    ray.get(w.run.remote())
except KeyError as e:
    lines = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).splitlines()  # without terminal colours
    print(lines[0].split(" (pid=")[0])
    print(lines[-1])
ray.shutdown()
