import ray

v = ray.__version__
print(type(v).__name__, v.count(".") >= 1)
print(isinstance(ray.__version__, str))
