"""init() and get_runtime_context() as Ray's: auto-init, the RayContext init returns, init's keywords and
addresses, and what a driver, a task and an actor see of themselves (ids, names, resources, GPUs)."""

from __future__ import annotations

import json
import os

import pytest

import raylite as ray
from raylite import exceptions
from tests.conftest import run_python

CLEAN_ENV = {"RAY_ADDRESS": "", "RAYLITE_ADDRESS": ""}


def run(code: str, env: dict | None = None) -> list[str]:
    done = run_python(code, env={**CLEAN_ENV, **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


# ---- auto-init ------------------------------------------------------------------------------------

AUTO_INIT = """
import raylite as ray
print(ray.is_initialized())
try:
    ray.cluster_resources()
except ray.exceptions.RaySystemError as e:
    print("RaySystemError", "init" in str(e))
try:
    ray.nodes()
except ray.exceptions.RaySystemError:
    print("nodes RaySystemError")
try:
    ray.timeline()
except RuntimeError:
    print("timeline RuntimeError")
print(ray.is_initialized())
{first}
print(ray.is_initialized(), ray.cluster_resources()["CPU"] > 0)
"""


@pytest.mark.parametrize(
    "first",
    [
        "print(ray.get(ray.put('by put')))",
        "print(ray.get(ray.remote(lambda: 'by remote').remote()))",
        "print(ray.get_runtime_context().get_job_id() != '')",
        "print(ray.get_gpu_ids())",
        "print(ray.wait([]))",
    ],
)
def test_the_api_starts_a_cluster_when_init_was_not_called(first: str) -> None:
    out = run(AUTO_INIT.replace("{first}", first))
    assert out[:5] == ["False", "RaySystemError True", "nodes RaySystemError", "timeline RuntimeError", "False"]
    assert out[-1] == "True True"


def test_auto_init_can_be_turned_off() -> None:
    out = run(
        "import raylite as ray\ntry:\n    ray.put(1)\nexcept RuntimeError as e:\n    print('off', 'init()' in str(e))",
        env={"RAY_ENABLE_AUTO_CONNECT": "0"},
    )
    assert out == ["off True"]


# ---- init and its context --------------------------------------------------------------------------

CONTEXT = """
import warnings, raylite as ray
warnings.simplefilter("ignore")
with ray.init(num_cpus=2, include_dashboard=False, dashboard_host="0.0.0.0", dashboard_port=8265,
              configure_logging=False, logging_level="info", _temp_dir="/tmp") as ctx:
    print(type(ctx).__name__, ray.is_initialized())
    info = ctx.address_info
    print(sorted(k for k, v in info.items() if isinstance(v, str)))
    print(info["address"] == info["gcs_address"] == ctx["address"], info["node_id"] == ray.get_runtime_context().get_node_id())
    print(type(ctx.dashboard_url).__name__, ctx.python_version.count("."), type(ctx.ray_version).__name__)
    print(ray.init(ignore_reinit_error=True) is ctx)
    try:
        ray.init()
    except RuntimeError as e:
        print("RuntimeError", "ignore_reinit_error" in str(e))
print(ray.is_initialized())
try:
    ray.init(num_cpus=1, definitely_not_an_option=True)
except RuntimeError as e:
    print("unknown", "definitely_not_an_option" in str(e), "num_cpus" in str(e))
print(ray.is_initialized())
"""


def test_init_returns_a_context_usable_as_with_and_rejects_what_ray_rejects() -> None:
    out = run(CONTEXT)
    assert out[0] == "RayContext True"
    assert out[1] == str(
        sorted(
            [
                "address",
                "gcs_address",
                "node_id",
                "node_ip_address",
                "object_store_address",
                "raylet_socket_name",
                "session_dir",
                "webui_url",
            ]
        )
    )
    assert out[2:] == ["True True", "str 2 str", "True", "RuntimeError True", "False", "unknown True True", "False"]


ADDRESSES = """
import os, sys, raylite as ray
ray.init(address="local", num_cpus=1)
print(ray.cluster_resources()["CPU"])
address = ray.get_runtime_context().gcs_address
ray.shutdown()
os.environ["RAY_ADDRESS"] = "local"
ray.init(num_cpus=2)
print(ray.cluster_resources()["CPU"])
inner = ray.get_runtime_context().gcs_address
os.environ["RAY_ADDRESS"] = inner
try:
    ray.init(num_cpus=2, ignore_reinit_error=False)
except RuntimeError:
    print("already")
print(ray.get_runtime_context().gcs_address == inner)
"""


def test_init_addresses_local_and_ray_address() -> None:
    assert run(ADDRESSES) == ["1.0", "2.0", "already", "True"]


JOIN = """
import os, subprocess, sys, raylite as ray
ray.init(num_cpus=1, namespace="outer")
address = ray.get_runtime_context().gcs_address
code = '''
import raylite as ray
try:
    ray.init(num_cpus=3)
except ValueError as e:
    print("ValueError", "num_cpus" in str(e))
ray.init()
print(ray.cluster_resources()["CPU"], ray.get_runtime_context().namespace != "outer")
'''
from raylite.client import context
env = {**os.environ, "RAY_ADDRESS": address, "RAYLITE_TOKEN": context.current().token}
print(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip())
"""


def test_ray_address_joins_that_cluster_and_sizing_it_is_refused_as_in_ray() -> None:
    assert run(JOIN) == ["ValueError True", "1.0 True"]


LOGS = """
import raylite as ray
ray.init(num_cpus=1, log_to_driver=False)

@ray.remote
def noisy():
    print("this goes to the worker's log only")
    return "returned"

print(ray.get(noisy.remote()))
"""


def test_log_to_driver_false_keeps_task_output_out_of_the_driver() -> None:
    assert run(LOGS) == ["returned"]


NAMESPACE = """
import raylite as ray
from raylite.job_config import JobConfig
ray.init(num_cpus=1, namespace="team-a", runtime_env={"env_vars": {"A": "1"}})

@ray.remote
def ns():
    c = ray.get_runtime_context()
    return c.namespace, c.runtime_env

print(ray.get_runtime_context().namespace, ray.get(ns.remote()))
ray.shutdown()
ray.init(num_cpus=1, job_config=JobConfig(ray_namespace="from-job-config"))
print(ray.get(ns.remote()))
ray.shutdown()
ray.init(num_cpus=1)
anonymous = ray.get_runtime_context().namespace
print(len(anonymous) == 36, ray.get(ns.remote())[0] == anonymous)
"""


def test_namespace_and_runtime_env_reach_the_jobs_tasks() -> None:
    assert run(NAMESPACE) == [
        "team-a ('team-a', {'env_vars': {'A': '1'}})",
        "('from-job-config', {})",
        "True True",
    ]


# ---- the runtime context -----------------------------------------------------------------------------


@ray.remote
def task_facts() -> dict:
    c = ray.get_runtime_context()
    return {
        "job": c.get_job_id(),
        "node": c.get_node_id(),
        "task": c.get_task_id(),
        "actor": c.get_actor_id(),
        "actor_name": c.get_actor_name(),
        "name": c.get_task_name(),
        "function": c.get_task_function_name(),
        "resources": c.get_assigned_resources(),
        "worker": c.get_worker_id(),
        "gpus": ray.get_gpu_ids(),
        "pg": c.get_placement_group_id(),
        "gcs": c.gcs_address,
    }


@ray.remote
class Me:
    def facts(self) -> dict:
        c = ray.get_runtime_context()
        return {
            "actor": c.get_actor_id(),
            "actor_name": c.get_actor_name(),
            "task": c.get_task_id(),
            "name": c.get_task_name(),
            "function": c.get_task_function_name(),
            "resources": c.get_assigned_resources(),
            "restarted": c.was_current_actor_reconstructed,
            "me": c.current_actor,
        }


def test_the_driver_sees_its_job_node_and_worker_and_no_task(cluster) -> None:
    c = ray.get_runtime_context()
    assert isinstance(c, ray.runtime_context.RuntimeContext)
    assert c.get_job_id() == ray.get_runtime_context().get_job_id() and len(c.get_job_id()) == 16
    assert c.get_node_id() == cluster.address_info["node_id"]
    assert c.get_task_id() is None and c.get_actor_id() is None and c.get_actor_name() is None
    assert c.get_task_name() is None and c.get_task_function_name() is None
    assert isinstance(c.get_worker_id(), str) and isinstance(c.namespace, str) and c.namespace
    assert c.get_placement_group_id() is None and c.gcs_address == cluster.address_info["address"]
    assert ray.get_gpu_ids() == [] and c.get_accelerator_ids()["GPU"] == []
    with pytest.raises(AssertionError):
        c.get_assigned_resources()
    with pytest.raises(RuntimeError, match="only available inside an actor"):
        _ = c.current_actor
    assert c.get()["job_id"] == c.get_job_id()


def test_a_task_sees_its_own_ids_name_and_resources(cluster) -> None:
    driver = ray.get_runtime_context()
    one, two = ray.get([task_facts.remote(), task_facts.options(name="custom-name", num_cpus=0.5).remote()])
    assert one["job"] == two["job"] == driver.get_job_id() and one["node"] == driver.get_node_id()
    assert one["task"] != two["task"] and len(one["task"]) == 32
    assert one["actor"] is None and one["actor_name"] is None and one["pg"] is None
    assert (one["name"], two["name"]) == ("task_facts", "custom-name")
    assert one["function"] == two["function"] == f"{__name__}.task_facts"
    assert one["resources"] == {"CPU": 1.0} and two["resources"] == {"CPU": 0.5}
    assert one["worker"] != driver.get_worker_id() and one["gpus"] == [] and one["gcs"] == driver.gcs_address


def test_an_actor_sees_its_id_name_and_handle(cluster) -> None:
    anon = Me.remote()
    named = Me.options(name="me-too").remote()
    facts = ray.get(anon.facts.remote())
    assert facts["actor"] == anon._actor_id.hex() and facts["actor_name"] == ""
    assert facts["task"] is not None and facts["name"] == "Me.facts" and facts["function"] == f"{__name__}.Me.facts"
    assert facts["resources"] == {} and facts["restarted"] is False
    assert facts["me"] == anon and ray.get(facts["me"].facts.remote())["actor"] == facts["actor"]
    assert ray.get(named.facts.remote())["actor_name"] == "me-too"


@ray.remote
class AsyncMe:
    async def facts(self) -> tuple:
        c = ray.get_runtime_context()
        return c.get_task_id(), c.get_task_name(), c.get_actor_id()


def test_concurrent_calls_of_an_async_actor_each_see_their_own_task(cluster) -> None:
    actor = AsyncMe.remote()
    refs = [actor.facts.remote() for _ in range(4)]
    got = ray.get(refs)
    assert [g[0] for g in got] == [r.task_id().hex() for r in refs]
    assert {g[1] for g in got} == {"AsyncMe.facts"} and {g[2] for g in got} == {actor._actor_id.hex()}


GPUS = """
import os, raylite as ray
ray.init(num_cpus=4, num_gpus=2)

@ray.remote(num_gpus=1)
def one():
    return ray.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES"), ray.get_runtime_context().get_assigned_resources()

@ray.remote(num_gpus=2)
def both():
    return ray.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")

@ray.remote(num_gpus=0.5)
def half():
    return ray.get_gpu_ids()

@ray.remote
def none():
    return ray.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")

@ray.remote(num_gpus=1)
class Holder:
    def gpus(self):
        return ray.get_gpu_ids(), ray.get_runtime_context().get_accelerator_ids()["GPU"]

print(ray.get_gpu_ids(), ray.cluster_resources()["GPU"])
print(ray.get(one.remote()))
print(ray.get(both.remote()))
print(ray.get(none.remote()))
h = Holder.remote()
held, as_text = ray.get(h.gpus.remote())
print(held, as_text)
others = ray.get([one.remote() for _ in range(3)])
print(sorted({o[0][0] for o in others}) == [1 - held[0]])
print(sorted(ray.get([half.remote(), half.remote()])))
"""


def test_gpu_tasks_get_gpu_ids_and_cuda_visible_devices() -> None:
    out = run(GPUS)
    assert out[0] == "[] 2.0"
    ids_one, cuda_one, res_one = eval(out[1])  # noqa: S307 - our own program's output
    assert len(ids_one) == 1 and cuda_one == str(ids_one[0]) and res_one == {"CPU": 1.0, "GPU": 1.0}
    assert out[2] == "([0, 1], '0,1')"
    assert out[3] == "([], None)"
    held, as_text = eval(out[4].split(" [")[0]), out[4]  # noqa: S307
    assert len(held) == 1 and f"['{held[0]}']" in as_text
    assert out[5] == "True"  # with the actor holding one GPU, tasks get the other
    assert out[6] in ("[[0], [0]]", "[[1], [1]]", "[[0], [1]]")


def test_the_runtime_context_module() -> None:
    import raylite.runtime_context as rc

    assert rc.get_runtime_context is ray.get_runtime_context and rc.RuntimeContext.__name__ == "RuntimeContext"
    assert issubclass(exceptions.GetTimeoutError, TimeoutError)


def test_dir_of_the_module_surface() -> None:
    import raylite.actor

    for name in ("ActorHandle", "ActorClass", "ActorMethod", "method"):
        assert hasattr(raylite.actor, name)
    for name in ("get_gpu_ids", "timeline", "ObjectID", "SCRIPT_MODE", "WORKER_MODE", "remote_function", "job_config"):
        assert hasattr(ray, name), name
    assert json.loads(json.dumps(sorted(ray.AUTO_INIT_APIS)))  # a set of names, as Ray's
    assert os.path.basename(ray.remote_function.__file__) == "remote_function.py"


SCRIPT = """
import raylite as ray
ray.init(num_cpus=1)

@ray.remote
def named():
    c = ray.get_runtime_context()
    return c.get_task_name(), c.get_task_function_name()

@ray.remote
class A:
    def m(self):
        return ray.get_runtime_context().get_task_function_name()

print(ray.get(named.remote()), ray.get(named.options(name="other").remote()), ray.get(A.remote().m.remote()))
print("node:__internal_head__" in ray.cluster_resources())
"""


def test_a_scripts_functions_are_named_by_its_module_as_in_ray(tmp_path) -> None:
    import subprocess
    import sys

    script = tmp_path / "my_script.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env={**os.environ, **CLEAN_ENV}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "('named', 'my_script.named') ('other', 'my_script.named') my_script.A.m",
        "True",
    ]


@ray.remote
def init_inside() -> tuple:
    ctx = ray.init(ignore_reinit_error=True)
    try:
        ray.init()
        again = "accepted"
    except RuntimeError as e:
        again = "ignore_reinit_error" in str(e)
    return type(ctx).__name__, ctx.address_info["address"], again


def test_init_inside_a_task_is_a_reinit_as_in_ray(cluster) -> None:
    assert ray.get(init_inside.remote()) == ("RayContext", cluster.address_info["address"], True)


@ray.remote
def node_ip() -> str:
    return ray.util.get_node_ip_address()


def test_get_node_ip_address_in_the_driver_and_a_task(cluster) -> None:
    ip = cluster.address_info["node_ip_address"]
    assert ray.util.get_node_ip_address() == ip == ray.get(node_ip.remote())
