import asyncio

import ray

ray.init(num_cpus=2)


@ray.remote
class Gate:
    def __init__(self):
        self.event = asyncio.Event()
        self.log = []

    async def wait_open(self, i):
        await self.event.wait()
        self.log.append(i)
        return i

    async def open(self):
        self.event.set()
        return "opened"

    async def entries(self):
        return sorted(self.log)


g = Gate.remote()
waiters = [g.wait_open.remote(i) for i in range(5)]
ready, _ = ray.wait(waiters, timeout=1)
print("before open:", len(ready))
print(ray.get(g.open.remote()))
print(sorted(ray.get(waiters)), ray.get(g.entries.remote()))
ray.shutdown()
