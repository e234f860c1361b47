import ray

ray.init(num_cpus=2)


@ray.remote
class Thing:
    def method(self):
        return 1


try:
    Thing()
except TypeError:
    print("TypeError: instantiate directly")
t = Thing.remote()
try:
    t.method()
except TypeError:
    print("TypeError: method called directly")
try:
    t.no_such_method.remote()
except AttributeError:
    print("AttributeError: unknown method")
print(ray.get(t.method.remote()))
ray.shutdown()
