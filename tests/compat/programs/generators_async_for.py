import asyncio

import ray

ray.init(num_cpus=2)


@ray.remote
def produce(n):
    for i in range(n):
        yield {"i": i}


async def main():
    out = []
    async for ref in produce.remote(4):
        out.append(await ref)
    print(out)
    gen = produce.remote(2)
    print(await (await gen.__anext__()))


asyncio.run(main())
ray.shutdown()
