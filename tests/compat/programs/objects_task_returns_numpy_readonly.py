import numpy as np
import ray

ray.init(num_cpus=2)


@ray.remote
def big():
    return {"arr": np.full(300_000, 7, dtype=np.int32), "label": "x"}


d = ray.get(big.remote())
print(sorted(d), d["arr"].dtype, int(d["arr"][0]), d["arr"].flags.writeable)
ray.shutdown()
