"""Statistical tests that decide whether a measurement agrees with a prediction.

Every test returns a :class:`TestOutcome` ``(statistic, p_value, reject, n, details)`` with
``reject = p_value <= alpha``; claims combine per-grid-point p-values with :func:`holm`.

Which test for which claim (docs/verifying.md, Statistics):

=================  ===========================================================================
claim kind         test
=================  ===========================================================================
distribution       :func:`ks_test` (Kolmogorov-Smirnov) or :func:`ad_test` (Anderson-Darling)
                   against an exact CDF
quantile           :func:`quantile_test` (exact binomial test on the count below the quantile)
probability        :func:`binomial_test` (exact binomial test)
moment             :func:`log_moment_test` (CI in log space) or :func:`mean_test` for
                   light-tailed quantities such as log-moments; never a raw heavy-tailed mean
bound              :func:`bound_violation_test` (one-sided Clopper-Pearson)
trend              :func:`trend_test` (OLS slope with a t interval)
identity           :func:`identity_test` (agreement to round-off)
=================  ===========================================================================

The tests assume independent samples (one sample per independently seeded network); every
docstring names the test's further assumptions.

Its length: every calibrated test the catalogue uses, each with its slow reference (bootstrap,
exact enumeration) beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special
from scipy import stats as sps

from flatstart._checks import check_int, check_positive, check_probability, check_real

__all__ = [
    "TestOutcome",
    "ad_pvalue",
    "ad_statistic",
    "ad_test",
    "band_slope_test",
    "binomial_test",
    "bonferroni",
    "bound_violation_test",
    "combine",
    "clopper_pearson",
    "clopper_pearson_upper",
    "dkw_epsilon",
    "holm",
    "identity_test",
    "ks_test",
    "log_moment_test",
    "mean_test",
    "quantile_test",
    "trend_test",
]


@dataclass(frozen=True)
class TestOutcome:
    """Result of one statistical test at one grid point.

    Attributes:
        statistic: the test statistic (KS ``D``, ``A^2``, a z or t value, a count, ...).
        p_value: p-value in [0, 1] under the null hypothesis "the prediction is right".
        reject: ``p_value <= alpha`` for the alpha the test was run at.
        n: number of samples (or compared numbers) the test used.
        details: JSON-friendly extra numbers (estimates, confidence intervals, ...).
    """

    __test__ = False  # not a pytest class

    statistic: float
    p_value: float
    reject: bool
    n: int
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (floats, bools, ints, nested details)."""
        return {
            "statistic": float(self.statistic),
            "p_value": float(self.p_value),
            "reject": bool(self.reject),
            "n": int(self.n),
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestOutcome:
        """Inverse of :meth:`to_dict`."""
        return cls(
            statistic=float(data["statistic"]),
            p_value=float(data["p_value"]),
            reject=bool(data["reject"]),
            n=int(data["n"]),
            details=dict(data.get("details", {})),
        )


def _alpha(alpha: Any) -> float:
    return check_probability("alpha", alpha)


def _samples(name: str, samples: Any, minimum: int = 1) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < minimum:
        raise ValueError(f"{name} must hold at least {minimum} values, got {x.size}")
    if not np.all(np.isfinite(x)):
        bad = int(np.sum(~np.isfinite(x)))
        raise ValueError(f"{name} must be finite, got {bad} non-finite value(s) of {x.size}")
    return x


def _outcome(
    statistic: float, pval: float, alpha: float, n: int, **details: Any
) -> TestOutcome:
    pv = float(min(1.0, max(0.0, pval)))
    return TestOutcome(float(statistic), pv, bool(pv <= alpha), int(n), details)


_ALTERNATIVES = ("two-sided", "less", "greater")


def _check_alternative(alternative: Any) -> str:
    if alternative not in _ALTERNATIVES:
        raise ValueError(
            f"alternative must be one of {list(_ALTERNATIVES)}, got {alternative!r}"
        )
    return str(alternative)


def _t_pvalue(t: float, df: int, alternative: str) -> float:
    """p-value of a t statistic: two-sided ``2 P(T ≥ |t|)``, ``"less"`` ``P(T ≤ t)``
    (``H1``: parameter below the null value), ``"greater"`` ``P(T ≥ t)``."""
    if alternative == "less":
        return float(sps.t.cdf(t, df))
    if alternative == "greater":
        return float(sps.t.sf(t, df))
    return float(2.0 * sps.t.sf(abs(t), df))


def _cdf_values(cdf: Callable[[np.ndarray], Any], x: np.ndarray) -> np.ndarray:
    u = np.asarray(cdf(x), dtype=np.float64)
    if u.shape != x.shape:
        u = np.broadcast_to(u, x.shape).astype(np.float64)
    if not np.all(np.isfinite(u)) or np.any(u < -1e-12) or np.any(u > 1 + 1e-12):
        raise ValueError("cdf must return finite values in [0, 1] at the samples")
    return np.clip(u, 0.0, 1.0)


# --------------------------------------------------------------------------- distributions


def ks_test(samples: Any, cdf: Callable[[np.ndarray], Any], alpha: float = 0.01) -> TestOutcome:
    r"""One-sample Kolmogorov-Smirnov test against an exact CDF.

    ``D = sup_x |F_n(x) - F(x)|``; p-value from ``scipy.stats.kstest`` (exact distribution of
    ``D`` for n <= 10000, the asymptotic Kolmogorov law beyond). [ref] Kolmogorov 1933;
    Simard & L'Ecuyer 2011.

    Assumptions: iid samples, ``cdf`` fully specified (no fitted parameters) and continuous.
    For a law with atoms the test is conservative (rejects less often than alpha).

    >>> x = np.random.default_rng(0).normal(size=500)
    >>> ks_test(x, sps.norm.cdf, alpha=0.01).reject
    False
    """
    a = _alpha(alpha)
    x = _samples("samples", samples)
    u = _cdf_values(cdf, np.sort(x))
    res = sps.kstest(u, "uniform")
    return _outcome(res.statistic, res.pvalue, a, x.size, test="kolmogorov-smirnov")


def ad_statistic(u: Any) -> float:
    r"""Anderson-Darling statistic of probability-integral-transformed samples ``u``.

    ``A^2 = -n - (1/n) sum_i (2i-1) [log u_(i) + log(1 - u_(n+1-i))]`` with ``u_(i)`` sorted
    and clipped to ``[1e-300, 1 - 2^-53]`` so that a sample on the boundary gives a large
    finite value. [ref] Anderson & Darling 1954.

    >>> round(ad_statistic([0.1, 0.5, 0.9]), 6)
    0.272553
    """
    v = np.sort(np.asarray(u, dtype=np.float64).ravel())
    n = v.size
    if n == 0:
        raise ValueError("u must hold at least one value")
    v = np.clip(v, 1e-300, 1.0 - 2.0**-53)
    i = np.arange(1, n + 1)
    s = np.sum((2 * i - 1) * (np.log(v) + np.log1p(-v[::-1])))
    return float(-n - s / n)


def _adinf(z: float) -> float:
    """Limiting CDF of A^2 (Marsaglia & Marsaglia 2004, ``ADinf``; |error| < 2e-6)."""
    if z <= 0.0:
        return 0.0
    if z < 2.0:
        poly = 2.00012 + (
            0.247105 - (0.0649821 - (0.0347962 - (0.011672 - 0.00168691 * z) * z) * z) * z
        ) * z
        return math.exp(-1.2337141 / z) / math.sqrt(z) * poly
    inner = 1.0776 - (
        2.30695 - (0.43424 - (0.082433 - (0.008056 - 0.0003146 * z) * z) * z) * z
    ) * z
    return math.exp(-math.exp(inner))


def _ad_errfix(n: int, x: float) -> float:
    """Finite-n correction of ``ADinf`` (Marsaglia & Marsaglia 2004, ``errfix``)."""
    if x > 0.8:
        t = x
        poly = -130.2137 + (
            745.2337 - (1705.091 - (1950.646 - (1116.360 - 255.7844 * t) * t) * t) * t
        ) * t
        return poly / n
    c = 0.01265 + 0.1757 / n
    if x < c:
        t = x / c
        t = math.sqrt(t) * (1.0 - t) * (49.0 * t - 102.0)
        return t * (0.0037 / (n * n) + 0.00078 / n + 0.00006) / n
    t = (x - c) / (0.8 - c)
    t = -0.00022633 + (6.54034 - (14.6538 - (14.458 - (8.259 - 1.91864 * t) * t) * t) * t) * t
    return t * (0.04213 + 0.01365 / n) / n


def ad_pvalue(a2: float, n: int) -> float:
    r"""Upper-tail p-value ``P(A^2_n >= a2)`` of Anderson-Darling's statistic (specified null).

    ``p = 1 - [ADinf(a2) + errfix(n, ADinf(a2))]`` with the approximations of
    [ref] G. Marsaglia & J. Marsaglia, *Evaluating the Anderson-Darling distribution*,
    J. Stat. Softw. 9(2), 2004 (accurate to about 1e-5 in the CDF for n >= 5).
    Reference points of the limiting law: 5% at 2.492, 1% at 3.857.

    >>> round(ad_pvalue(2.492, 10**6), 3), round(ad_pvalue(3.857, 10**6), 3)
    (0.05, 0.01)
    """
    a2 = float(a2)
    n = check_int("n", n)
    if not math.isfinite(a2):
        return 0.0
    x = _adinf(a2)
    return float(min(1.0, max(0.0, 1.0 - (x + _ad_errfix(n, x)))))


def ad_test(samples: Any, cdf: Callable[[np.ndarray], Any], alpha: float = 0.01) -> TestOutcome:
    r"""One-sample Anderson-Darling test against an exact CDF.

    Probability-integral transform ``u_i = F(x_i)`` (uniform under the null), then
    :func:`ad_statistic` and the Marsaglia p-value :func:`ad_pvalue`. More weight on the tails
    than :func:`ks_test`. [ref] Anderson & Darling 1954; Marsaglia & Marsaglia 2004.

    Assumptions: iid samples, ``F`` fully specified (no fitted parameters) and continuous.

    >>> x = np.random.default_rng(1).normal(size=500)
    >>> ad_test(x, sps.norm.cdf).reject, ad_test(1.3 * x, sps.norm.cdf).reject
    (False, True)
    """
    a = _alpha(alpha)
    x = _samples("samples", samples)
    u = _cdf_values(cdf, x)
    a2 = ad_statistic(u)
    return _outcome(a2, ad_pvalue(a2, x.size), a, x.size, test="anderson-darling")


def dkw_epsilon(n: int, alpha: float) -> float:
    r"""Half-width of the Dvoretzky-Kiefer-Wolfowitz band ``sqrt(log(2/alpha) / (2n))``.

    ``P(sup |F_n - F| > eps) <= alpha`` for every continuous F (Massart 1990 constant). [ref]

    >>> round(dkw_epsilon(1000, 0.05), 5)
    0.04295
    """
    n = check_int("n", n)
    a = _alpha(alpha)
    return math.sqrt(math.log(2.0 / a) / (2.0 * n))


# --------------------------------------------------------------------------- binomial


def binomial_test(
    successes: int, n: int, p: float, alpha: float = 0.01, alternative: str = "two-sided"
) -> TestOutcome:
    r"""Exact binomial test of ``H0: P(event) = p`` from ``successes`` of ``n`` trials.

    p-value from ``scipy.stats.binomtest`` (two-sided: sum of the probabilities of outcomes
    no more likely than the observed one). [ref] Clopper & Pearson 1934.

    Assumptions: independent trials with a common probability.

    >>> binomial_test(5, 10, 0.5).p_value
    1.0
    """
    a = _alpha(alpha)
    n = check_int("n", n)
    k = check_int("successes", successes, minimum=0, maximum=n)
    p = check_probability("p", p, open_interval=False)
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(
            f"alternative must be one of ['two-sided', 'less', 'greater'], got {alternative!r}"
        )
    res = sps.binomtest(k, n, p, alternative=alternative)
    lo, hi = clopper_pearson(k, n, 1.0 - a)
    return _outcome(
        k, res.pvalue, a, n, test="binomial", p_hat=k / n, p=p, ci=[lo, hi],
        alternative=alternative,
    )


def quantile_test(samples: Any, quantile: float, q: float, alpha: float = 0.01) -> TestOutcome:
    r"""Exact binomial test that ``quantile`` is the ``q``-quantile of the sampled law.

    Under the null ``#{x_i <= x_q} ~ Bin(n, q)`` exactly when the law is continuous at
    ``x_q`` (no atom there); :func:`binomial_test` on that count. [ref] the sign test.

    >>> x = np.random.default_rng(2).normal(size=1000)
    >>> quantile_test(x, 0.0, 0.5).reject, quantile_test(x, 0.3, 0.5).reject
    (False, True)
    """
    x = _samples("samples", samples)
    xq = check_real("quantile", quantile)
    qq = check_probability("q", q)
    k = int(np.sum(x <= xq))
    out = binomial_test(k, x.size, qq, alpha)
    details = dict(out.details, test="quantile-binomial", quantile=xq, q=qq)
    return TestOutcome(out.statistic, out.p_value, out.reject, out.n, details)


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    r"""Two-sided Clopper-Pearson (exact) confidence interval for a binomial proportion.

    ``lo = Beta^{-1}((1-level)/2; k, n-k+1)``, ``hi = Beta^{-1}((1+level)/2; k+1, n-k)``,
    with ``lo = 0`` at ``k = 0`` and ``hi = 1`` at ``k = n``. [ref] Clopper & Pearson 1934.

    >>> lo, hi = clopper_pearson(0, 10, 0.95)
    >>> lo, round(hi, 6)
    (0.0, 0.308497)
    """
    n = check_int("n", n)
    k = check_int("k", k, minimum=0, maximum=n)
    lv = check_probability("level", level)
    t = (1.0 - lv) / 2.0
    lo = 0.0 if k == 0 else float(special.betaincinv(k, n - k + 1, t))
    hi = 1.0 if k == n else float(special.betaincinv(k + 1, n - k, 1.0 - t))
    return lo, hi


def clopper_pearson_upper(k: int, n: int, alpha: float = 0.01) -> float:
    r"""One-sided Clopper-Pearson upper limit: ``Beta^{-1}(1 - alpha; k+1, n-k)`` (1 if k = n).

    The true rate is below it with probability >= 1 - alpha. [ref] Clopper & Pearson 1934.

    >>> round(clopper_pearson_upper(0, 100, 0.05), 6)  # the "rule of three": ~ 3/n
    0.029513
    """
    n = check_int("n", n)
    k = check_int("k", k, minimum=0, maximum=n)
    a = _alpha(alpha)
    return 1.0 if k == n else float(special.betaincinv(k + 1, n - k, 1.0 - a))


def bound_violation_test(violations: int, n: int, delta: float, alpha: float = 0.01) -> TestOutcome:
    r"""One-sided exact test that a bound holds with probability at least ``1 - delta``.

    ``H0: rate <= delta`` against ``H1: rate > delta`` for ``violations ~ Bin(n, rate)``;
    ``p = P(Bin(n, delta) >= violations)``. Rejecting at level alpha is equivalent to the
    one-sided Clopper-Pearson *lower* limit at level ``1 - alpha`` exceeding ``delta``. The
    details also carry the one-sided upper limit :func:`clopper_pearson_upper` (what the data
    allow the violation rate to be). ``delta = 0`` (a bound claimed to hold surely) rejects at
    the first violation (p = 0). [ref] Clopper & Pearson 1934.

    >>> bound_violation_test(0, 1000, 0.0).reject, bound_violation_test(1, 1000, 0.0).reject
    (False, True)
    """
    a = _alpha(alpha)
    n = check_int("n", n)
    k = check_int("violations", violations, minimum=0, maximum=n)
    d = check_probability("delta", delta, open_interval=False)
    p = float(sps.binom.sf(k - 1, n, d)) if k > 0 else 1.0
    lo = 0.0 if k == 0 else float(special.betaincinv(k, n - k + 1, a))
    return _outcome(
        k, p, a, n, test="bound-violation", rate=k / n, delta=d, cp_lower=lo,
        cp_upper=clopper_pearson_upper(k, n, a),
    )


# --------------------------------------------------------------------------- moments


def mean_test(
    samples: Any, predicted: float, alpha: float = 0.01, alternative: str = "two-sided"
) -> TestOutcome:
    r"""One-sample Student t test of ``H0: E X = predicted``.

    ``t = (xbar - mu) / (s / sqrt(n))`` with n-1 degrees of freedom. [ref] Student 1908.
    ``alternative="less"`` tests ``H0: E X ≥ predicted`` against ``E X < predicted``
    (p = ``P(T ≤ t)``), ``"greater"`` tests ``H0: E X ≤ predicted`` (p = ``P(T ≥ t)``); the
    reported ``ci`` is always the two-sided ``1 − alpha`` interval. One-sided p-values are
    more sensitive to skewness: the error of one t tail is ``O(skew/√n)`` (e.g. exponential
    data, n = 100: ``"less"`` rejects a true H0 at about twice alpha), while the two tails'
    errors cancel to leading order in the two-sided test [ref: Edgeworth expansion of t].

    Assumptions: iid samples with finite variance, n large enough for the CLT (the
    test is exact for normal samples). Use it for light-tailed quantities such as
    ``log|X|`` (log-moments); for moments of heavy-tailed products use :func:`log_moment_test`.

    >>> x = np.random.default_rng(3).normal(size=400)
    >>> mean_test(x, 0.0).reject, mean_test(x, 0.5).reject
    (False, True)
    >>> [mean_test(x, 0.5, alternative=a).reject for a in ("less", "greater")]
    [True, False]
    """
    a = _alpha(alpha)
    alt = _check_alternative(alternative)
    x = _samples("samples", samples, minimum=2)
    mu = check_real("predicted", predicted)
    n = x.size
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1))
    se = sd / math.sqrt(n)
    if se == 0.0:
        t = 0.0 if mean == mu else math.copysign(math.inf, mean - mu)
        p = 1.0 if mean == mu else _degenerate_p(mean - mu, alt)
    else:
        t = (mean - mu) / se
        p = _t_pvalue(t, n - 1, alt)
    q = float(sps.t.ppf(1.0 - a / 2.0, n - 1))
    return _outcome(
        t if math.isfinite(t) else math.copysign(1e300, t), p, a, n, test="student-t",
        mean=mean, sd=sd, ci=[mean - q * se, mean + q * se], predicted=mu, alternative=alt,
    )


def _degenerate_p(diff: float, alternative: str) -> float:
    """p-value when the standard error is 0 and the estimate differs from the null by diff."""
    if alternative == "less":
        return 0.0 if diff < 0 else 1.0
    if alternative == "greater":
        return 0.0 if diff > 0 else 1.0
    return 0.0


def _logmeanexp(v: np.ndarray) -> float:
    m = float(np.max(v))
    return m + math.log(float(np.mean(np.exp(v - m))))


def log_moment_test(
    log_abs_samples: Any,
    s: float,
    predicted_log_moment: float,
    alpha: float = 0.01,
    method: str = "delta",
    resamples: int = 2000,
    seed: int = 0,
) -> TestOutcome:
    r"""Test ``H0: log E|X|^s = predicted_log_moment`` from samples of ``log|X|``.

    The estimate ``m = log mean exp(s log|x_i|)`` is computed in log space (log-sum-exp, no
    overflow). Two ways to its sampling error:

    * ``method="delta"`` (fast): delta method, ``se(m) = sd(w) / sqrt(n)`` with
      ``w_i = exp(s log|x_i| - m)`` (weights of mean 1); z test. [ref] delta method.
    * ``method="bootstrap"`` (slow reference): percentile bootstrap of ``m`` with
      ``resamples`` resamples; two-sided p-value ``2 min(P*(m* <= mu), P*(m* >= mu))`` of the
      bootstrap distribution re-centred at the estimate (``m* - m + mu``). [ref] Efron 1979.

    Assumptions: iid samples and ``E|X|^{2s} < inf``. Moments of products of many factors are
    dominated by rare large values; the test is only meaningful when the sample reaches them.
    ``details["ess"] = (sum w)^2 / sum w^2`` is the effective sample size of the weights: an
    ess much smaller than n (say < 100) means the estimate is not yet trustworthy.

    >>> lx = np.log(np.abs(np.random.default_rng(4).normal(size=4000)))
    >>> log_moment_test(lx, 2.0, 0.0).reject, log_moment_test(lx, 2.0, math.log(1.5)).reject
    (False, True)
    """
    a = _alpha(alpha)
    lx = _samples("log_abs_samples", log_abs_samples, minimum=2)
    ss = check_real("s", s)
    mu = check_real("predicted_log_moment", predicted_log_moment)
    if method not in ("delta", "bootstrap"):
        raise ValueError(f"method must be one of ['delta', 'bootstrap'], got {method!r}")
    v = ss * lx
    m = _logmeanexp(v)
    w = np.exp(v - m)
    n = lx.size
    ess = float(np.sum(w) ** 2 / np.sum(w**2))
    if method == "delta":
        se = float(np.std(w, ddof=1)) / math.sqrt(n)
        if se == 0.0:
            z = 0.0 if m == mu else math.copysign(1e300, m - mu)
            p = 1.0 if m == mu else 0.0
        else:
            z = (m - mu) / se
            p = float(2.0 * sps.norm.sf(abs(z)))
        zq = float(sps.norm.ppf(1.0 - a / 2.0))
        return _outcome(
            z, p, a, n, test="log-moment-delta", estimate=m, se=se,
            ci=[m - zq * se, m + zq * se], predicted=mu, ess=ess,
        )
    reps = check_int("resamples", resamples, minimum=100)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    boot = np.empty(reps)
    for r in range(reps):
        boot[r] = _logmeanexp(v[rng.integers(0, n, n)])
    shifted = boot - m + mu  # null distribution of the estimate, centred at mu
    p = 2.0 * min(float(np.mean(shifted <= m)), float(np.mean(shifted >= m)))
    lo, hi = np.quantile(boot, [a / 2.0, 1.0 - a / 2.0])
    se = float(np.std(boot, ddof=1))
    return _outcome(
        (m - mu) / se if se > 0 else 0.0, p, a, n, test="log-moment-bootstrap", estimate=m,
        se=se, ci=[float(lo), float(hi)], predicted=mu, ess=ess,
    )


# --------------------------------------------------------------------------- trends, identities


def trend_test(
    x: Any, y: Any, predicted_slope: float, alpha: float = 0.01, alternative: str = "two-sided"
) -> TestOutcome:
    r"""t test of ``H0: slope = predicted_slope`` for an ordinary-least-squares line y ~ a + b x.

    ``t = (b - b0) / se(b)``, ``se(b)^2 = s^2 / sum (x - xbar)^2``, n-2 degrees of freedom.
    [ref] classical linear regression. ``alternative="less"`` tests ``H0: slope ≥ b0``
    against ``slope < b0`` (p = ``P(T ≤ t)``), ``"greater"`` tests ``H0: slope ≤ b0``
    (p = ``P(T ≥ t)``); ``ci`` is always the two-sided ``1 − alpha`` interval.

    Assumptions: independent, homoscedastic, roughly normal residuals around a straight line
    (for a power law fit ``log y`` against ``log x``).

    >>> rng = np.random.default_rng(5)
    >>> x = np.linspace(0, 1, 50); y = 2 * x + 0.1 * rng.normal(size=50)
    >>> trend_test(x, y, 2.0).reject, trend_test(x, y, 1.5).reject
    (False, True)
    >>> trend_test(x, y, 1.5, alternative="greater").reject
    True
    >>> trend_test(x, y, 1.5, alternative="less").reject
    False
    """
    a = _alpha(alpha)
    alt = _check_alternative(alternative)
    xx = _samples("x", x, minimum=3)
    yy = _samples("y", y, minimum=3)
    if xx.shape != yy.shape:
        raise ValueError(f"x and y must have the same length, got {xx.size} and {yy.size}")
    if np.ptp(xx) == 0:
        raise ValueError("x must not be constant")
    b0 = check_real("predicted_slope", predicted_slope)
    n = xx.size
    res = sps.linregress(xx, yy)
    se = float(res.stderr)
    df = n - 2
    if se == 0.0:
        t = 0.0 if res.slope == b0 else math.copysign(1e300, res.slope - b0)
        p = 1.0 if res.slope == b0 else _degenerate_p(float(res.slope) - b0, alt)
    else:
        t = (float(res.slope) - b0) / se
        p = _t_pvalue(t, df, alt)
    q = float(sps.t.ppf(1.0 - a / 2.0, df))
    return _outcome(
        t, p, a, n, test="ols-slope-t", slope=float(res.slope), intercept=float(res.intercept),
        se=se, ci=[float(res.slope) - q * se, float(res.slope) + q * se], predicted=b0,
        alternative=alt,
    )


def band_slope_test(x: Any, y: Any, lo: float, hi: float, alpha: float = 0.01) -> TestOutcome:
    r"""Test of the composite ``H0: lo ≤ slope ≤ hi`` for an OLS line y ~ a + b x.

    p = 1 when the fitted slope lies in ``[lo, hi]``; otherwise the two-sided
    :func:`trend_test` p-value against the nearer edge. Rejecting when that p-value is
    ``≤ alpha`` has size ``≤ alpha`` for every slope in the band: at an interior slope both
    one-sided tail probabilities are below ``alpha/2``, so the size is at most ``alpha``
    (exactly the two-sided test when ``lo = hi``) [ref: Berger 1982 intersection–union
    tests; Schuirmann 1987 two one-sided tests, here for the non-equivalence direction].
    Use it for "flat within a margin" claims (slope in ``±margin``).

    Args:
        x, y: data (at least 3 points, x not constant).
        lo, hi: the band, ``lo ≤ hi``.
        alpha: level.

    >>> x = np.arange(10.0); y = 0.3 * x + 0.01 * np.sin(x)
    >>> band_slope_test(x, y, 0.2, 0.4).p_value, band_slope_test(x, y, 0.5, 0.6).reject
    (1.0, True)
    """
    lo_f = check_real("lo", lo)
    hi_f = check_real("hi", hi)
    if hi_f < lo_f:
        raise ValueError(f"hi must be >= lo = {lo_f}, got {hi!r}")
    mid = trend_test(x, y, 0.5 * (lo_f + hi_f), alpha)
    b = float(mid.details["slope"])
    if lo_f <= b <= hi_f:
        return TestOutcome(mid.statistic, 1.0, False, mid.n,
                           dict(mid.details, test="ols-slope-band", band=[lo_f, hi_f],
                                predicted=[lo_f, hi_f]))
    edge = lo_f if b < lo_f else hi_f
    out = trend_test(x, y, edge, alpha)
    return TestOutcome(out.statistic, out.p_value, out.reject, out.n,
                       dict(out.details, test="ols-slope-band", band=[lo_f, hi_f]))


def identity_test(
    lhs: Any, rhs: Any, rtol: float = 1e-10, atol: float = 0.0, alpha: float = 0.01
) -> TestOutcome:
    r"""Deterministic check that two arrays agree to round-off: ``|l - r| <= atol + rtol |r|``.

    Not a statistical test: ``p_value = 1`` when every element agrees and ``0`` otherwise (so
    it rejects at any alpha exactly when they disagree and never adds to Holm's count of
    false rejections). ``statistic = max |l - r| / (atol + rtol |r|)`` (<= 1 means agreement).

    >>> identity_test([1.0, 2.0], [1.0, 2.0 + 1e-13]).reject
    False
    >>> identity_test([1.0], [1.1]).reject
    True
    """
    a = _alpha(alpha)
    lv = np.asarray(lhs, dtype=np.float64).ravel()
    rv = np.asarray(rhs, dtype=np.float64).ravel()
    if lv.shape != rv.shape:
        raise ValueError(f"lhs and rhs must have the same size, got {lv.size} and {rv.size}")
    if lv.size == 0:
        raise ValueError("lhs must hold at least one value")
    rt = check_positive("rtol", rtol, allow_zero=True)
    at = check_positive("atol", atol, allow_zero=True)
    if rt == 0.0 and at == 0.0:
        raise ValueError("rtol and atol must not both be 0")
    if not (np.all(np.isfinite(lv)) and np.all(np.isfinite(rv))):
        return _outcome(math.inf, 0.0, a, lv.size, test="identity", non_finite=True)
    tol = at + rt * np.abs(rv)
    err = np.abs(lv - rv)
    ratio = float(np.max(err / tol))
    ok = bool(np.all(err <= tol))
    return _outcome(
        ratio, 1.0 if ok else 0.0, a, lv.size, test="identity", max_abs_error=float(err.max()),
        rtol=rt, atol=at,
    )


# --------------------------------------------------------------------------- multiplicity


def bonferroni(p_values: Iterable[float]) -> tuple[float, int]:
    r"""Bonferroni combination of ``k`` tests of one hypothesis: ``p = min(1, k · min_i p_i)``,
    a valid p-value whatever the tests' dependence [ref: Bonferroni 1936]. Returns ``(p, i)``
    with ``i`` the index of the (first) smallest ``p_i``.

    >>> bonferroni([0.25, 0.125, 0.5])
    (0.375, 1)
    >>> bonferroni([0.5, 0.75])
    (1.0, 0)
    """
    ps = [float(p) for p in p_values]
    if not ps:
        raise ValueError("p_values must hold at least one p-value, got none")
    i = min(range(len(ps)), key=ps.__getitem__)
    return min(1.0, len(ps) * ps[i]), i


def combine(parts: Mapping[str, TestOutcome], alpha: float, statistic: float, n: int,
            **details: Any) -> TestOutcome:
    """One :class:`TestOutcome` from named sub-tests of one grid point, combined by
    :func:`bonferroni`; ``details`` keeps every part (``"parts"``) and the extra ``details``.

    >>> a = TestOutcome(1.0, 0.2, False, 10)
    >>> b = TestOutcome(2.0, 0.004, True, 10)
    >>> o = combine({"a": a, "b": b}, 0.01, 2.0, 10)
    >>> o.p_value, o.reject, sorted(o.details["parts"])
    (0.008, True, ['a', 'b'])
    """
    p, _ = bonferroni(v.p_value for v in parts.values())
    return TestOutcome(
        float(statistic), p, bool(p <= _alpha(alpha)), int(n),
        {"combination": "bonferroni", "parts": {k: v.to_dict() for k, v in parts.items()},
         **details},
    )


def holm(
    p_values: Sequence[float] | np.ndarray, alpha: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    r"""Holm's step-down correction: which hypotheses to reject, and adjusted p-values.

    Sort ``p_(1) <= ... <= p_(m)``; adjusted ``p~_(i) = max_{j<=i} min(1, (m - j + 1) p_(j))``;
    reject ``H_(i)`` iff ``p~_(i) <= alpha``. Controls the family-wise error rate at alpha under
    any dependence. At least one rejection iff ``m * min p <= alpha`` (so the combined
    p-value of a family is ``min(1, m * min p)``). [ref] Holm 1979.

    >>> rej, adj = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    >>> rej.tolist(), adj.round(3).tolist()
    ([True, False, False, True], [0.03, 0.06, 0.06, 0.02])
    """
    a = _alpha(alpha)
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if p.size == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    if np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"p_values must lie in [0, 1], got {p.tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adj_sorted = np.maximum.accumulate(scaled)
    adj = np.empty(m)
    adj[order] = adj_sorted
    return adj <= a, adj

