import ray

ray.init(num_cpus=2)


@ray.remote
def f():
    return 1


for env in ({"env_vars": {"A": 1}}, {"env_vars": "A=1"}, {"no_such_field": 1}):
    try:
        ray.get(f.options(runtime_env=env).remote(), timeout=30)
        print(sorted(env), "accepted")
    except Exception:
        print(sorted(env), "rejected")
ray.shutdown()
