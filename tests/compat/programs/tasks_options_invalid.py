import ray

ray.init(num_cpus=2)


@ray.remote
def f():
    return 1


for opts in ({"not_an_option": 1}, {"num_cpus": -1}, {"num_returns": -2}, {"max_retries": "many"}):
    try:
        f.options(**opts).remote()
        print(sorted(opts), "accepted")
    except (ValueError, TypeError):
        print(sorted(opts), "rejected")
try:

    @ray.remote(bogus_option=3)
    def g():
        return 1

    print("decorator accepted")
except (ValueError, TypeError):
    print("decorator rejected")
ray.shutdown()
