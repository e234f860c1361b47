import asyncio

import ray

ray.init(num_cpus=2)


@ray.remote
def double(x):
    return 2 * x


async def main():
    v = await double.remote(21)
    print(v)
    print(await ray.put("awaited put"))
    try:
        await asyncio.wait_for(asyncio.shield(double.remote(1)), timeout=30)
        print("wait_for ok")
    except asyncio.TimeoutError:
        print("timeout")


asyncio.run(main())
ray.shutdown()
