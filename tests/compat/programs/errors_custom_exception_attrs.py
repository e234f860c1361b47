import ray

ray.init(num_cpus=2)


class HttpError(Exception):
    def __init__(self, status, body):
        super().__init__(status, body)
        self.status = status
        self.body = body


@ray.remote
def fetch():
    raise HttpError(404, "not found")


try:
    ray.get(fetch.remote())
except HttpError as e:
    print(e.status, e.body, e.args if not isinstance(e, ray.exceptions.RayTaskError) else e.cause.args)
    print(e.cause.status if hasattr(e, "cause") else "no cause")
ray.shutdown()
