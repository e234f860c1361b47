import ray

ray.init(num_cpus=2, resources={"special": 2})
res = ray.cluster_resources()
print(res["CPU"], res["special"], res.get("GPU", "no GPU"))
print("memory" in res, "object_store_memory" in res)
print(sorted(k.split(":")[0] for k in res if k.startswith("node:")))
print("node:__internal_head__" in res)
print(all(isinstance(v, float) for v in res.values()))
ray.shutdown()
