import json
import os
import tempfile

import ray

ray.init(num_cpus=2)


@ray.remote
def work():
    return 1


ray.get([work.remote() for _ in range(3)])
events = ray.timeline()
print(type(events).__name__)
path = os.path.join(tempfile.mkdtemp(), "trace.json")
ray.timeline(filename=path)
with open(path) as f:
    print(type(json.load(f)).__name__)
ray.shutdown()
