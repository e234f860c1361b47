import ray

ray.init(num_cpus=2, runtime_env={"env_vars": {"X": "1"}})


@ray.remote
def current():
    env = ray.get_runtime_context().runtime_env
    return dict(env.get("env_vars", {}))


print(ray.get(current.remote()))
print(ray.get(current.options(runtime_env={"env_vars": {"Y": "2"}}).remote()))
ray.shutdown()
