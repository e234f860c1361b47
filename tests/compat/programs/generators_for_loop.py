import ray

ray.init(num_cpus=2)


@ray.remote
def words(text):
    for w in text.split():
        yield w.upper()


print([ray.get(r) for r in words.remote("streaming results one by one")])
print(list(map(ray.get, words.remote(""))))


@ray.remote
def squares(n):
    yield from (i * i for i in range(n))


print(sum(ray.get(r) for r in squares.remote(10)))
ray.shutdown()
