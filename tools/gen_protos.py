"""Generate the Python stubs for protos/ into src/common/generated (or another directory).

The .proto files are mapped under ``common/generated`` so that the generated modules import each
other as ``common.generated.eshop...`` instead of needing a top-level ``eshop`` package.
Nobody edits the output: change the .proto and run ``python tools/gen_protos.py``.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
PACKAGE_PREFIX = "common/generated"


def generate(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = resources.files("grpc_tools") / "_proto"
    protos = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    # mypy-protobuf's plugins sit beside the interpreter, which need not be on PATH (tox, venvs).
    bin_dir = Path(sys.executable).parent
    args = [
        "grpc_tools.protoc",
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"-I{PACKAGE_PREFIX}={PROTOS}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *(f"{PACKAGE_PREFIX}/{p}" for p in protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Make every generated directory a regular package so mypy and setuptools find it.
    generated_root = out_dir / PACKAGE_PREFIX
    for directory in [generated_root, *(d for d in generated_root.rglob("*") if d.is_dir())]:
        (directory / "__init__.py").touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "src", help="source root to write into")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
