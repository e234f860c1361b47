import asyncio

import ray

ray.init(num_cpus=2)


@ray.remote(concurrency_groups={"io": 2, "compute": 1})
class Service:
    def __init__(self):
        self.arrived = 0
        self.event = asyncio.Event()

    @ray.method(concurrency_group="io")
    async def io_call(self, i):
        self.arrived += 1
        if self.arrived == 2:
            self.event.set()
        await asyncio.wait_for(self.event.wait(), 20)  # both io calls must run together
        return i

    @ray.method(concurrency_group="compute")
    async def compute(self, x):
        return x * x

    async def default_group(self):
        return "default"


s = Service.remote()
print(sorted(ray.get([s.io_call.remote(1), s.io_call.remote(2)])))
print(ray.get(s.compute.remote(9)), ray.get(s.default_group.remote()))
print(ray.get(s.compute.options(concurrency_group="io").remote(3)))
ray.shutdown()
