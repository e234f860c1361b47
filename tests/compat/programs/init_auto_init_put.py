import ray

print(ray.is_initialized())
r = ray.put("auto-initialized by put")
print(ray.is_initialized(), ray.get(r))
print(ray.cluster_resources()["CPU"] > 0)
