import ray

ray.init(num_cpus=2)
ctx = ray.get_runtime_context()
for name in (
    "get_job_id",
    "get_node_id",
    "get_task_id",
    "get_actor_id",
    "get_actor_name",
    "get_worker_id",
    "get_assigned_resources",
    "get_placement_group_id",
    "namespace",
    "runtime_env",
    "was_current_actor_reconstructed",
    "current_actor",
    "get",
    "get_accelerator_ids",
):
    print(name, hasattr(type(ctx), name))  # on the class: some properties assert outside a worker
print(ctx.get_placement_group_id())
print(sorted(ctx.get_accelerator_ids()))
ray.shutdown()
