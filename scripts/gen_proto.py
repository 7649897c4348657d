"""Generates the Python stubs of proto/mdc/v1/*.proto into mdc/v1/ with the pinned grpcio-tools.

Run after changing a .proto (`.venv/bin/python scripts/gen_proto.py`) and commit the output;
tests/unit/test_proto_stubs.py regenerates them and fails if the committed ones differ."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "proto"


def protos() -> list[Path]:
    return sorted((PROTO_ROOT / "mdc" / "v1").glob("*.proto"))


def generate(out: Path) -> None:
    """Python, typing stubs and gRPC stubs of every proto, under `out` (mirroring proto/)."""
    from grpc_tools import protoc  # noqa: PLC0415 - a dev dependency, only here

    for proto in protos():
        args = [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            str(proto.relative_to(PROTO_ROOT)),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {proto.relative_to(ROOT)}")


if __name__ == "__main__":
    generate(ROOT)
    made = sorted(p.name for p in (ROOT / "mdc" / "v1").glob("*_pb2*"))
    print("generated:", *made, file=sys.stderr)
