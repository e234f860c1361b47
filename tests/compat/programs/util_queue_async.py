import asyncio

import ray
from ray.util.queue import Empty, Queue

ray.init(num_cpus=2)


async def main():
    q = Queue()
    await q.put_async("x")
    await q.put_async("y")
    print(await q.get_async(), await q.get_async())
    try:
        await q.get_async(timeout=0.3)
    except Empty:
        print("Empty")


asyncio.run(main())
ray.shutdown()
