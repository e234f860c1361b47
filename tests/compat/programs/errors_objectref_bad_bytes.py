import ray

for bad in (b"x", b"", b"0" * 100):
    try:
        ray.ObjectRef(bad)
        print(len(bad), "accepted")
    except ValueError:
        print(len(bad), "ValueError")
try:
    ray.ObjectRef("not bytes")
    print("str accepted")
except (TypeError, ValueError) as e:
    print("str", type(e).__name__)
