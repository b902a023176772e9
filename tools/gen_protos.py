"""Generate the Python stubs for protos/ into src/common/generated (or another directory).

The .proto files are compiled as their own documentation says, ``protoc -Iprotos``, so each imports the
others by ``eshop/...`` paths and the descriptors carry those names (what reflection serves, what an
outside client compiling protos/ has). protoc derives Python module names from those paths
(``eshop.order.v1.order_pb2``); the generated modules live under ``common.generated`` instead of
needing a top-level ``eshop`` package, so this tool moves them there and points their imports of each
other at ``common.generated.eshop...`` (the import lines and the module name given to the builder,
nothing else: the serialized descriptors are left as protoc wrote them).
Nobody edits the output: change the .proto and run ``python tools/gen_protos.py``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
PACKAGE_PREFIX = "common/generated"
PYTHON_PREFIX = PACKAGE_PREFIX.replace("/", ".")
# What names another generated module: an import line, and the module name passed to the builder.
_GENERATED_REFERENCES = (
    re.compile(r"^(from )(eshop\.)", re.MULTILINE),
    re.compile(r"^(import )(eshop\.)", re.MULTILINE),
    re.compile(r"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')(eshop\.)"),
)


def generate(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = resources.files("grpc_tools") / "_proto"
    protos = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    # mypy-protobuf's plugins sit beside the interpreter, which need not be on PATH (tox, venvs).
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as scratch:
        args = [
            "grpc_tools.protoc",
            f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
            f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
            f"-I{PROTOS}",
            f"-I{well_known}",
            f"--python_out={scratch}",
            f"--mypy_out={scratch}",
            f"--grpc_python_out={scratch}",
            f"--mypy_grpc_out={scratch}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        generated_root = out_dir / PACKAGE_PREFIX
        for produced in sorted(Path(scratch).rglob("*")):
            if produced.is_file():
                target = generated_root / produced.relative_to(scratch)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(_under_package(produced.read_text()))
    # Make every generated directory a regular package so mypy and setuptools find it.
    for directory in [generated_root, *(d for d in generated_root.rglob("*") if d.is_dir())]:
        (directory / "__init__.py").touch()


def _under_package(source: str) -> str:
    for reference in _GENERATED_REFERENCES:
        source = reference.sub(rf"\g<1>{PYTHON_PREFIX}.\g<2>", source)
    return source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "src", help="source root to write into")
    out = parser.parse_args().out
    stale = out / PACKAGE_PREFIX / "eshop"
    if stale.is_dir():
        shutil.rmtree(stale)  # stubs of a removed .proto must not linger
    generate(out)


if __name__ == "__main__":
    main()
