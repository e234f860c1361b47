import asyncio

import ray

ray.init(num_cpus=2)


@ray.remote
def square(x):
    return x * x


@ray.remote
def boom():
    raise ValueError("gathered failure")


async def main():
    print(await asyncio.gather(*[square.remote(i) for i in range(6)]))
    results = await asyncio.gather(square.remote(3), boom.remote(), return_exceptions=True)
    print(results[0], type(results[1]).__name__.startswith("RayTaskError"), isinstance(results[1], ValueError))
    done, _ = await asyncio.wait([asyncio.ensure_future(square.remote(5))])
    print([d.result() for d in done])


asyncio.run(main())
ray.shutdown()
