"""Run the code blocks of docs/tutorials/*.md so the tutorials never go stale.

Every fenced ```python block of a tutorial runs, in order, in one namespace (a tutorial is a
script); ```text blocks are not run. The working directory is a temporary folder.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"
TUTORIALS = sorted(DOCS.glob("*.md"))
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def code_blocks(path: Path) -> list[str]:
    """The ```python blocks of a Markdown file, in order."""
    return FENCE.findall(path.read_text(encoding="utf-8"))


def test_tutorials_exist():
    names = {p.name for p in TUTORIALS}
    assert {"check-a-bound.md", "property-test-a-theorem.md",
            "theory-vs-empirics-figure.md"} <= names, names
    for p in TUTORIALS:
        assert code_blocks(p), f"{p.name} has no ```python block"


def test_fence_extraction(tmp_path: Path):
    text = "a\n```python\nx = 1\n```\n```text\nno\n```\n```python\ny = x + 1\n```\n"
    tmp = tmp_path / "fence.md"
    tmp.write_text(text)
    assert code_blocks(tmp) == ["x = 1\n", "y = x + 1\n"]


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"tutorial_{path.stem.replace('-', '_')}"}
    start = time.perf_counter()
    for i, block in enumerate(code_blocks(path)):
        try:
            exec(compile(block, f"{path.name}[block {i}]", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{path.name}: block {i} failed: {exc!r}\n{block}") from exc
    elapsed = time.perf_counter() - start
    capsys.readouterr()
    assert elapsed < 60, f"{path.name} took {elapsed:.1f} s (keep tutorials fast)"
