import collections

import ray

ray.init(num_cpus=2)


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __repr__(self):
        return f"Point({self.x}, {self.y})"


values = [
    0,
    -1.5,
    "text",
    b"bytes",
    None,
    True,
    [1, [2, 3]],
    (4, 5),
    {"k": [1]},
    {3, 1, 2},
    frozenset({9}),
    Point(1, 2),
    collections.OrderedDict(a=1),
    complex(1, 2),
    10**30,
]
for v in values:
    got = ray.get(ray.put(v))
    print(type(got).__name__, repr(got) if not isinstance(got, set) else sorted(got))
ray.shutdown()
