import ray

ray.init(num_cpus=2)
job = ray.get_runtime_context().get_job_id()
print(len(job), all(c in "0123456789abcdef" for c in job))
node = ray.get_runtime_context().get_node_id()
print(len(node), all(c in "0123456789abcdef" for c in node))
ray.shutdown()
