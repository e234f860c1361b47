import ray

ray.init(num_cpus=2)


@ray.remote
class Config:
    DEFAULT = "default-value"
    instances = 0

    def __init__(self):
        Config.instances += 1
        self.own = self.DEFAULT.upper()

    @staticmethod
    def helper(x):
        return x * 2

    @classmethod
    def kind(cls):
        return cls.__name__

    def read(self):
        return self.DEFAULT, self.own, self.helper(21), self.kind(), type(self).instances


c = Config.remote()
print(ray.get(c.read.remote()))
ray.shutdown()
