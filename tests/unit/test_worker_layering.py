"""The worker daemon and its executors are built without the head's code."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import raylite.worker
for module in pkgutil.walk_packages(raylite.worker.__path__, "raylite.worker."):
    importlib.import_module(module.name)
print(" ".join(sorted(m for m in sys.modules if m == "raylite.head" or m.startswith("raylite.head."))))
"""


def test_the_worker_package_does_not_import_the_head() -> None:
    # a fresh interpreter: this test process has imported the head for other tests
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [], f"raylite.worker pulls in {out.stdout.strip()}"
