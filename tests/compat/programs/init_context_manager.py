import ray

with ray.init(num_cpus=2) as ctx:
    print(ray.is_initialized())

    @ray.remote
    def f():
        return "inside with"

    print(ray.get(f.remote()))
print(ray.is_initialized())
