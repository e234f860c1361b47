import ray
import ray.runtime_context
from ray.runtime_context import RuntimeContext, get_runtime_context

ray.init(num_cpus=2)
ctx = get_runtime_context()
print(isinstance(ctx, RuntimeContext), isinstance(ray.get_runtime_context(), ray.runtime_context.RuntimeContext))
print(type(ctx).__name__)
ray.shutdown()
