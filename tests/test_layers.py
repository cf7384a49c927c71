"""The three packages keep their layering (import-linter contracts from pyproject.toml)."""

from __future__ import annotations

import ast
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "theory": {"torch", "flatstart.montecarlo", "flatstart.validation"},
    "montecarlo": {"flatstart.theory", "flatstart.validation"},
}


def _forbidden(name: str, banned: set[str]) -> bool:
    return any(name == b or name.startswith(b + ".") for b in banned)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_static_imports_respect_layers(package: str) -> None:
    """Every import statement in the package avoids the forbidden top-level modules."""
    offenders: list[str] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level > 0:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} relative import")
            for name in names:
                if _forbidden(name, FORBIDDEN[package]):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not offenders, "layering broken:\n" + "\n".join(offenders)


def test_theory_imports_without_torch() -> None:
    """Importing every theory module in a fresh interpreter never loads torch."""
    code = (
        "import importlib, pkgutil, sys\n"
        "from flatstart import theory\n"
        "for m in pkgutil.walk_packages(theory.__path__, 'flatstart.theory.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in ('torch', 'flatstart.montecarlo', 'flatstart.validation')\n"
        "       if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.skipif(shutil.which("lint-imports") is None and not (
    pathlib.Path(sys.executable).parent / "lint-imports").exists(),
    reason="import-linter not installed")
def test_import_linter_contracts() -> None:
    exe = shutil.which("lint-imports") or str(pathlib.Path(sys.executable).parent / "lint-imports")
    out = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
