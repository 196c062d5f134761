"""The core runs without Qt: ``core/`` and ``calibration/`` never import PyQt6, pyqtgraph or open3d."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PyQt6", "PyQt5", "PySide6", "pyqtgraph", "open3d", "app")


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0], node.lineno


@pytest.mark.parametrize("package", ["core", "calibration"])
def test_core_packages_do_not_import_gui_libraries(package):
    offenders = [f"{p.relative_to(ROOT)}:{line} imports {name}"
                 for p in sorted((ROOT / package).rglob("*.py")) for name, line in _imports(p) if name in FORBIDDEN]
    assert not offenders, "core must stay Qt-free:\n" + "\n".join(offenders)


def test_core_imports_without_qt_in_a_fresh_interpreter():
    import subprocess
    import sys

    code = ("import sys, importlib, pkgutil, core, calibration\n"
            "for pkg in (core, calibration):\n"
            "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
            "        importlib.import_module(m.name)\n"
            "bad = [m for m in ('PyQt6', 'pyqtgraph', 'open3d') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_layer_contracts_hold():
    """pyproject.toml's import-linter contracts: core is layered (records at the bottom), calibration uses only
    core.geometry, no package imports another that imports it back, and nothing below app imports Qt/Open3D."""
    import subprocess
    import sys

    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.fail("lint-imports is missing: install the dev extra (pip install -e '.[dev]')")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "4 kept, 0 broken" in proc.stdout


def test_the_contracts_name_every_package_of_core():
    """A new package of core must be placed in the layers (otherwise nothing checks what it imports)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    named = {m.strip() for layer in layers for m in layer.split("|")}
    packages = {f"core.{p.stem}" for p in (ROOT / "core").iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")}
    assert packages == named, f"not in the layers: {sorted(packages - named)}; no longer in core: {sorted(named - packages)}"
