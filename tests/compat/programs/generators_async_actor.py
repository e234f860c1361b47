import asyncio

import ray

ray.init(num_cpus=2)


@ray.remote
class Ticker:
    async def ticks(self, n):
        for i in range(n):
            await asyncio.sleep(0.01)
            yield f"tick {i}"


t = Ticker.remote()
print([ray.get(r) for r in t.ticks.remote(3)])


async def main():
    return [await r async for r in t.ticks.remote(2)]


print(asyncio.run(main()))
ray.shutdown()
