import asyncio

import ray

ray.init(num_cpus=2)


@ray.remote
class AsyncWorker:
    async def wait_long(self):
        await asyncio.sleep(60)
        return "done"

    async def ping(self):
        return "pong"


w = AsyncWorker.remote()
ref = w.wait_long.remote()
ray.get(w.ping.remote())
ray.cancel(ref)
try:
    ray.get(ref, timeout=30)
except ray.exceptions.TaskCancelledError:
    print("TaskCancelledError")
print(ray.get(w.ping.remote()))
ray.shutdown()
