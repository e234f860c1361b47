import ray
from ray.util.queue import Queue

ray.init(num_cpus=2)

q = Queue(maxsize=3, actor_options={"num_cpus": 0})
q.put("with options")
print(q.get())
print(type(q.actor).__name__)
q.shutdown()
print("shut down")
ray.shutdown()
