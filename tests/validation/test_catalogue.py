"""Every claim of the catalogue, one case each (cases are the registered claim ids).

* consistent at the quick budget (seed 0) with its mutant rejected, and its figure drawn;
* its metadata complete: a family prefix in its id, the module of its family, a statement, a
  source, a mutant description, a LaTeX statement, a plot, alpha = 0.01, a grid for every budget;
* its ``simulate`` free of theory (the static pass of :mod:`flatstart.validation.layering`; the
  profiler pass runs inside every ``verify``).

The family test files (``test_catalogue_<family>.py``) keep only their unit checks.
"""

from __future__ import annotations

import matplotlib
import pytest

from flatstart.validation.claims import BUDGETS, get, ids, verify
from flatstart.validation.layering import static_violations

matplotlib.use("Agg")

IDS = ids()

#: the catalogue module of each family (named by the family's code)
MODULES = {"P": ("p",), "VC": ("vc_signal", "vc_curvature"), "GC": ("gc",), "SP": ("sp",),
           "RW": ("rw",)}


def test_the_catalogue_has_every_family() -> None:
    assert {get(i).family for i in IDS} == set(MODULES) and len(IDS) >= 45


@pytest.mark.parametrize("claim_id", IDS)
def test_claim_consistent_mutant_rejected_and_plotted(claim_id: str) -> None:
    import matplotlib.pyplot as plt

    r = verify(claim_id, budget="quick", seed=0, cache=False)
    assert r.error is None, r.error
    assert r.verdict == "consistent", (claim_id, r.verdict, r.p_value, r.details.get("points"))
    assert r.mutant_rejected is True, (claim_id, r.mutant_p_value)
    fig = plt.figure()
    try:
        get(claim_id).plot(fig, r.records)  # type: ignore[misc]
    finally:
        plt.close(fig)


@pytest.mark.parametrize("claim_id", IDS)
def test_claim_metadata(claim_id: str) -> None:
    c = get(claim_id)
    assert claim_id.startswith(c.family + ".")
    assert c.module in {f"flatstart.validation.catalogue.{m}" for m in MODULES[c.family]}
    assert c.statement and c.latex and c.source and c.title and c.mutant_description
    assert c.plot is not None and c.alpha == 0.01  # every catalogue claim tests at 1%
    for budget in BUDGETS:
        assert len(c.grid(budget)) >= 1, (claim_id, budget)


@pytest.mark.parametrize("claim_id", IDS)
def test_simulate_never_uses_theory_static(claim_id: str) -> None:
    assert static_violations(get(claim_id).simulate) == [], f"{claim_id}.simulate reaches theory"
