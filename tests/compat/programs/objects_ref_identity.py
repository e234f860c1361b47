import ray

ray.init(num_cpus=2)

a = ray.put(1)
b = ray.put(1)
a_again = ray.ObjectRef(a.binary())
print(a == a, a == b, a == a_again, a != b)
print(hash(a) == hash(a_again))
print(len({a, b, a_again}))
print(a.hex() == a_again.hex(), a.hex() == a.binary().hex())
print(len(a.binary()), len(a.hex()))
print(str(a).startswith("ObjectRef("), repr(a) == str(a), a.hex() in repr(a))
d = {a: "first"}
print(d[a_again])
ray.shutdown()
