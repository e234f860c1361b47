"""Regenerate raylite/rpc/ from protos/, or check that it is up to date.

    python scripts/gen_protos.py          # rewrite raylite/rpc/*_pb2*.py
    python scripts/gen_protos.py --check  # exit 1 if the committed code is stale

Needs grpcio-tools (in the `test` extra).
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PROTO_DIR = PROTO_ROOT / "raylite" / "rpc"
OUT_DIR = ROOT / "raylite" / "rpc"


def generate(out_root: Path) -> list[Path]:
    """Runs protoc on every proto; returns the generated files under out_root."""
    from grpc_tools import protoc  # imported here: only developers need it

    protos = sorted(PROTO_DIR.glob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *[str(p) for p in protos],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed: see the messages above")
    return sorted((out_root / "raylite" / "rpc").glob("*_pb2*.py*"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if raylite/rpc is stale")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        stale = [
            f.name
            for f in fresh
            if not (OUT_DIR / f.name).exists() or not filecmp.cmp(f, OUT_DIR / f.name, shallow=False)
        ]
        known = {f.name for f in fresh}
        extra = [p.name for p in OUT_DIR.glob("*_pb2*.py*") if p.name not in known]
        if opts.check:
            if stale or extra:
                print(
                    f"raylite/rpc is stale ({', '.join(stale + extra)}): "
                    "run `python scripts/gen_protos.py` and commit the result",
                    file=sys.stderr,
                )
                return 1
            print("raylite/rpc is up to date")
            return 0
        for name in extra:
            (OUT_DIR / name).unlink()
        for f in fresh:
            (OUT_DIR / f.name).write_bytes(f.read_bytes())
        print(f"wrote {len(fresh)} files to {OUT_DIR.relative_to(ROOT)}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
