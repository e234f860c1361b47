import ray
import ray.remote_function

ray.init(num_cpus=2)


@ray.remote
def f():
    return 1


ref = f.remote()
print(type(f).__name__, isinstance(f, ray.remote_function.RemoteFunction))
print(type(ref).__name__, isinstance(ref, ray.ObjectRef))
print(isinstance(ray.put(1), ray.ObjectRef))
print(callable(f.remote), callable(f.options), hasattr(f, "bind"))
ray.shutdown()
