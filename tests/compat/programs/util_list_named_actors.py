import ray
from ray.util import list_named_actors

ray.init(num_cpus=2, namespace="listing")


@ray.remote
class A:
    pass


keep = [A.options(name=n).remote() for n in ("b-actor", "a-actor")]
other = A.options(name="elsewhere", namespace="other-ns").remote()
anonymous = A.remote()
ray.get([h.__ray_ready__.remote() for h in keep + [other, anonymous]])
print(sorted(list_named_actors()))
everything = list_named_actors(all_namespaces=True)
print(sorted((d["namespace"], d["name"]) for d in everything if d["namespace"] in ("listing", "other-ns")))
ray.shutdown()
