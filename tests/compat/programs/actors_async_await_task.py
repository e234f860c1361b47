import asyncio

import ray

ray.init(num_cpus=2)


@ray.remote
def compute(x):
    return x * 3


@ray.remote
class Coordinator:
    async def fan_out(self, n):
        results = await asyncio.gather(*[compute.remote(i) for i in range(n)])
        return list(results)

    async def single(self):
        return await compute.remote(14)


c = Coordinator.remote()
print(ray.get(c.fan_out.remote(5)))
print(ray.get(c.single.remote()))
ray.shutdown()
