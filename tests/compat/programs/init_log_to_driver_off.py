import ray

ray.init(num_cpus=2, log_to_driver=False, include_dashboard=False, configure_logging=False)


@ray.remote
def noisy():
    print("this goes to the worker's log only")
    return "returned"


print(ray.get(noisy.remote()))
ray.shutdown()
