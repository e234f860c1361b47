import ray

ray.init(num_cpus=2)
ctx = ray.get_runtime_context()
job = ctx.get_job_id()
node = ctx.get_node_id()
print(type(job).__name__, type(node).__name__, len(node))
print(ctx.get_actor_id(), ctx.get_actor_name())
print(type(ctx.namespace).__name__, len(ctx.namespace) > 0)
print(type(ctx.get_worker_id()).__name__)
print(ctx.get_job_id() == ray.get_runtime_context().get_job_id())
ray.shutdown()
