"""The package layout holds: modules are small, and imports only go down the pipeline.

Imports are read from the source (lazy ones inside functions included), so a layer that
reaches upward is seen even when the import would only run on some path.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mixsynth"
#: Modules that may not import from these packages (prefixes of dotted names).
FORBIDDEN = {
    "mixsynth.io": ("mixsynth.synthesis", "mixsynth.engines", "mixsynth.cli", "mixsynth.job", "mixsynth.diagnose",
                    "mixsynth.collapse"),
    "mixsynth.weights": ("mixsynth.synthesis", "mixsynth.engines", "mixsynth.io", "mixsynth.cli"),
    "mixsynth.synthesis": ("mixsynth.cli", "mixsynth.job", "mixsynth.api", "mixsynth.diagnose", "mixsynth.collapse",
                           "mixsynth.engines.dask", "mixsynth.engines.fragments"),
    "mixsynth.engines.local": ("mixsynth.synthesis.synthesizer", "mixsynth.cli", "mixsynth.job"),
    "mixsynth.engines.worker": ("mixsynth.synthesis", "mixsynth.cli", "mixsynth.job"),
    "mixsynth.diagnose": ("mixsynth.synthesis", "mixsynth.job", "mixsynth.api", "mixsynth.collapse", "mixsynth.cli"),
    "mixsynth.options": ("mixsynth.io", "mixsynth.engines", "mixsynth.synthesis.synthesizer", "mixsynth.cli"),
}


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("mixsynth")}


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_is_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= 400


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_imports_go_down_the_pipeline(path):
    module = _name(path)
    for layer, banned in FORBIDDEN.items():
        if module == layer or module.startswith(layer + "."):
            bad = sorted(name for name in _imports(path) if name.startswith(banned))
            assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_private_name_is_imported_from_another_module(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mixsynth"):
            private = [alias.name for alias in node.names if alias.name.startswith("_")]
            assert not private, f"{_name(path)} imports {private} from {node.module}"


def test_the_forbidden_imports_are_seen(tmp_path):
    # The check itself: its parser finds a lazy import inside a function.
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from mixsynth.synthesis.synthesizer import Synthesizer\n")
    assert "mixsynth.synthesis.synthesizer" in _imports(probe)
