"""Task graphs and inspect_serializability as a Ray program uses them.

A Ray program, unchanged: tests/cluster/test_util_programs.py runs it with
`import ray` replaced by `import raylite as ray` and compares its output with
dag_tour.ray.out, what Ray 2.60 printed.
"""

import io
import threading

import ray
from ray.dag import InputNode, MultiOutputNode
from ray.util import inspect_serializability

ray.init(num_cpus=2)


@ray.remote
def add(a, b):
    return a + b


@ray.remote
def inc(x):
    return x + 1


@ray.remote
class Counter:
    def __init__(self, start):
        self.value = start

    def add(self, x):
        self.value += x
        return self.value

    def bump(self):
        self.value += 1
        return self.value


@ray.remote
def bump(counter):
    return ray.get(counter.bump.remote())


with InputNode() as inp:
    dag = add.bind(inc.bind(inp), 10)
print("input", ray.get(dag.execute(5)), ray.get(dag.execute(1)))
with InputNode() as inp:
    dag = add.bind(inp[0], inp.y)
print("fields", ray.get(dag.execute(3, y=4)))
with InputNode() as inp:
    dag = MultiOutputNode([inc.bind(inp), add.bind(inp, inp)])
print("multi", ray.get(dag.execute(3)))
with InputNode() as inp:
    actor = Counter.bind(0)
    first = actor.add.bind(inp)
    second = actor.add.bind(inp)
    dag = MultiOutputNode([second, first])
print("bind order", ray.get(dag.execute(5)), ray.get(dag.execute(1)))
counter = Counter.remote(0)
once = bump.bind(counter)
print("shared node", ray.get(add.bind(once, once).execute()), ray.get(add.bind(once, once).execute()))
with InputNode() as inp:
    dag = counter.add.bind(inp)
print("live actor", ray.get(dag.execute(10)), ray.get(dag.execute(10)))
print("nested", type(ray.get(add.bind([inc.bind(1)], []).execute())[0]).__name__)

lock = threading.Lock()


def uses_lock():
    return lock


class Holder:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = 1


ok, failures = inspect_serializability(1, name="one", print_file=io.StringIO())
print("RESULT one", ok, failures)
for name, obj in [("lock", lock), ("uses_lock", uses_lock), ("holder", Holder())]:
    ok, failures = inspect_serializability(obj, name=name, print_file=io.StringIO())
    print("RESULT", name, ok, sorted((f.path, type(f.obj).__name__, type(f.parent).__name__) for f in failures))
ray.shutdown()
