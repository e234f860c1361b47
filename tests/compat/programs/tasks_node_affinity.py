import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

ray.init(num_cpus=2)


@ray.remote
def where():
    return ray.get_runtime_context().get_node_id()


me = ray.get_runtime_context().get_node_id()
hard = NodeAffinitySchedulingStrategy(node_id=me, soft=False)
soft = NodeAffinitySchedulingStrategy(node_id=me, soft=True)
print(ray.get(where.options(scheduling_strategy=hard).remote()) == me)
print(ray.get(where.options(scheduling_strategy=soft).remote()) == me)
print(hard.node_id == me, hard.soft, soft.soft)
ray.shutdown()
