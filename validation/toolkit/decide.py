"""The test at one grid point: violation counts against an exact binomial test (almost surely,
probability, median), the mean against a one-sided Student t test (both from
:mod:`flatstart.validation.stats`), the detection power that separates ``holds`` from
``underpowered``, and :class:`PointResult`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from flatstart.validation.stats import bound_violation_test, clopper_pearson_upper, mean_test
from flatstart.validation.toolkit.measurement import _Measurement

#: A test "has power" when it detects, with probability >= POWER, a violation rate of
#: ``min(2δ, (1+δ)/2)`` (probability/median statements) or AS_DETECT_RATE (almost surely).
POWER = 0.8
AS_DETECT_RATE = 0.01
#: mean statements: below this effective sample size ``(Σ|q|)²/Σq²`` (or ESS_FRACTION·n) the
#: sample is dominated by a few values and the t test is not trusted (verdict underpowered).
MIN_ESS = 50.0
ESS_FRACTION = 0.05


def _critical(n: int, delta: float, alpha: float) -> int | None:
    """Smallest k with ``P(Bin(n, δ) ≥ k) ≤ α`` (None if even k = n does not reject)."""
    ks = np.arange(n + 1)
    sf = sps.binom.sf(ks - 1, n, delta)
    hit = np.nonzero(sf <= alpha)[0]
    return int(hit[0]) if hit.size else None


def detection_power(n: int, delta: float, alpha: float) -> float:
    """Power of the exact violation test to detect the rate ``min(2δ, (1+δ)/2)``.

    ``P(Bin(n, δ_alt) ≥ k*)``, ``k*`` the critical count of :func:`_critical`; for ``δ = 0``
    (almost surely) the power to see at least one violation at rate :data:`AS_DETECT_RATE`,
    ``1 − (1 − r)^n``. [ref] exact binomial power.

    >>> round(detection_power(2000, 0.05, 0.01), 3)
    1.0
    >>> detection_power(2000, 0.0005, 0.01) < 0.5
    True
    """
    if n <= 0:
        return 0.0
    if delta == 0.0:
        return float(1.0 - (1.0 - AS_DETECT_RATE) ** n)
    k = _critical(n, delta, alpha)
    if k is None:
        return 0.0
    alt = min(2.0 * delta, 0.5 * (1.0 + delta))
    return float(sps.binom.sf(k - 1, n, alt))


@dataclass
class PointResult:
    """The check at one grid point.

    Attributes:
        params: the full parameters (network + grid point + defaults).
        bound: the bound's value there.
        n: defined samples used; ``undefined``: dropped undefined samples.
        violations: samples on the wrong side of the bound (censored ones excluded);
            ``unknown``: censored samples that could be violations.
        measured: the statistic compared with the bound (max/min for almost surely, the
            ``1−δ`` (``δ``) quantile for probability, the median, the mean).
        tightness: ``measured / bound`` (``nan`` when the bound is 0).
        statistic, p_value: of the point's test; ``adjusted_p``: after Holm over the grid.
        power: detection power (see :func:`detection_power`); ``None`` for mean statements.
        verdict: ``"holds"``, ``"violated"``, ``"underpowered"`` or ``"inconclusive"``.
        reason: a sentence explaining the verdict.
        worst: the most extreme sample: ``{"value", "seed", "index"}`` (network ``index`` of
            the chunk built with ``seed``).
        quantiles: 5%, 50%, 95% sample quantiles, max and min.
        cp_upper: one-sided Clopper–Pearson upper limit of the violation rate.
    """

    params: dict[str, Any]
    bound: float
    n: int
    undefined: int
    violations: int
    unknown: int
    measured: float
    tightness: float
    statistic: float
    p_value: float
    adjusted_p: float
    power: float | None
    verdict: str
    reason: str
    worst: dict[str, Any]
    quantiles: dict[str, float]
    cp_upper: float
    ci: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _locate(meas: _Measurement, idx: int) -> dict[str, Any]:
    """Chunk seed, index in the chunk and chunk size of sample ``idx`` of ``meas``."""
    off = 0
    for s, m in meas.seeds:
        if idx < off + m:
            return {"seed": s, "index": idx - off, "chunk_size": m}
        off += m
    return {"seed": None, "index": idx}  # pragma: no cover


def _mean_t(v: np.ndarray, mean: float, bound: float, direction: str, alpha: float
            ) -> tuple[float, float, tuple[float, float]]:
    """``(t, p, ci)`` of the one-sided Student t test of ``E Q ≤ B`` (``direction="upper"``,
    ``p = P(T ≥ t)``) or ``E Q ≥ B`` (``p = P(T ≤ t)``), ``t = (q̄ − B)/(s/√n)`` with ``n − 1``
    degrees of freedom, and the two-sided ``1 − alpha`` interval of the mean
    (:func:`flatstart.validation.stats.mean_test`) [ref: Student 1908].

    Two conventions of the toolkit: zero spread with ``q̄ = B`` gives ``t = 0`` and
    ``p = P(T ≥ 0) = ½`` (``mean_test`` reports 1); one sample (no spread estimate) gives
    ``t = ±0``, ``p = ½`` and the interval ``(−∞, ∞)``. A ``t`` that overflows is reported as
    ``±1e300`` (``mean_test``'s convention).
    """
    if v.size < 2:
        return (mean - bound) / math.inf, 0.5, (-math.inf, math.inf)
    out = mean_test(v, bound, alpha, alternative="greater" if direction == "upper" else "less")
    p = 0.5 if out.statistic == 0.0 and out.details["sd"] == 0.0 else out.p_value
    lo, hi = out.details["ci"]
    return out.statistic, p, (lo, hi)


def _test_point(
    meas: _Measurement, bound: float, statement: str, direction: str, delta: float | None,
    alpha: float, params: dict[str, Any],
) -> PointResult:
    """Test ``statement`` against ``bound`` on the defined samples of ``meas`` (see
    :func:`~flatstart.validation.toolkit.check.check_bound` for the tests); ``adjusted_p`` is the
    raw ``p_value`` until Holm's method over the grid sets it."""
    v_all = meas.values
    ok = np.isfinite(v_all)
    idx_all = np.nonzero(ok)[0]
    v = v_all[ok]
    cz = meas.censored[ok]
    n = int(v.size)
    sign = 1.0 if direction == "upper" else -1.0
    qs = {"q05": math.nan, "median": math.nan, "q95": math.nan, "min": math.nan, "max": math.nan}
    if n:
        q = np.quantile(v, [0.05, 0.5, 0.95])
        qs = {"q05": float(q[0]), "median": float(q[1]), "q95": float(q[2]),
              "min": float(v.min()), "max": float(v.max())}
    # violation: the wrong side of the bound; a censored value (a lower limit of the truth)
    # is a sure violation when it already exceeds an upper bound, unknown otherwise.
    wrong = sign * (v - bound) > 0
    if direction == "upper":
        sure = wrong
        unknown_mask = cz & ~wrong
    else:
        sure = wrong & ~cz
        unknown_mask = cz & wrong
    k = int(np.sum(sure))
    unk = int(np.sum(unknown_mask))
    worst_i = int(np.argmax(sign * v)) if n else 0
    worst: dict[str, Any] = {"value": math.nan}
    if n:
        worst = {"value": float(v[worst_i]), **_locate(meas, int(idx_all[worst_i]))}
    d = {"almost_surely": 0.0, "median": 0.5}.get(statement, delta if delta is not None else 0.0)
    cp_up = clopper_pearson_upper(k, n, alpha) if n else 1.0
    ci = None
    if n == 0:
        return PointResult(params, bound, 0, meas.undefined, 0, unk, math.nan, math.nan,
                           math.nan, 1.0, 1.0, 0.0, "underpowered",
                           "no defined samples", worst, qs, 1.0)
    if statement == "mean":
        mean = float(np.mean(v))
        measured = mean
        t, p, ci = _mean_t(v, mean, bound, direction, alpha)
        aw = np.abs(v)
        ess = float(aw.sum() ** 2 / np.sum(aw**2)) if np.any(aw > 0) else float(n)
        power: float | None = None
        if unk or np.any(cz):
            verdict, reason = "inconclusive", "censored samples: the mean is not identified"
            p = 1.0
        elif ess < max(MIN_ESS, ESS_FRACTION * n):
            verdict = "underpowered"
            reason = (f"heavy-tailed sample (effective sample size {ess:.0f} of {n}): the sample "
                      "mean is dominated by a few values; state the bound on the median or a "
                      "probability, or on log-moments")
            p = 1.0
        else:
            verdict, reason = "holds", f"mean {mean:.4g} vs bound {bound:.4g} (t = {t:.3g})"
        statistic = t
    else:
        # exact binomial p = P(Bin(n, d) >= k); d = 0 (almost surely): p = 0 at any violation
        p = bound_violation_test(k, n, d, alpha).p_value
        power = detection_power(n, d, alpha)
        statistic = float(k)
        if statement == "almost_surely":
            measured = float(v.max() if direction == "upper" else v.min())
        elif statement == "median":
            measured = float(np.median(v))
        else:
            level = 1.0 - d if direction == "upper" else d
            measured = float(np.quantile(v, level))
        # would the censored unknowns have made it reject?
        p_worst = bound_violation_test(k + unk, n, d, alpha).p_value
        if p > alpha and p_worst <= alpha:
            verdict = "inconclusive"
            reason = (f"{unk} censored sample(s) could be violations (raise max_steps)")
        elif power < POWER:
            verdict = "underpowered"
            what = (f"a violation rate of {AS_DETECT_RATE}" if d == 0.0 else
                    f"a violation rate of {min(2 * d, 0.5 * (1 + d)):.3g}")
            reason = (f"n = {n} samples detect {what} with probability {power:.2f} < {POWER}: "
                      "raise the budget (or samples)")
        else:
            verdict = "holds"
            reason = f"{k} of {n} violations (rate <= {cp_up:.3g} at {1 - alpha:.0%})"
    tight = measured / bound if bound != 0 else math.nan
    return PointResult(params, bound, n, meas.undefined, k, unk, measured, tight, statistic, p,
                       p, power, verdict, reason, worst, qs, cp_up, ci)
