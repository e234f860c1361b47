import pickle

import ray

ray.init(num_cpus=2)


@ray.remote
def bad():
    raise ValueError("pickled")


try:
    ray.get(bad.remote())
except ray.exceptions.RayTaskError as e:
    again = pickle.loads(pickle.dumps(e))
    print(isinstance(again, ray.exceptions.RayTaskError), isinstance(again, ValueError))
    print(str(again).splitlines()[-1])
ray.shutdown()
