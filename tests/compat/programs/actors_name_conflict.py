import ray

ray.init(num_cpus=2)


@ray.remote
class A:
    def who(self):
        return "first"


first = A.options(name="taken").remote()
print(ray.get(first.who.remote()))
try:
    A.options(name="taken").remote()
    print("second actor created")
except ValueError as e:
    print("ValueError:", "taken" in str(e))
print(ray.get(ray.get_actor("taken").who.remote()))
ray.shutdown()
