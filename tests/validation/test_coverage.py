"""The claim coverage table of the theory is complete and up to date (docs/coverage.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flatstart.theory.noise import b_simple
from flatstart.validation import coverage
from flatstart.validation.coverage import REASONS, coverage_table, missing, public_theory_functions
from flatstart.validation.tracing import Recorder

DOC = Path(__file__).resolve().parents[2] / "docs" / "coverage.md"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[str, dict[str, list[str]]]:
    """The table as ``python -m flatstart.validation.coverage`` builds it in a fresh process (memo
    caches filled by other tests in this process would hide calls from the profiler)."""
    import json
    import os
    import subprocess
    import sys

    d = tmp_path_factory.mktemp("coverage")
    md, js = d / "coverage.md", d / "coverage.json"
    env = dict(os.environ, PYTHONPATH=str(DOC.parents[1]), OMP_NUM_THREADS="1")
    env.pop("FLATSTART_DEMO_CLAIMS", None)
    subprocess.run([sys.executable, "-m", "flatstart.validation.coverage", str(md), str(js)],
                   env=env,
                   cwd=DOC.parents[1], capture_output=True, text=True, timeout=900)
    return md.read_text(), json.loads(js.read_text())


@pytest.fixture(scope="module")
def table(generated) -> dict[str, list[str]]:
    return generated[1]


def test_every_public_theory_function_has_a_claim_or_a_reason(table) -> None:
    gaps = missing(table)
    assert not gaps, ("public theory functions exercised by no claim and without a reason in "
                      "flatstart.validation.coverage.REASONS:\n" + "\n".join(gaps))


def test_reasons_name_real_uncovered_functions(table) -> None:
    public = set(public_theory_functions())
    stale = [n for n in REASONS if n not in public]
    assert not stale, f"REASONS names functions that are not public theory functions: {stale}"
    covered_with_reason = [n for n in REASONS if table.get(n)]
    assert not covered_with_reason, (
        f"these functions are now exercised by a claim; drop their reason: {covered_with_reason}")


def test_docs_table_is_current(generated) -> None:
    assert DOC.read_text() == generated[0], (
        "docs/coverage.md is stale: run `python -m flatstart.validation.coverage docs/coverage.md`")


def test_the_check_can_fail() -> None:
    """A new public function that no claim runs, with no reason, is reported."""
    fake = ["flatstart.theory.noise.b_simple", "flatstart.theory.noise.a_new_formula"]
    with Recorder(["flatstart.theory"]) as rec:
        b_simple(2.0, 1.0)
    tr = coverage.ClaimTrace("X.y", "standard", predicted=set(rec.executed))
    t = coverage_table([tr], public=fake)
    assert t == {"flatstart.theory.noise.b_simple": ["X.y"],
                 "flatstart.theory.noise.a_new_formula": []}
    assert missing(t) == ["flatstart.theory.noise.a_new_formula"]
