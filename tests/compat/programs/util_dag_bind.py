import ray

ray.init(num_cpus=2)


@ray.remote
def add(a, b):
    return a + b


@ray.remote
def mul(a, b):
    return a * b


dag = mul.bind(add.bind(1, 2), add.bind(3, 4))
ref = dag.execute()
print(type(ref).__name__, ray.get(ref))
print(ray.get(dag.execute()))
ray.shutdown()
