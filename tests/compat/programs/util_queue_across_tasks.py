import ray
from ray.util.queue import Queue

ray.init(num_cpus=2)


@ray.remote
def producer(q, n):
    for i in range(n):
        q.put(i * i)
    return "produced"


@ray.remote
class Consumer:
    def drain(self, q, n):
        return [q.get(timeout=30) for _ in range(n)]


q = Queue()
print(ray.get(producer.remote(q, 5)))
print(ray.get(Consumer.remote().drain.remote(q, 5)))
ray.shutdown()
