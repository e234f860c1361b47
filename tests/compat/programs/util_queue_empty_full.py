import ray
from ray.util.queue import Empty, Full, Queue

ray.init(num_cpus=2)

q = Queue(maxsize=2)
q.put("a")
q.put("b")
print(q.full())
try:
    q.put("c", block=False)
except Full:
    print("Full (non-blocking)")
try:
    q.put("c", timeout=0.3)
except Full:
    print("Full (timeout)")
print(q.get(), q.get_nowait())
try:
    q.get(block=False)
except Empty:
    print("Empty (non-blocking)")
try:
    q.get(timeout=0.3)
except Empty:
    print("Empty (timeout)")
try:
    q.get_nowait()
except Empty:
    print("Empty (get_nowait)")
ray.shutdown()
