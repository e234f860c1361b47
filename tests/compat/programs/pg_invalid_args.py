import ray
from ray.util.placement_group import placement_group

ray.init(num_cpus=2)

cases = {
    "unknown strategy": lambda: placement_group([{"CPU": 1}], strategy="SIDEWAYS"),
    "no bundles": lambda: placement_group([]),
    "empty bundle": lambda: placement_group([{}]),
    "zero bundle": lambda: placement_group([{"CPU": 0}]),
    "not a list": lambda: placement_group({"CPU": 1}),
}
for name, make in cases.items():
    try:
        make()
        print(name, "accepted")
    except (ValueError, TypeError) as e:
        print(name, type(e).__name__)
ray.shutdown()
