"""The stubs committed under src/common/generated must be what tools/gen_protos.py makes of protos/.

A changed .proto without regenerating, or a hand edit of generated code, fails here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "src" / "common" / "generated"
REGENERATE = "python tools/gen_protos.py"


def _load_generator() -> ModuleType:
    # tools/ is not a package and not installed: load the script by path.
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "tools" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_committed_stubs_match_the_protos(tmp_path: Path) -> None:
    _load_generator().generate(tmp_path)
    generated = _files(tmp_path / "common" / "generated")
    committed = _files(COMMITTED)

    assert generated, "tools/gen_protos.py generated nothing"
    missing = sorted(generated.keys() - committed.keys())
    stale = sorted(committed.keys() - generated.keys())
    differing = sorted(
        name for name in generated.keys() & committed.keys() if generated[name] != committed[name]
    )
    assert not (missing or stale or differing), (
        f"src/common/generated is out of date with protos/ (missing: {missing}, not generated any more: "
        f"{stale}, different: {differing}); run `{REGENERATE}` and commit the result"
    )
