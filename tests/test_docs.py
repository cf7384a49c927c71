"""Documentation links stay true: every cited docs page and anchor exists, nothing unshipped cited.

* Every docs page path (``docs/`` + ``name.md``) mentioned in a ``.py`` or ``.md`` file of the
  repository (hidden folders such as ``.venv`` and ``.git`` excluded) names an existing file, and
  its ``#anchor`` (if any) is a heading of that page (GitHub-style slug).
* Every relative Markdown link ``[text](target)`` in a ``.md`` file resolves (relative to the
  file), anchors included.
* No file cites a document that is not shipped (the old top-level design notes or the
  ``shared`` folder outside the repository).
* The ``>>>`` examples inside the ```python blocks of ``docs/theory/*.md`` run and give the
  printed results (the derivations' numerical checks).

The checker functions are tested on small synthetic trees, so that a planted bad link is caught.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {"node_modules", "__pycache__", "build", "dist", "flatstart-report"}

# A docs path cited from anywhere: repository-relative (docs/ + name.md), optional anchor.
DOC_REF = re.compile(r"(?<![\w./-])(docs/[\w./-]*?\.md)(?:#([\w-]+))?")
# A Markdown link target: [text](target) (no spaces in target).
MD_LINK = re.compile(r"\[[^\]\n]*\]\(([^()\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
# Citations of documents that are not shipped (spelled in pieces so this file does not match).
FORBIDDEN = tuple(re.compile(p) for p in (
    re.escape("THEORY" + ".md"), re.escape("DESIGN" + ".md"), re.escape("../" + "shared"),
    "THEORY" + r" §",
))


def iter_files(root: Path, suffixes: tuple[str, ...] = (".py", ".md")) -> Iterator[Path]:
    """``.py``/``.md`` files under ``root``, skipping hidden folders, caches and symlinks."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS
                             and not d.endswith(".egg-info")
                             and not (Path(dirpath) / d).is_symlink())
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.suffix in suffixes and not path.is_symlink():
                yield path


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to ``-``."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())  # links: their text
    out = []
    for ch in text.lower():
        if ch == " ":
            out.append("-")
        elif ch in "-_" or unicodedata.category(ch)[0] in "LN":
            out.append(ch)
    return "".join(out)


def anchors(page: Path) -> set[str]:
    """The anchors of a Markdown page's headings (outside code fences; duplicates get ``-n``)."""
    seen: dict[str, int] = {}
    result: set[str] = set()
    in_fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        m = None if in_fence else HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            result.add(base if n == 0 else f"{base}-{n}")
    return result


def _check_target(target: Path, anchor: str | None, cache: dict[Path, set[str]]) -> str | None:
    if not target.exists():
        return "missing file"
    if anchor and target.suffix == ".md":
        if target not in cache:
            cache[target] = anchors(target)
        if anchor not in cache[target]:
            return f"no heading with anchor #{anchor}"
    return None


def check_links(root: Path) -> list[str]:
    """Problems with cited docs paths and relative Markdown links under ``root``."""
    problems: list[str] = []
    cache: dict[Path, set[str]] = {}
    for path in iter_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(root)
        for m in DOC_REF.finditer(text):
            why = _check_target(root / m.group(1), m.group(2), cache)
            if why:
                problems.append(f"{rel}: {m.group(0)}: {why}")
        if path.suffix != ".md":
            continue
        for m in MD_LINK.finditer(text):
            href = m.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", href) or href.startswith("<"):
                continue  # http:, https:, mailto:, ...
            if not (href.startswith("#") or "/" in href or "." in href):
                continue  # mathematics such as [K₀L₋₁ + K₁L₀](z), not a link
            file_part, _, anchor = href.partition("#")
            target = (path.parent / file_part).resolve() if file_part else path
            why = _check_target(target, anchor or None, cache)
            if why:
                problems.append(f"{rel}: ({href}): {why}")
    return problems


def check_unshipped_citations(root: Path) -> list[str]:
    """Lines citing documents that are not shipped with the repository."""
    problems = []
    for path in iter_files(root):
        for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace")
                                 .splitlines(), 1):
            if any(p.search(line) for p in FORBIDDEN):
                problems.append(f"{path.relative_to(root)}:{i}: {line.strip()}")
    return problems


def theory_examples(page: Path) -> str:
    """The ```python blocks of a page that contain ``>>>`` lines, joined."""
    blocks: list[str] = []
    current: list[str] = []
    in_block = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            if in_block and any(x.lstrip().startswith(">>>") for x in current):
                blocks.append("\n".join(current))
            in_block = (not in_block) and line.strip() == "```python"
            current = []
        elif in_block:
            current.append(line)
    return "\n\n".join(blocks) + "\n"


# ------------------------------------------------------------------------- the repository
def test_docs_links_exist() -> None:
    problems = check_links(ROOT)
    assert not problems, "broken docs links:\n" + "\n".join(problems)


def test_no_citation_of_unshipped_files() -> None:
    problems = check_unshipped_citations(ROOT)
    assert not problems, "citations of files that are not shipped:\n" + "\n".join(problems)


def test_theory_pages_exist() -> None:
    names = {p.name for p in (ROOT / "docs" / "theory").glob("*.md")}
    assert {"index.md", "p.md", "vc-signal.md", "vc-curvature.md", "gc.md", "sp.md",
            "rw.md"} <= names, names
    for old in ("products", "asymptotics", "chains", "wide", "escape", "hessian", "confusion"):
        assert not (ROOT / "docs" / f"{old}.md").exists(), f"docs/{old}.md moved to docs/theory/"


_RUN_EXAMPLES = """
import doctest, sys
source = sys.stdin.read()
test = doctest.DocTestParser().get_doctest(source, {}, sys.argv[1], sys.argv[1], 0)
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
runner.run(test)
sys.exit(1 if runner.failures else 0)
"""


@pytest.mark.parametrize("page", sorted((ROOT / "docs" / "theory").glob("*.md")),
                         ids=lambda p: p.name)
def test_theory_page_examples(page: Path) -> None:
    # A fresh interpreter per page: the examples must not depend on, nor leave, state of this
    # process (a chain median computed here changed a later tutorial's hypothesis search).
    proc = subprocess.run([sys.executable, "-c", _RUN_EXAMPLES, page.name],
                          input=theory_examples(page), capture_output=True, text=True,
                          cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 0, f"failing example(s) in {page.name}:\n{proc.stdout}{proc.stderr}"


# ------------------------------------------------------------------------- the checkers
def test_slug_is_githubs() -> None:
    assert slug("Log-moments of one weight [derived]") == "log-moments-of-one-weight-derived"
    assert slug("Evaluation paths (`method=`)") == "evaluation-paths-method"
    assert slug("Median inequalities and the Cornish–Fisher median") == \
        "median-inequalities-and-the-cornishfisher-median"
    assert slug("Exact law of the norm ratio R_L [derived]") == \
        "exact-law-of-the-norm-ratio-r_l-derived"
    assert slug("The −2 log L correction") == "the-2-log-l-correction"


def _tree(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "theory").mkdir(parents=True)
    (docs / "theory" / "p.md").write_text(
        "# P\n\n## Good heading (x)\n\n```python\n# not a heading\n```\n\n## Twice\n\n## Twice\n")
    (docs / "index.md").write_text(
        "[p](theory/p.md#good-heading-x) and [self](#top-ok)\n\n# Top ok\n")
    return tmp_path


def test_checker_accepts_good_links(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    ref = "docs/" + "theory/p.md"
    (root / "mod.py").write_text(f'"""See {ref}#good-heading-x, {ref}#twice-1 and {ref}."""\n')
    assert check_links(root) == []
    assert anchors(root / "docs" / "theory" / "p.md") == {"p", "good-heading-x", "twice",
                                                           "twice-1"}


def test_checker_catches_planted_bad_links(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    ref = "docs/" + "theory/p.md"
    missing = "docs/" + "products.md"
    (root / "mod.py").write_text(f'"""See {ref}#no-such-heading and {missing}."""\n')
    (root / "docs" / "bad.md").write_text(
        "[a](theory/p.md#not-a-heading) [b](gone.md) [c](#nope) [d](https://example.org/x.md)\n"
        "# Bad\n")
    problems = check_links(root)
    assert len(problems) == 5, problems
    joined = "\n".join(problems)
    for needle in ("#no-such-heading", missing, "#not-a-heading", "(gone.md)", "(#nope)"):
        assert needle in joined, (needle, problems)
    assert "example.org" not in joined


def test_checker_catches_unshipped_citations(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert check_unshipped_citations(root) == []
    (root / "a.py").write_text("# see " + "THEORY" + ".md\n")
    (root / "b.md").write_text("see [x](../" + "shared/notes.md)\n")
    (root / "c.py").write_text('"""[derived; ' + "THEORY" + ' §3]"""\n')
    problems = check_unshipped_citations(root)
    assert [p.split(":")[0] for p in problems] == ["a.py", "b.md", "c.py"], problems


def test_theory_examples_extracts_only_python_doctest_blocks(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("```python\n>>> 1 + 1\n2\n```\n\n```python\nx = 1\n```\n\n```\n>>> 3\n4\n```\n")
    source = theory_examples(page)
    assert source.strip() == ">>> 1 + 1\n2"
    bad = tmp_path / "bad.md"
    bad.write_text("```python\n>>> 1 + 1\n3\n```\n")
    test = doctest.DocTestParser().get_doctest(theory_examples(bad), {}, "bad", str(bad), 0)
    runner = doctest.DocTestRunner()
    runner.run(test, out=lambda s: None)
    assert runner.failures == 1
    # the subprocess runner of test_theory_page_examples fails on it too
    proc = subprocess.run([sys.executable, "-c", _RUN_EXAMPLES, "bad.md"],
                          input=theory_examples(bad), capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
