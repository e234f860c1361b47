# compat: stderr-last-line
import ray

ray.init(num_cpus=2)


@ray.remote
def fail():
    raise ValueError("this ends the program")


print("before")
ray.get(fail.remote())
print("not reached")
