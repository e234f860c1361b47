import ray

ray.init(num_cpus=2)


@ray.remote(num_cpus=4)
def too_big():
    return "ran"


@ray.remote(resources={"nonexistent": 1})
def no_such_resource():
    return "ran"


refs = [too_big.remote(), no_such_resource.remote()]
ready, not_ready = ray.wait(refs, num_returns=2, timeout=2)
print(len(ready), len(not_ready))
try:
    ray.get(refs[0], timeout=1)
except ray.exceptions.GetTimeoutError:
    print("still pending")
ray.shutdown()
