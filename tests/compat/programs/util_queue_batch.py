import ray
from ray.util.queue import Empty, Full, Queue

ray.init(num_cpus=2)

q = Queue(maxsize=5)
q.put_nowait_batch([1, 2, 3])
print(q.qsize())
try:
    q.put_nowait_batch([4, 5, 6])
except Full:
    print("Full: batch does not fit", q.qsize())
print(q.get_nowait_batch(2))
try:
    q.get_nowait_batch(5)
except Empty:
    print("Empty: not enough items", q.qsize())
print(q.get_nowait_batch(1))
ray.shutdown()
