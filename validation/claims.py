"""Claims, the registry, and running them: ``verify``, ``verify_all``, ``calibrate``.

The one module a claim author and a user import from. It gathers the public names of the
floors below it, where each concept lives once: :mod:`~flatstart.validation.grid` (budgets,
devices, grids), :mod:`~flatstart.validation.claim` (:class:`Claim`),
:mod:`~flatstart.validation.registry` (register, look up, load the catalogue),
:mod:`~flatstart.validation.result` (:class:`Result`) and :mod:`~flatstart.validation.run`
(verify, verify_all, calibrate).

A :class:`Claim` joins a theory prediction to a Monte Carlo measurement through a statistical
test, and carries a *mutant* (a deliberately wrong prediction the same test must reject).
Writing one needs no knowledge of the framework's internals::

    from flatstart.validation.claims import Claim, register
    from flatstart.validation import stats

    def predict(p):                      # theory side: params -> prediction
        return theory_median(p["depth"])
    def simulate(p, seed, device, budget):   # Monte Carlo side -> measurement (must pickle)
        n = {"quick": 2_000, "standard": 20_000, "full": 200_000}[budget]
        return montecarlo_samples(p["depth"], n, seed=seed, device=device)
    def test(prediction, samples, alpha):    # -> stats.TestOutcome
        return stats.quantile_test(samples, prediction, 0.5, alpha)
    def mutant(p):                       # a wrong prediction the test must reject
        return 1.5 * theory_median(p["depth"])

    register(Claim(
        id="VC.median-depth", title="...", family="VC", source="VC, Thm 1",
        statement="...", latex=r"...", kind="quantile",
        grids={"quick": [{"depth": 5}, {"depth": 20}], "full": [{"depth": d} for d in ...]},
        predict=predict, simulate=simulate, test=test, mutant=mutant))

All four functions must be module-level functions (so worker processes can import them).

Verdicts of a claim run over its grid (per-point p-values combined with Holm's method):

* ``refuted``: Holm rejects at least one grid point at the claim's alpha (combined p-value
  ``min(1, m * min p) <= alpha``);
* ``underpowered``: not refuted, but the same Holm test does *not* reject the mutant;
* ``consistent``: not refuted and the mutant is rejected;
* ``error``: a grid point raised (traceback in ``Result.error``); the run goes on.

:func:`verify_all` additionally applies Holm across the claims of the run: ``run_p_value``
and ``run_verdict`` sit beside the claim's own ``verdict``, which they never overwrite (a claim
refuted on its own but not after the run-wide correction shows both).
"""

from __future__ import annotations

from flatstart.validation import plugins as _plugins  # noqa: F401  (installs the entry-point loader)
from flatstart.validation.claim import FAMILIES, KINDS, Claim
from flatstart.validation.grid import BUDGETS, DEVICES, by_budget, check_budget, check_device
from flatstart.validation.records import ensure_predictions
from flatstart.validation.registry import (
    ALIASES,
    catalogue_errors,
    claims,
    get,
    ids,
    known_families,
    load_catalogue,
    register,
    registered,
    select,
    unregister,
)
from flatstart.validation.result import VERDICTS, Result
from flatstart.validation.run import Calibration, calibrate, verify, verify_all, versions

__all__ = [
    "ALIASES",
    "BUDGETS",
    "DEVICES",
    "FAMILIES",
    "KINDS",
    "VERDICTS",
    "Calibration",
    "Claim",
    "Result",
    "by_budget",
    "calibrate",
    "catalogue_errors",
    "check_budget",
    "check_device",
    "claims",
    "ensure_predictions",
    "get",
    "ids",
    "known_families",
    "load_catalogue",
    "register",
    "registered",
    "select",
    "unregister",
    "verify",
    "verify_all",
    "versions",
]
