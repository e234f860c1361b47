"""ActorPool, Queue and multiprocessing.Pool as a Ray program uses them.

A Ray program, unchanged: tests/cluster/test_util_programs.py runs it with
`import ray` replaced by `import raylite as ray` and compares its output with
util_tour.ray.out, what Ray 2.60 printed.
"""

import asyncio

import ray
from ray.util import ActorPool
from ray.util.multiprocessing import Pool
from ray.util.queue import Empty, Full, Queue

ray.init(num_cpus=2)


@ray.remote
class Doubler:
    def double(self, v):
        if v == 3:
            raise ValueError("three")
        return 2 * v


pool = ActorPool([Doubler.remote(), Doubler.remote()])
print("map", list(pool.map(lambda a, v: a.double.remote(v), [1, 2, 4])))
print("unordered", sorted(pool.map_unordered(lambda a, v: a.double.remote(v), [5, 6, 7])))
for v in [1, 3, 4]:
    pool.submit(lambda a, v: a.double.remote(v), v)
out = []
while pool.has_next():
    try:
        out.append(pool.get_next())
    except ValueError:
        out.append("ValueError")
print("submit", out, pool.has_free())
try:
    pool.get_next()
except StopIteration as e:
    print("StopIteration", e)

q = Queue(maxsize=2)
q.put(1)
q.put_nowait(2)
print("queue", q.qsize(), q.full(), q.empty())
try:
    q.put(3, timeout=0.1)
except Full:
    print("Full")
print(q.get(), q.get_nowait())
try:
    q.get(timeout=0.1)
except Empty:
    print("Empty")
try:
    q.get_nowait_batch(1)
except Empty:
    print("Empty batch")
q.put_nowait_batch([7, 8])
print(q.get_nowait_batch(2))


@ray.remote
def consumer(q, n):
    return [q.get() for _ in range(n)]


ref = consumer.remote(q, 3)
for i in range(3):
    q.put(i * 10)
print("consumer", ray.get(ref))


async def use_async():
    await q.put_async("a")
    return await q.get_async()


print("async", asyncio.run(use_async()))


def square(x):
    return x * x


def fail(x):
    if x == 2:
        raise KeyError(x)
    return x


with Pool(2) as p:
    print("pool map", p.map(square, range(6)))
    print("pool starmap", p.starmap(pow, [(2, 3), (3, 2)]))
    print("pool imap", list(p.imap(square, range(4))), sorted(p.imap_unordered(square, range(4))))
    r = p.apply_async(square, (9,))
    print("apply_async", r.get(timeout=60), r.ready(), r.successful())
    try:
        p.map(fail, range(4))
    except KeyError as e:
        print("pool map error", type(e).__name__, e)
    r = p.map_async(fail, range(4))
    r.wait()
    print("map_async", r.ready(), r.successful())
p.close()
try:
    p.map(square, [1])
except ValueError as e:
    print("closed:", e)
ray.shutdown()
