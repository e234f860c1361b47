import ray

ray.init(num_cpus=2)


@ray.remote
class Acc:
    def __init__(self, start):
        self.total = start

    def add(self, x):
        self.total += x
        return self.total


@ray.remote
def five():
    return 5


actor_node = Acc.bind(100)
dag = actor_node.add.bind(five.bind())
print(ray.get(dag.execute()))
ray.shutdown()
