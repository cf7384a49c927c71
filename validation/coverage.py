"""Claim coverage of the theory: which public theory function does which claim exercise?

A formula that no claim's prediction uses can ship wrong while every verdict stays
"consistent". This module measures, with the profiler of :mod:`flatstart.validation.tracing`, which
functions of ``theory`` run while a claim's ``predict`` is evaluated over its grid and while its
``test`` compares that prediction with a measurement (a lazy law object returned by ``predict``
is only evaluated there), and joins that with the list of public theory functions.

Every public function must be exercised by some claim or carry a written reason in
:data:`REASONS` (for example a helper whose result only feeds a covered function, or a bound
that is checked at its tight point only through another function). The generated table lives in
``docs/coverage.md``; a test regenerates it and fails when it is stale or when a public theory
function has neither a claim nor a reason.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flatstart.validation.claim import Claim
from flatstart.validation.executors import guarded_simulate
from flatstart.validation.records import Task, point_seed
from flatstart.validation.registry import select
from flatstart.validation.tracing import Recorder

__all__ = [
    "REASONS",
    "ClaimTrace",
    "coverage_table",
    "public_theory_functions",
    "render_markdown",
    "trace_claim",
]

#: Public theory functions that no claim needs to exercise, each with its reason.
REASONS: dict[str, str] = {
    # flatstart.theory.wide
    "flatstart.theory.products.gil_pelaez.LogFactor.sample_log": (
        "numpy reference sampler; only feeds LogProductLaw.sample, used in tests to cross-check "
        "the test machinery (a simulation must measure torch networks and never call theory)"),
    "flatstart.theory.products.gil_pelaez.LogProductLaw.sample": (
        "numpy reference sampler used only in tests (tests/validation/test_catalogue_vc_signal.py) "
        "to check the ratio-law test; predictions need no samples"),
    "flatstart.theory.wide.critical_width_lower_bound": (
        "a rigorous but loose necessary condition (mean-median inequality): 1 for L <= 16 and "
        "25 at L = 32 where the exact n_c = 116, so the median ratio there is far below 1/2 "
        "and no test resolves a 10% error; its statistic (layer_log_moments) is covered by "
        "the log-cumulant tests of VC.wide-linear/VC.wide-relu"),
    # flatstart.theory.asymptotics, flatstart.theory.laws, flatstart.theory.products
    "flatstart.theory.asymptotics.gaussian_log_abs_rho_mpmath": (
        "slow mpmath reference; only cross-checks the fast third-moment quadrature that "
        "P.berry-esseen tests through E|y - mu|^3"),
    "flatstart.theory.asymptotics.lugannani_rice_cdf_mpmath": (
        "slow scalar mpmath reference of lugannani_rice_cdf, used only in tests to "
        "cross-check the fast path"),
    "flatstart.theory.medians.mean_median_bound": (
        "the inequality |mean - median| <= sd is loose by >= 3x for every law we can sample "
        "(<= 0.31 sd for Gamma(n+1), ~0.22 sd for log|N|); its extremal laws are two-point laws "
        "no network produces, so a wrong constant cannot be seen"),
    "flatstart.theory.laws.terms.GammaRatio.scale": (
        "Meijer-G helper whose result only feeds meijer_terms/sympy_pdf (the numeric Meijer "
        "path is covered through the products' cdf)"),
    "flatstart.theory.laws.terms.GammaRatio.sym": "symbolic helper that only feeds sympy_pdf",
    "flatstart.theory.laws.terms.GammaRatio.weight": "Meijer-G helper whose result only feeds "
        "meijer_terms",
    "flatstart.theory.laws.law.Law.mellin_parts": (
        "symbolic sign parts; their sum is Law.mellin, which P.saddlepoint (route mellin) "
        "covers"),
    "flatstart.theory.laws.law.Law.sample": (
        "numpy reference sampler used only to cross-check the torch samplers in tests (a "
        "simulation may not call theory)"),
    "flatstart.theory.laws.law.Law.sympy_pdf": (
        "symbolic Meijer-G expression; evaluating it numerically is the slow scalar mpmath "
        "path (minutes per point); cross-checked against the numeric pdf in "
        "tests/theory/test_products.py"),
    "flatstart.theory.products.moments.sympy_pdf": "Law.sympy_pdf delegates to it (same reason)",
    "flatstart.theory.laws.law.Law.with_atom": (
        "NOT YET COVERED (open): montecarlo has no atom sampler; a claim needs a masked "
        "sampler in simulate plus an atom-count binomial test"),
    # flatstart.theory.chains, flatstart.theory.escape
    "flatstart.theory.chains.NeuralChain.sigma": (
        "accessor of one weight's standard deviation for plots and reports; predictions use "
        "the weight law itself (NeuralChain._weight, tested through every chain law), so a "
        "fault here changes no prediction (open: a claim on E P^2 = sigma^(2L) x^2 would test "
        "it directly)"),
    "flatstart.theory.chains.residual_chain_median_reference": (
        "slow reference (adaptive quadrature per t, seconds per call) used only to cross-check "
        "residual_chain_median in tests; residual_chain_median and residual_chain_log_cdf are "
        "tested by VC.residual"),
    "flatstart.theory.escape.plateau_spread_constant": (
        "shifts log median T by a depth-independent constant only, while the escape-depth "
        "claims test differences between depths; measuring it needs L -> infinity (finite-L "
        "error O(L^-1/2), ~0.2 at L = 14), far above the 0.015 gap between its two methods"),
    "flatstart.theory.escape.plateau_spread_constant_reference": (
        "slow numpy Poisson-process sampler used only to cross-check the constant in tests"),
    # flatstart.theory.confusion
    "flatstart.theory.confusion.deep_linear_per_sample_gradients": (
        "slow numpy reference (explicit backprop) used only in tests/theory/test_confusion.py "
        "to cross-check per-sample gradients; GC.orthogonal-identity measures them with torch "
        "and tests orthogonal_linear_cosine"),
}


def public_theory_functions() -> list[str]:
    """Qualified names of the public functions of ``theory``.

    A module's ``__all__`` lists its public names: each function, and each public method or
    property defined in each public class (inherited ones are listed under the class that
    defines them). Private modules (``flatstart._checks``) are argument checks, not formulas.
    """
    from flatstart import theory

    names: set[str] = set()
    for info in pkgutil.walk_packages(theory.__path__, prefix="flatstart.theory."):
        if any(part.startswith("_") for part in info.name.split(".")[2:]):
            continue
        mod = importlib.import_module(info.name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name, None)
            if callable(obj) and hasattr(obj, "__wrapped__"):  # functools.lru_cache & co.
                obj = inspect.unwrap(obj)
            home = getattr(obj, "__module__", None) or ""
            # a package's __init__ re-exports from its modules: count under the defining one
            if home != mod.__name__ and not (info.ispkg and home.startswith(mod.__name__ + ".")):
                continue
            if inspect.isfunction(obj):
                names.add(f"{home}.{obj.__qualname__}")
            elif inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    fn = value.fget if isinstance(value, property) else value
                    if isinstance(fn, (staticmethod, classmethod)):
                        fn = fn.__func__
                    if inspect.isfunction(fn):
                        names.add(f"{home}.{fn.__qualname__}")
    return sorted(names)


@dataclass
class ClaimTrace:
    """The theory functions one claim exercised over one budget's grid."""

    claim_id: str
    budget: str
    predicted: set[str] = field(default_factory=set)
    tested: set[str] = field(default_factory=set)

    @property
    def reached(self) -> set[str]:
        """Everything of theory that ran in ``predict`` or ``test``."""
        return self.predicted | self.tested


def trace_claim(claim: Claim, budget: str = "standard", seed: int = 0,
                test_budget: str = "quick") -> ClaimTrace:
    """Record the theory functions a claim runs.

    ``predict`` is traced over the grid of ``budget``; ``test`` over the grid of
    ``test_budget`` (which needs a real measurement: ``simulate`` runs there, under the layering
    guard, with the point seeds of run seed ``seed``).
    """
    out = ClaimTrace(claim.id, budget)
    for params in claim.grid(budget):
        with Recorder(["flatstart.theory"]) as rec:
            claim.predict(dict(params))
        out.predicted |= rec.executed
    for i, params in enumerate(claim.grid(test_budget)):
        task = Task(claim_id=claim.id, claim_module=claim.module, index=i, params=params,
                    seed=seed, point_seed=point_seed(seed, claim.id, params),
                    budget=test_budget, device="cpu", key="")
        prediction = claim.predict(dict(params))
        measurement = guarded_simulate(claim, task)
        with Recorder(["flatstart.theory"]) as rec:
            claim.test(prediction, measurement, claim.alpha)
            claim.test(claim.mutant(dict(params)), measurement, claim.alpha)
        out.tested |= rec.executed
    return out


def coverage_table(traces: Iterable[ClaimTrace],
                   public: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Public theory function -> sorted ids of the claims that exercise it."""
    names = list(public) if public is not None else public_theory_functions()
    table: dict[str, list[str]] = {n: [] for n in names}
    for tr in traces:
        for n in tr.reached:
            if n in table:
                table[n].append(tr.claim_id)
    return {n: sorted(set(v)) for n, v in table.items()}


def missing(table: dict[str, list[str]]) -> list[str]:
    """Public functions with no claim and no reason in :data:`REASONS`."""
    return [n for n, cl in table.items() if not cl and n not in REASONS]


def render_markdown(table: dict[str, list[str]]) -> str:
    """The coverage table as the Markdown of ``docs/coverage.md``."""
    covered = sum(1 for v in table.values() if v)
    lines = [
        "# Claim coverage of the theory",
        "",
        "Generated by `python -m flatstart.validation.coverage` (a test regenerates it and fails "
        "when it",
        "is stale). Each public function of `theory` and the claims whose `predict` (over the",
        "`standard` grid) or `test` (on the `quick` grid's measurements) runs it, as recorded by",
        "the profiler. A function with no claim has its reason beside it.",
        "",
        f"{covered} of {len(table)} public functions are exercised by a claim; "
        f"{sum(1 for n, v in table.items() if not v and n in REASONS)} have a written reason.",
        "",
        "| function | claims | reason when none |",
        "|---|---|---|",
    ]
    for name, cl in table.items():
        short = name[len("flatstart.theory."):]
        reason = ("" if cl else REASONS.get(name, "**MISSING**")).replace("|", "\\|")
        lines.append(f"| `{short}` | {', '.join(cl)} | {reason} |")
    return "\n".join(lines) + "\n"


def build(budget: str = "standard", seed: int = 0) -> dict[str, list[str]]:
    """Trace every catalogue claim (the framework's DEMO toys excluded) and return the table."""
    return coverage_table(trace_claim(c, budget, seed) for c in select() if c.family != "DEMO")


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - thin CLI
    """Write ``docs/coverage.md`` (path as the first argument; a second argument: also the
    table as JSON there) and list what is missing.

    Run it in a fresh process: memo caches filled by earlier work in the same process would
    hide calls from the profiler, so the table is only reproducible from a clean start.
    """
    import json
    import sys
    from pathlib import Path

    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else Path("docs/coverage.md")
    table = build()
    path.write_text(render_markdown(table))
    if len(args) > 1:
        Path(args[1]).write_text(json.dumps(table, indent=1))
    gaps = missing(table)
    print(f"wrote {path}; {len(gaps)} public function(s) with no claim and no reason")
    for n in gaps:
        print(f"  {n}")
    return 1 if gaps else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

