"""`import ray` means `import raylite as ray`: the compatibility harness's alias.

scripts/compat.py puts this folder first on PYTHONPATH when it runs a corpus
program under raylite, so the program's source is run unchanged (its line
numbers, its `import ray.util.queue`, its `from ray.exceptions import ...`,
an `import ray` inside a task body or in a helper module of its working_dir)
and every process of the run (driver, daemons, executors: they inherit the
environment) sees the same alias. This is what a user's search-and-replace of
`import ray` by `import raylite as ray` does, without rewriting source.

How: this module replaces itself in sys.modules by the `raylite` module, and a
meta-path finder maps every `ray.X` to `raylite.X`, registering the same
module object under both names. A `ray.X` for which raylite has no `raylite.X`
fails as it would for a user who wrote `import raylite.X`: ModuleNotFoundError
naming `raylite.X`.

importlib binds a submodule it loads as an attribute of its parent package.
Under the alias that happens again, when `ray.X.Y` is first imported, although
raylite.X.Y was loaded long before, and it would replace whatever `raylite.X`
binds to Y: `ray.util.placement_group` is a function that shadows its module,
in Ray as in raylite. The parent packages therefore keep such attributes
(`_KeepShadows`).
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

_PREFIX = "ray"
_TARGET = "raylite"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, module, real_spec):
        self._module = module
        self._real_spec = real_spec

    def create_module(self, spec):
        return self._module

    def exec_module(self, module):
        # importlib stamped the alias spec on the shared module object; give it its own back.
        module.__spec__ = self._real_spec


class _KeepShadows(types.ModuleType):
    """A package that keeps a non-module attribute when importlib binds a submodule of that name."""

    def __setattr__(self, name, value):
        current = self.__dict__.get(name)
        if isinstance(value, types.ModuleType) and current is not None and not isinstance(current, types.ModuleType):
            return
        super().__setattr__(name, value)

    def __reduce__(self):
        # pickled by name, as (cloud)pickle does a plain module, which this class hides from it
        return importlib.import_module, (self.__name__,)


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_PREFIX + "."):
            return None
        real_name = _TARGET + fullname[len(_PREFIX) :]
        module = importlib.import_module(real_name)  # ModuleNotFoundError names raylite.X
        parent = sys.modules.get(real_name.rpartition(".")[0])
        if parent is not None and type(parent) is types.ModuleType:
            parent.__class__ = _KeepShadows
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(module, module.__spec__), is_package=hasattr(module, "__path__")
        )


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())

_raylite = importlib.import_module(_TARGET)
sys.modules[__name__] = _raylite
