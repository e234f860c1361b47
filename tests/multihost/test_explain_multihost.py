"""A get waiting for an object on the wire explains how far the transfer got.

w1's link is slowed with a token bucket (tc tbf) for the length of the test, so
that pulling 128 MiB from w1 to w2 takes several seconds; a driver on w2, whose
explanation threshold is shorter than that, must print the transfer's progress.
"""

from __future__ import annotations

import subprocess

from tests.multihost.test_multihost import PRELUDE

CODE = """
import os
ref = make.options(scheduling_strategy=Affinity(W1)).remote()
ray.wait([ref], fetch_local=False)
os.environ["RAYLITE_WAIT_EXPLAIN_S"] = "2.5"
print(ray.get(ref).nbytes)

"""

MAKE = """
@ray.remote
def make():
    return np.ones(128 << 20, dtype=np.uint8)
"""


def test_a_get_of_an_object_being_transferred_says_how_far_it_got(hosts) -> None:
    cluster = hosts.cluster
    slow = ["tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "120mbit", "burst", "256kb", "latency", "500ms"]
    subprocess.run(cluster.exec_argv("w1", slow), check=True)
    try:
        result = hosts.python(PRELUDE + MAKE + CODE, host="w2", timeout=180)
    finally:
        subprocess.run(cluster.exec_argv("w1", ["tc", "qdisc", "del", "dev", "eth0", "root"]), check=True)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.stdout.split()[-1] == str(128 << 20)
    assert "raylite: get has waited 2.5 s for 1 object:" in result.stderr, result.stderr
    assert " is being transferred to node " in result.stderr and " of 128 MiB for " in result.stderr, result.stderr
