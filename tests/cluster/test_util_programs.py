"""Ray programs using the util library and task graphs print what they print under Ray.

Each program in util_programs/ is written for Ray (`import ray`, `from ray.util
...`); its .ray.out file is what it printed under Ray 2.60. Here it runs with
only its imports changed to raylite's, as a Ray user would change them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_python

PROGRAMS = Path(__file__).parent / "util_programs"


def as_raylite(source: str) -> str:
    source = re.sub(r"^import ray$", "import raylite as ray", source, flags=re.M)
    return re.sub(r"^from ray\.", "from raylite.", source, flags=re.M)


@pytest.mark.parametrize("program", ["util_tour", "dag_tour"])
def test_program_prints_what_it_prints_under_ray(program):
    source = (PROGRAMS / f"{program}.py").read_text()
    assert not re.search(r"^(import|from) raylite", source, flags=re.M)  # written for Ray
    result = run_python(as_raylite(source), timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (PROGRAMS / f"{program}.ray.out").read_text()
