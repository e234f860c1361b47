import ray

ray.init(num_cpus=2)


@ray.remote
class A:
    def f(self):
        return 1


a = A.remote()
ref = a.f.remote()
try:
    ray.cancel(ref, force=True)
    print("force cancel of an actor task accepted")
except ValueError:
    print("ValueError")
print(ray.get(ref))
ray.shutdown()
