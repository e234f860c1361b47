import ray

ray.init(num_cpus=2)


class MyError(Exception):
    pass


@ray.remote
def bad():
    raise MyError("mine")


try:
    ray.get(bad.remote())
except ray.exceptions.RayTaskError as e:
    print(type(e.cause).__name__, e.cause.args)
    dual = e.as_instanceof_cause()
    print(isinstance(dual, MyError), isinstance(dual, ray.exceptions.RayTaskError))
    print(type(dual).__name__)
    print(issubclass(type(e), MyError))
ray.shutdown()
