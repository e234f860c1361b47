import ray

ray.init(num_cpus=2)


@ray.remote
class Account:
    def __init__(self):
        self.balance = 10

    def withdraw(self, n):
        if n > self.balance:
            raise ValueError(f"insufficient funds for {n}")
        self.balance -= n
        return self.balance


a = Account.remote()
print(ray.get(a.withdraw.remote(3)))
try:
    ray.get(a.withdraw.remote(100))
except ValueError as e:
    print("ValueError", "insufficient funds for 100" in str(e))
# the actor survives an exception in a method and keeps its state
print(ray.get(a.withdraw.remote(2)))
ray.shutdown()
