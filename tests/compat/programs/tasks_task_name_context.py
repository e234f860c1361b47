import ray

ray.init(num_cpus=2)


@ray.remote
def named():
    ctx = ray.get_runtime_context()
    return ctx.get_task_name(), ctx.get_task_function_name()


print(ray.get(named.remote()))
print(ray.get(named.options(name="custom-name").remote()))
ray.shutdown()
