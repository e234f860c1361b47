import ray

ray.init(num_cpus=2)
driver_job = ray.get_runtime_context().get_job_id()
driver_node = ray.get_runtime_context().get_node_id()


@ray.remote
def ids():
    ctx = ray.get_runtime_context()
    return ctx.get_job_id(), ctx.get_node_id(), ctx.get_task_id(), ctx.get_actor_id()


job, node, task, actor = ray.get(ids.remote())
print(job == driver_job, node == driver_node, type(task).__name__, actor)
_, _, task2, _ = ray.get(ids.remote())
print(task != task2)
ray.shutdown()
