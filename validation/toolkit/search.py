"""Property-based search for a theorem's counterexample (:func:`search_counterexample`, a
derandomized :func:`hypothesis.find`) and the showcase: both sides of GC Theorem 3.2 for one SGD
run (:func:`gc_thm32_sides`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from random import Random
from typing import TYPE_CHECKING, Any

from flatstart._checks import check_choice, check_int
from flatstart.validation.toolkit.vocabulary import DIRECTIONS

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


@dataclass(frozen=True)
class SearchResult:
    """Outcome of :func:`search_counterexample`.

    Attributes:
        found: a counterexample was found.
        example: the (shrunk) counterexample, or ``None``.
        lhs, bound: both sides at the example (``nan`` when none was found).
        max_examples: the search budget.
    """

    found: bool
    example: Any
    lhs: float
    bound: float
    max_examples: int

    def __str__(self) -> str:
        if not self.found:
            return f"no counterexample in {self.max_examples} examples"
        return f"counterexample: lhs = {self.lhs:.6g} > bound = {self.bound:.6g} at {self.example}"


def search_counterexample(
    bound_fn: Callable[[Any], float],
    lhs_fn: Callable[[Any], float],
    strategy: SearchStrategy[Any],
    max_examples: int = 500,
    *,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    direction: str = "upper",
) -> SearchResult:
    """Search ``strategy`` for an input where ``lhs_fn(x) > bound_fn(x)`` (a counterexample).

    Runs :func:`hypothesis.find` with ``derandomize=True`` and no example database (the same
    search every run), ``max_examples`` examples, then shrinks the counterexample to a simple
    one. A violation must exceed round-off: ``lhs > bound (1 + rtol) + atol`` (``direction=
    "lower"``: ``lhs < bound (1 − rtol) − atol``). [ref: property-based testing, MacIver et al.
    2019 (Hypothesis)]

    >>> from hypothesis import strategies as st
    >>> r = search_counterexample(lambda x: x * x, lambda x: x, st.floats(0, 10), 200)
    >>> r.found, r.example  # x > x² on (0, 1): shrinks towards a simple witness
    (True, 0.5)
    """
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    direction = check_choice("direction", direction, DIRECTIONS)
    max_examples = check_int("max_examples", max_examples)

    def violated(x: Any) -> bool:
        lhs, b = float(lhs_fn(x)), float(bound_fn(x))
        if direction == "upper":
            return lhs > b * (1 + rtol) + atol
        return lhs < b * (1 - rtol) - atol

    st_settings = settings(derandomize=True, database=None, max_examples=max_examples,
                           deadline=None, suppress_health_check=list(HealthCheck))
    try:
        ex = find(strategy, violated, settings=st_settings, random=Random(0))  # fixed search
    except NoSuchExample:
        return SearchResult(False, None, math.nan, math.nan, max_examples)
    return SearchResult(True, ex, float(lhs_fn(ex)), float(bound_fn(ex)), max_examples)


def gc_thm32_sides(run: Mapping[str, Any]) -> dict[str, float]:
    """Both sides of GC Theorem 3.2 for one SGD run
    (:func:`flatstart.validation.strategies.sgd_runs`).

    ``lhs = min_{1≤k≤T} E‖∇F(w_k)‖²`` exactly (:func:`flatstart.theory.confusion.thm32_lhs`), the
    confusion bound η along every SGD path (enumerated when ``N^{T−1} ≤ 5000``, else the
    global sup), and the printed ``ρ(F(w_1) − F*)/T + ρη`` and corrected
    ``ρ(F(w_1) − F*)/(αT) + ρη(N−1)/N`` bounds, ``ρ = 2N/(2 − NLα)``. [paper: GC Thm 3.2;
    corrected form derived, docs/theory/gc.md#sgd-under-confusion]

    >>> import numpy as np
    >>> from flatstart.theory.confusion import QuadraticFiniteSum
    >>> run = {"problem": QuadraticFiniteSum(np.array([[1.0]]), np.array([[0.0]])),
    ...        "alpha": 0.1, "T": 1, "w1": np.array([1.0])}
    >>> s = gc_thm32_sides(run)
    >>> s["lhs"], round(s["printed"], 6), round(s["corrected"], 6)
    (1.0, 0.526316, 5.263158)
    """
    from flatstart.theory.confusion import thm32_corrected_bound, thm32_lhs, thm32_printed_bound

    prob, alpha, t, w1 = run["problem"], float(run["alpha"]), int(run["T"]), run["w1"]
    lhs = thm32_lhs(prob, w1, alpha, t)
    gap = prob.gap(w1)
    eta = (prob.confusion_eta_along_paths(w1, alpha, t - 1) if prob.n ** (t - 1) <= 5000
           else prob.confusion_eta_global)
    args = (t, alpha, prob.n, prob.smoothness, eta, gap)
    return {"lhs": lhs, "printed": thm32_printed_bound(*args),
            "corrected": thm32_corrected_bound(*args), "eta": eta, "gap": gap}
