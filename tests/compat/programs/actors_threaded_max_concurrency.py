import threading

import ray

ray.init(num_cpus=2)


@ray.remote(max_concurrency=3)
class Rendezvous:
    def __init__(self):
        self.barrier = threading.Barrier(3, timeout=20)

    def meet(self, i):
        self.barrier.wait()  # returns only when three calls run at once
        return i


r = Rendezvous.remote()
print(sorted(ray.get([r.meet.remote(i) for i in range(3)])))


@ray.remote
class Serial:
    def __init__(self):
        self.active = 0
        self.peak = 0

    def work(self):
        import time

        self.active += 1
        self.peak = max(self.peak, self.active)
        time.sleep(0.05)
        self.active -= 1
        return self.peak


s = Serial.remote()
print(max(ray.get([s.work.remote() for _ in range(5)])))
ray.shutdown()
