import ray

ray.init(num_cpus=2)
nodes = ray.nodes()
print(type(nodes).__name__, len(nodes))
n = nodes[0]
for key in (
    "NodeID",
    "Alive",
    "NodeManagerAddress",
    "NodeManagerHostname",
    "NodeManagerPort",
    "ObjectManagerPort",
    "Resources",
    "alive",
    "Labels",
):
    print(key, key in n)
print(n["Alive"], n["Resources"]["CPU"], n["NodeID"] == ray.get_runtime_context().get_node_id())
ray.shutdown()
