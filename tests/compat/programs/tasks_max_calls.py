import os

import ray

ray.init(num_cpus=2)


@ray.remote(max_calls=1)
def pid_once():
    return os.getpid()


@ray.remote
def pid_reused():
    return os.getpid()


pids = [ray.get(pid_once.remote()) for _ in range(4)]
print("max_calls=1 distinct processes:", len(set(pids)))
pids = [ray.get(pid_reused.remote()) for _ in range(6)]
print("default reuses processes:", len(set(pids)) < 6)
ray.shutdown()
