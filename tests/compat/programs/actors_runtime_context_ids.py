import ray

ray.init(num_cpus=2)


@ray.remote
class Me:
    def ids(self):
        ctx = ray.get_runtime_context()
        return ctx.get_actor_id(), ctx.get_actor_name(), ctx.get_task_id() is not None


anon = Me.remote()
named = Me.options(name="me").remote()
aid, name, has_task = ray.get(anon.ids.remote())
print(type(aid).__name__, len(aid), name, has_task)
aid2, name2, _ = ray.get(named.ids.remote())
print(aid2 != aid, name2)
print(ray.get_runtime_context().get_actor_id())
ray.shutdown()
