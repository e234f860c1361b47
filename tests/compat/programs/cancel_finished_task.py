import ray

ray.init(num_cpus=2)


@ray.remote
def quick():
    return "finished first"


r = quick.remote()
print(ray.get(r))
ray.cancel(r)
print(ray.get(r))
ray.shutdown()
