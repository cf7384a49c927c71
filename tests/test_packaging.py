"""flatstart installs as one package: ``flatstart.theory``, ``flatstart.montecarlo`` and
``flatstart.validation``, and nothing under a bare name (``theory`` would clash with unrelated
packages of the index)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_CHECK = """
import importlib, sys
import flatstart, flatstart.theory.laws, flatstart.montecarlo, flatstart.validation
print(flatstart.theory.laws.__file__)
for bare in ("theory", "montecarlo", "validation"):
    try:
        importlib.import_module(bare)
    except ImportError:
        continue
    sys.exit(f"bare {bare} importable")
"""


def _check(cwd: Path, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", _CHECK], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.strip()


def test_installed_package_imports_as_flatstart_only(tmp_path: Path) -> None:
    """The environment's install (editable in development) from a folder outside the tree."""
    assert _check(tmp_path).endswith(os.path.join("flatstart", "theory", "laws", "__init__.py"))


def test_bare_names_in_the_source_tree_are_the_same_modules() -> None:
    """From the repository root, ``theory.laws`` is ``flatstart.theory.laws`` (no second copy of
    a class or a registry); importing the bare ``validation.claims`` module never replaces the
    function ``flatstart.validation.claims`` (the bare package is a read-through view)."""
    code = ("import sys\n"
            "from theory.laws import Normal\n"
            "from montecarlo.networks import chains\n"
            "import validation, validation.claims\n"
            "import flatstart.theory.laws as L, flatstart.montecarlo.networks as N\n"
            "import flatstart.validation as V\n"
            "assert Normal is L.Normal and chains is N.chains\n"
            "assert validation.Claim is V.Claim and validation.verify is V.verify\n"
            "assert validation.claims is sys.modules['flatstart.validation.claims']\n"
            "assert callable(V.claims) and not isinstance(V.claims, type(sys))\n"
            "assert L.__spec__.name == 'flatstart.theory.laws'\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr


def test_wheel_holds_the_three_folders_under_flatstart(tmp_path: Path) -> None:
    """A wheel built from the tree (links followed) installs the real files under flatstart/."""
    import shutil

    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    src = tmp_path / "src"  # a copy: pip builds in the source folder (build/, egg-info)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("flatstart", "theory", "montecarlo", "validation"):
        shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                          "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(src)],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {out.stderr[-300:]}")
    (whl,) = (tmp_path / "dist").glob("flatstart-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {"flatstart"} <= tops and not tops & {"theory", "montecarlo", "validation"}, tops
    for sub in ("theory/laws/__init__.py", "theory/products/mellin.py", "montecarlo/networks.py",
                "validation/cli.py", "__main__.py"):
        assert f"flatstart/{sub}" in names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(site), str(whl)], check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(site)}
    assert _check(tmp_path, env).startswith(str(site))
