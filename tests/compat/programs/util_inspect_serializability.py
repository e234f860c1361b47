import contextlib
import io
import threading

import ray
from ray.util import inspect_serializability

ray.init(num_cpus=2)

lock = threading.Lock()


def uses_lock():
    with lock:
        return 1


def fine(x):
    return x + 1


for name, obj in (("fine", fine), ("uses_lock", uses_lock), ("lock", lock), ("data", {"a": [1, 2]})):
    with contextlib.redirect_stdout(io.StringIO()):
        ok, failures = inspect_serializability(obj, name=name)
    print(name, ok, len(failures) > 0)
ray.shutdown()
