"""raylite.util.joblib imports without joblib and says how to get it when used."""

from __future__ import annotations

import importlib
import sys

import pytest


def test_register_ray_without_joblib_says_pip_install_joblib(monkeypatch):
    for name in [m for m in sys.modules if m == "joblib" or m.startswith("joblib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "joblib", None)  # import joblib now raises ImportError
    monkeypatch.delitem(sys.modules, "raylite.util.joblib", raising=False)
    module = importlib.import_module("raylite.util.joblib")
    with pytest.raises(ImportError, match="pip install joblib"):
        module.register_ray()
