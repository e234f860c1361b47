"""The package layering: who may import whom.

The worker daemon and its executors never import the head's package: what
both need (ids, failures, the wire messages, batching) lives in shared
modules at raylite/'s top level. A state package stays pure (test_purity.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

RAYLITE = Path(__file__).resolve().parents[2] / "raylite"

# package -> packages it must not import, and why
FORBIDDEN = {
    "raylite.worker": ("raylite.head", "a worker runs without the head's code; shared types live in raylite/"),
    "raylite.client": ("raylite.head", "clients speak to the head only over gRPC"),
    "raylite.head": ("raylite.worker", "the head speaks to nodes only over gRPC"),
}


def module_name(path: Path, root: Path = RAYLITE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = RAYLITE) -> set[str]:
    """Absolute names of the raylite modules a file imports (relative imports resolved)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {name for name in out if name == "raylite" or name.startswith("raylite.")}


def violations() -> list[str]:
    found = []
    for path in sorted(RAYLITE.rglob("*.py")):
        if "rpc" in path.relative_to(RAYLITE).parts:
            continue
        name = module_name(path)
        for package, (banned, why) in FORBIDDEN.items():
            if name == package or name.startswith(package + "."):
                bad = sorted(i for i in imports_of(path) if i == banned or i.startswith(banned + "."))
                if bad:
                    found.append(f"{name} imports {bad[0]}: {why}")
    return found


def test_packages_import_only_what_their_layer_allows() -> None:
    assert violations() == []


def test_the_check_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    sample = RAYLITE / "worker" / "state" / "__init__.py"
    assert "raylite.worker.state" == module_name(sample)
    fake = tmp_path / "raylite" / "worker" / "x.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from ..head.state import model\nimport raylite.head.wire\nfrom raylite import ids\n")
    assert imports_of(fake, tmp_path / "raylite") >= {"raylite.head.state", "raylite.head.wire", "raylite.ids"}
