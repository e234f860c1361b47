"""A driver's working_dir reaches tasks on every host of the namespace cluster.

The hosts share one filesystem, as namespaces do: the driver deletes its
folder once init() uploaded it, so the module the tasks import can come only
from the package each host fetched (from another host's store: it is larger
than an inline value) and unpacked into its own cache.
"""

from __future__ import annotations

DRIVER = """
import os, shutil, sys, tempfile
import raylite as ray
from raylite.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Affinity

wd = tempfile.mkdtemp(prefix="rl-wd-")
with open(os.path.join(wd, "rl_shipped_mod.py"), "w") as f:
    f.write("def hello(n):\\n    return f'shipped {n}'\\n")
with open(os.path.join(wd, "payload.bin"), "wb") as f:
    f.write(os.urandom(400_000))  # larger than an inline value: stored on a node, pulled by the others
ray.init(runtime_env={"working_dir": wd})
shutil.rmtree(wd)
by_ip = {n["NodeManagerAddress"]: n["NodeID"] for n in ray.nodes()}

@ray.remote
def use(n):
    import rl_shipped_mod
    return rl_shipped_mod.hello(n), os.path.getsize("payload.bin"), os.getcwd(), ray.get_runtime_context().get_node_id()

refs = [use.options(scheduling_strategy=Affinity(node, soft=False)).remote(ip) for ip, node in sorted(by_ip.items())]
for text, size, cwd, node in ray.get(refs, timeout=120):
    print(text, size, node == by_ip[text.split()[1]], cwd)
"""


def test_a_module_only_in_the_drivers_working_dir_imports_on_every_host(hosts) -> None:
    result = hosts.python(DRIVER, timeout=240)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    lines = [line.split() for line in result.stdout.splitlines()]
    assert [line[:4] for line in lines] == [
        ["shipped", ip, "400000", "True"] for ip in ("10.77.0.10", "10.77.0.11", "10.77.0.12")
    ]
    cwds = [line[4] for line in lines]
    assert all("_ray_pkg_" in cwd for cwd in cwds)
    assert len(set(cwds)) == 3, f"each host unpacks into its own cache: {cwds}"
