"""The claim coverage table of the theory is complete and up to date (docs/coverage.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from theory.noise import b_simple
from validation import coverage
from validation.coverage import REASONS, coverage_table, missing, public_theory_functions
from validation.tracing import Recorder

DOC = Path(__file__).resolve().parents[2] / "docs" / "coverage.md"


@pytest.fixture(scope="module")
def table() -> dict[str, list[str]]:
    return coverage.build()


def test_every_public_theory_function_has_a_claim_or_a_reason(table) -> None:
    gaps = missing(table)
    assert not gaps, ("public theory functions exercised by no claim and without a reason in "
                      "validation.coverage.REASONS:\n" + "\n".join(gaps))


def test_reasons_name_real_uncovered_functions(table) -> None:
    public = set(public_theory_functions())
    stale = [n for n in REASONS if n not in public]
    assert not stale, f"REASONS names functions that are not public theory functions: {stale}"
    covered_with_reason = [n for n in REASONS if table.get(n)]
    assert not covered_with_reason, (
        f"these functions are now exercised by a claim; drop their reason: {covered_with_reason}")


def test_docs_table_is_current(table) -> None:
    assert DOC.read_text() == coverage.render_markdown(table), (
        "docs/coverage.md is stale: run `python -m validation.coverage docs/coverage.md`")


def test_the_check_can_fail() -> None:
    """A new public function that no claim runs, with no reason, is reported."""
    fake = ["theory.noise.b_simple", "theory.noise.a_new_formula"]
    with Recorder(["theory"]) as rec:
        b_simple(2.0, 1.0)
    tr = coverage.ClaimTrace("X.y", "standard", predicted=set(rec.executed))
    t = coverage_table([tr], public=fake)
    assert t == {"theory.noise.b_simple": ["X.y"], "theory.noise.a_new_formula": []}
    assert missing(t) == ["theory.noise.a_new_formula"]
