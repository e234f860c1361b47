import threading

import ray

ray.init(num_cpus=2)


@ray.remote(max_pending_calls=2)
class Busy:
    def __init__(self):
        self.release = threading.Event()

    def block(self):
        self.release.wait(30)
        return "unblocked"


b = Busy.remote()
refs = []
try:
    for _ in range(10):
        refs.append(b.block.remote())
    print("no limit hit")
except ray.exceptions.PendingCallsLimitExceeded as e:
    print(type(e).__name__, "accepted before the limit:", len(refs))
ray.kill(b)
ray.shutdown()
