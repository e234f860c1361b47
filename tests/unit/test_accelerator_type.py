"""The accelerator_type option: a sliver of `accelerator_type:<type>`, as Ray asks for it."""

from __future__ import annotations

import pytest

from raylite.client import submit
from raylite.util import accelerators


def test_accelerator_type_adds_its_resource_to_the_request() -> None:
    options = {"accelerator_type": accelerators.NVIDIA_TESLA_V100, "resources": {"disk": 1}}
    assert submit._with_accelerator(options) == {"disk": 1, "accelerator_type:V100": 0.001}
    assert submit._with_accelerator({"resources": {"disk": 1}}) == {"disk": 1}
    assert accelerators.NVIDIA_A100 == "A100" and accelerators.GOOGLE_TPU_V4 == "TPU-V4"


def test_accelerator_type_must_be_a_name() -> None:
    submit.check_options({"accelerator_type": "V100"}, submit.TASK_OPTIONS, "f.options()")
    with pytest.raises(TypeError, match="accelerator_type must be a name"):
        submit.check_options({"accelerator_type": 3}, submit.TASK_OPTIONS, "f.options()")
