import os

import ray

ray.init(num_cpus=2)


@ray.remote
class Env:
    def get(self, k):
        return os.environ.get(k)


a = Env.options(runtime_env={"env_vars": {"ACTOR_VAR": "set-for-actor"}}).remote()
b = Env.remote()
print(ray.get(a.get.remote("ACTOR_VAR")), ray.get(b.get.remote("ACTOR_VAR")))
ray.shutdown()
