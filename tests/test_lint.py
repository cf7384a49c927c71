"""The code base stays ruff- and mypy-clean (configuration in pyproject.toml)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent


def _tool(name: str) -> str:
    exe = BIN / name
    if not exe.exists():
        pytest.skip(f"{name} is not installed in this environment (install the 'test' extra)")
    return str(exe)


def test_ruff_clean() -> None:
    out = subprocess.run(
        [_tool("ruff"), "check", "flatstart", "theory", "montecarlo", "validation", "tests",
         "benchmarks"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_clean() -> None:
    out = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
