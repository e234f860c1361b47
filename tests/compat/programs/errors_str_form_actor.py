import ray

ray.init(num_cpus=2)


@ray.remote
class Worker:
    def run(self):
        raise KeyError("no such key")


w = Worker.remote()
try:
    ray.get(w.run.remote())
except KeyError as e:
    lines = str(e).splitlines()
    print(lines[0].split(" (pid=")[0])
    print(lines[-1])
ray.shutdown()
