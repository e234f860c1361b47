import ray

ctx = ray.init(num_cpus=2)
for key in ("node_ip_address", "session_dir", "webui_url", "gcs_address", "address", "node_id"):
    try:
        v = ctx[key]
        print(key, "present", type(v).__name__)
    except (KeyError, TypeError, AttributeError) as e:
        print(key, "missing", type(e).__name__)
print(isinstance(ctx.address_info, dict) if hasattr(ctx, "address_info") else "no address_info")
print(type(ctx.dashboard_url).__name__ if hasattr(ctx, "dashboard_url") else "no dashboard_url")
ray.shutdown()
