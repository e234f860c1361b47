import hashlib

import ray

ray.init(num_cpus=2)

blob = bytes(range(256)) * (200 * 1024)  # 50 MiB
ref = ray.put(blob)
got = ray.get(ref)
print(len(got), hashlib.sha256(got).hexdigest() == hashlib.sha256(blob).hexdigest())


@ray.remote
def digest(b):
    return len(b), hashlib.sha256(b).hexdigest()[:16]


print(ray.get(digest.remote(ref)) == (len(blob), hashlib.sha256(blob).hexdigest()[:16]))


@ray.remote
def produce(n):
    return b"z" * n


print(len(ray.get(produce.remote(30 * 1024 * 1024))))
ray.shutdown()
