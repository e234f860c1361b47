import ray
from ray.util.queue import Queue

ray.init(num_cpus=2)

q = Queue()
print(q.empty(), q.size(), q.qsize())
for i in range(3):
    q.put(i)
print(q.empty(), q.size(), len(q) if hasattr(q, "__len__") else q.size())
print([q.get() for _ in range(3)])
print(q.empty())
ray.shutdown()
