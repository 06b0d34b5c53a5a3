"""Regenerate the gRPC stubs of the client from protos/samestory/v1.

    python clients/python/scripts/generate_stubs.py [--out DIR]

grpcio-tools writes `from samestory.v1 import samestory_pb2`, an import path
that would clash with the server's `samestory` package; the stubs live in
`samestory_client._proto`, so that line is rewritten to a relative import.
A test regenerates into a temporary folder and fails when the committed
stubs differ.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PROTO_ROOT = REPO / "protos"
PROTO = Path("samestory/v1/samestory.proto")
DEFAULT_OUT = REPO / "clients/python/samestory_client/_proto"
GENERATED = ("samestory_pb2.py", "samestory_pb2.pyi", "samestory_pb2_grpc.py")


def generate(out_dir: Path) -> list[Path]:
    """Compile the proto into `out_dir`; returns the files written."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            str(PROTO),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {PROTO_ROOT / PROTO}")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name in GENERATED:
            text = (Path(tmp) / PROTO.parent / name).read_text()
            text = re.sub(r"^from samestory\.v1 import ", "from . import ", text, flags=re.M)
            target = out_dir / name
            target.write_text(text)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the stubs go")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
