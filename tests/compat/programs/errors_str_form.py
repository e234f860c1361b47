import re

import ray

ray.init(num_cpus=2)


@ray.remote
def explode(x):
    raise ValueError(f"bad input {x}")


try:
    ray.get(explode.remote(7))
except ValueError as e:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # without terminal colours
    lines = text.splitlines()
    print(lines[0].split(" (pid=")[0])
    print(lines[-1])
    print("Traceback (most recent call last):" in text)
    print(any(ln.strip().startswith("File ") and ln.strip().endswith("in explode") for ln in lines))
ray.shutdown()
