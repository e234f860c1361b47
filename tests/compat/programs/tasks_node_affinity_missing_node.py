import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

ray.init(num_cpus=2)


@ray.remote
def hello():
    return "hello"


missing = "ab" * 28  # a well-formed node id that names no node
soft = NodeAffinitySchedulingStrategy(node_id=missing, soft=True)
print(ray.get(hello.options(scheduling_strategy=soft).remote(), timeout=30))
hard = NodeAffinitySchedulingStrategy(node_id=missing, soft=False)
try:
    ray.get(hello.options(scheduling_strategy=hard).remote(), timeout=30)
except ray.exceptions.TaskUnschedulableError as e:
    print(type(e).__name__)
ray.shutdown()
