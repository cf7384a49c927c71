"""Tests of flatstart.validation.stats: calibration under the null, power against mutants, hand
cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from flatstart.validation import stats as vs

REPS = 300  # seeds per calibration check


def _not_above(rejections: int, reps: int, alpha: float) -> bool:
    """The rejection rate is not significantly above alpha (one-sided exact test, 0.001)."""
    return not vs.bound_violation_test(rejections, reps, alpha, alpha=0.001).reject


# --------------------------------------------------------------------------- KS / AD

DIST_CASES = [
    # (name, test function)
    ("ks", vs.ks_test),
    ("ad", vs.ad_test),
]


@pytest.mark.parametrize(("name", "test"), DIST_CASES)
def test_distribution_tests_calibrated_and_powerful(name: str, test) -> None:
    alpha = 0.05
    n = 200
    true_rej = 0
    mutant_rej = 0
    for seed in range(REPS):
        x = np.random.default_rng(seed).standard_normal(n)
        true_rej += test(x, sps.norm.cdf, alpha).reject
        # mutant: the right shape but a 1.5x too wide scale
        mutant_rej += test(x, lambda t: sps.norm.cdf(t, 0, 1.5), alpha).reject
    assert _not_above(true_rej, REPS, alpha), f"{name}: {true_rej}/{REPS} false rejections"
    assert true_rej > 0, f"{name}: never rejects under the null: suspiciously conservative"
    assert mutant_rej / REPS >= 0.95, f"{name}: mutant rejected only {mutant_rej}/{REPS}"


def test_ad_statistic_matches_slow_loop() -> None:
    u = np.random.default_rng(1).uniform(size=37)
    us = np.sort(u)
    n = us.size
    slow = -n - sum((2 * i - 1) * (math.log(us[i - 1]) + math.log(1 - us[n - i]))
                    for i in range(1, n + 1)) / n
    assert vs.ad_statistic(u) == pytest.approx(slow, rel=1e-12)


AD_CRITICAL = [  # limiting law of A^2 (Anderson & Darling 1954; Stephens 1974 tables)
    (1.933, 0.10),
    (2.492, 0.05),
    (3.070, 0.025),
    (3.857, 0.01),
]


@pytest.mark.parametrize(("a2", "p"), AD_CRITICAL)
def test_ad_pvalue_limiting_critical_points(a2: float, p: float) -> None:
    got = vs.ad_pvalue(a2, 10**7)
    assert got == pytest.approx(p, abs=5e-4), f"A2={a2}: p={got}, table {p}"


def test_ad_pvalue_finite_n_against_monte_carlo() -> None:
    """Slow reference: simulated null distribution of A^2 for n = 8."""
    rng = np.random.default_rng(7)
    n, reps = 8, 40_000
    u = np.sort(rng.uniform(size=(reps, n)), axis=1)
    i = np.arange(1, n + 1)
    a2 = -n - np.sum((2 * i - 1) * (np.log(u) + np.log1p(-u[:, ::-1])), axis=1) / n
    for z in (0.5, 1.0, 2.0, 3.0):
        mc = float(np.mean(a2 >= z))
        se = math.sqrt(mc * (1 - mc) / reps)
        assert abs(vs.ad_pvalue(z, n) - mc) < 4 * se + 1e-3, (z, vs.ad_pvalue(z, n), mc)


def test_ks_rejects_cdf_with_bad_values() -> None:
    with pytest.raises(ValueError, match="cdf"):
        vs.ks_test([0.1, 0.2], lambda x: 2 * np.ones_like(x))
    with pytest.raises(ValueError, match="samples"):
        vs.ks_test([0.1, np.nan], sps.norm.cdf)
    with pytest.raises(ValueError, match="alpha"):
        vs.ks_test([0.1, 0.2], sps.norm.cdf, alpha=1.5)


# --------------------------------------------------------------------------- binomial family

BINOMIAL_CASES = [
    # (k, n, p, alternative, exact p-value by hand)
    (5, 10, 0.5, "two-sided", 1.0),
    (0, 10, 0.5, "two-sided", 2 * 0.5**10),
    (8, 10, 0.5, "greater", (math.comb(10, 8) + math.comb(10, 9) + 1) / 1024),
    (1, 10, 0.5, "less", 11 / 1024),
]


@pytest.mark.parametrize(("k", "n", "p", "alt", "expected"), BINOMIAL_CASES)
def test_binomial_test_hand_cases(k: int, n: int, p: float, alt: str, expected: float) -> None:
    out = vs.binomial_test(k, n, p, alpha=0.01, alternative=alt)
    assert out.p_value == pytest.approx(expected, rel=1e-12), (out.p_value, expected)
    assert out.reject == (expected <= 0.01)


def test_quantile_test_calibrated_and_powerful() -> None:
    alpha = 0.05
    true_rej = mutant_rej = 0
    q = 0.9
    xq = sps.norm.ppf(q)
    for seed in range(REPS):
        x = np.random.default_rng(seed).standard_normal(500)
        true_rej += vs.quantile_test(x, xq, q, alpha).reject
        mutant_rej += vs.quantile_test(x, xq + 0.35, q, alpha).reject  # the 0.95-ish quantile
    assert _not_above(true_rej, REPS, alpha), true_rej
    assert mutant_rej / REPS >= 0.9, mutant_rej


CP_CASES = [
    # (k, n, level, lo, hi) closed forms at the ends, beta quantiles in the middle
    (0, 10, 0.95, 0.0, 1 - 0.025 ** (1 / 10)),
    (10, 10, 0.95, 0.025 ** (1 / 10), 1.0),
    (3, 10, 0.95, sps.beta.ppf(0.025, 3, 8), sps.beta.ppf(0.975, 4, 7)),
    (3, 10, 0.95, 0.06673951, 0.65245285),  # printed tables
]


@pytest.mark.parametrize(("k", "n", "level", "lo", "hi"), CP_CASES)
def test_clopper_pearson_hand_cases(k: int, n: int, level: float, lo: float, hi: float) -> None:
    got = vs.clopper_pearson(k, n, level)
    assert got[0] == pytest.approx(lo, abs=1e-8) and got[1] == pytest.approx(hi, abs=1e-8), got


@pytest.mark.parametrize("n", [1, 10, 300])
def test_clopper_pearson_upper_zero_violations(n: int) -> None:
    assert vs.clopper_pearson_upper(0, n, 0.05) == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)


def test_bound_violation_test_hand_case_and_cp_equivalence() -> None:
    n, d = 100, 0.01
    expected = sum(math.comb(n, j) * d**j * (1 - d) ** (n - j) for j in range(5, n + 1))
    out = vs.bound_violation_test(5, n, d, alpha=0.01)
    assert out.p_value == pytest.approx(expected, rel=1e-10)
    # reject  <=>  one-sided CP lower limit at level 1 - alpha exceeds delta
    for k in range(0, 51):
        o = vs.bound_violation_test(k, 50, 0.1, alpha=0.05)
        assert o.reject == (o.details["cp_lower"] > 0.1), (k, o)
    # a surely-holding bound rejects at the first violation, never without one
    assert not vs.bound_violation_test(0, 10, 0.0).reject
    assert vs.bound_violation_test(1, 10, 0.0).reject


# --------------------------------------------------------------------------- Holm

HOLM_CASES = [
    # (p-values, alpha, rejections, adjusted)
    ([0.01, 0.04, 0.03, 0.005], 0.05, [True, False, False, True], [0.03, 0.06, 0.06, 0.02]),
    ([0.01, 0.02, 0.03], 0.05, [True, True, True], [0.03, 0.04, 0.04]),
    ([0.5], 0.05, [False], [0.5]),
    ([0.3, 0.6], 0.05, [False, False], [0.6, 0.6]),
]


@pytest.mark.parametrize(("p", "alpha", "rej", "adj"), HOLM_CASES)
def test_holm_hand_cases(p: list[float], alpha: float, rej: list[bool], adj: list[float]) -> None:
    r, a = vs.holm(p, alpha)
    assert r.tolist() == rej
    assert np.allclose(a, adj, rtol=1e-12), (a, adj)


def _holm_slow(p: list[float], alpha: float) -> list[bool]:
    """Step-down Holm procedure as written in Holm (1979)."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    rej = [False] * m
    for step, i in enumerate(order):
        if p[i] <= alpha / (m - step):
            rej[i] = True
        else:
            break
    return rej


@settings(max_examples=50)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12), st.sampled_from([0.01, 0.05, 0.2]))
def test_holm_matches_step_down_procedure(p: list[float], alpha: float) -> None:
    r, _ = vs.holm(p, alpha)
    assert r.tolist() == _holm_slow(p, alpha)


# --------------------------------------------------------------------------- moments, trends

def test_mean_test_calibrated_and_powerful() -> None:
    alpha = 0.05
    t = m = 0
    for seed in range(REPS):
        x = np.random.default_rng(seed).exponential(size=100)  # skewed but light-tailed
        t += vs.mean_test(x, 1.0, alpha).reject
        m += vs.mean_test(x, 1.4, alpha).reject
    assert _not_above(t, REPS, alpha), t
    assert m / REPS >= 0.9, m


@pytest.mark.parametrize("method", ["delta", "bootstrap"])
def test_log_moment_test_calibrated_and_powerful(method: str) -> None:
    """log E|Z|^2 = 0 for Z ~ N(0, 1); mutant log 1.3."""
    alpha = 0.05
    reps = 120 if method == "delta" else 40
    t = m = 0
    for seed in range(reps):
        lz = np.log(np.abs(np.random.default_rng(seed).standard_normal(3000)))
        t += vs.log_moment_test(lz, 2.0, 0.0, alpha, method=method, resamples=300).reject
        m += vs.log_moment_test(lz, 2.0, math.log(1.3), alpha, method=method,
                                resamples=300).reject
    assert _not_above(t, reps, alpha), (method, t)
    assert m / reps >= 0.9, (method, m)


def test_log_moment_delta_and_bootstrap_agree() -> None:
    lz = np.log(np.abs(np.random.default_rng(3).standard_normal(5000)))
    d = vs.log_moment_test(lz, 2.0, 0.0, 0.01, method="delta")
    b = vs.log_moment_test(lz, 2.0, 0.0, 0.01, method="bootstrap", resamples=1000)
    assert d.details["estimate"] == b.details["estimate"]
    assert d.details["se"] == pytest.approx(b.details["se"], rel=0.15), (d.details, b.details)
    assert d.details["ess"] > 1000


def test_log_moment_no_overflow_for_huge_logs() -> None:
    lz = np.random.default_rng(0).normal(800.0, 1.0, size=1000)  # exp(2*800) overflows
    out = vs.log_moment_test(lz, 2.0, 1600.0 + 2.0, 0.01)  # log E e^{2Y} = 2 mu + 2 sigma^2
    assert math.isfinite(out.details["estimate"])
    assert not out.reject, out


def test_trend_test_calibrated_and_powerful() -> None:
    alpha = 0.05
    x = np.linspace(1, 10, 30)
    t = m = 0
    for seed in range(REPS):
        y = 0.5 - 0.7 * x + np.random.default_rng(seed).normal(0, 0.5, size=x.size)
        t += vs.trend_test(x, y, -0.7, alpha).reject
        m += vs.trend_test(x, y, -0.55, alpha).reject  # 4.4 standard errors off
    assert _not_above(t, REPS, alpha), t
    assert m / REPS >= 0.9, m


IDENTITY_CASES = [
    # (lhs, rhs, rtol, atol, reject)
    ([1.0, 2.0], [1.0, 2.0], 1e-12, 0.0, False),
    ([1.0], [1.0 + 1e-9], 1e-12, 0.0, True),
    ([0.0], [1e-14], 1e-12, 1e-13, False),
    ([1.0, np.nan], [1.0, 1.0], 1e-12, 0.0, True),
]


@pytest.mark.parametrize(("lhs", "rhs", "rtol", "atol", "reject"), IDENTITY_CASES)
def test_identity_test(lhs, rhs, rtol: float, atol: float, reject: bool) -> None:
    out = vs.identity_test(lhs, rhs, rtol, atol)
    assert out.reject == reject, out
    assert out.p_value == (0.0 if reject else 1.0)


def test_bad_inputs_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="successes"):
        vs.binomial_test(11, 10, 0.5)
    with pytest.raises(ValueError, match="delta"):
        vs.bound_violation_test(1, 10, 1.5)
    with pytest.raises(ValueError, match="x and y"):
        vs.trend_test([1, 2, 3], [1, 2, 4, 5], 0.0)
    with pytest.raises(ValueError, match="p_values"):
        vs.holm([0.5, 1.5])
    with pytest.raises(ValueError, match="method"):
        vs.log_moment_test([0.0, 1.0], 2.0, 0.0, method="magic")
    with pytest.raises(ValueError, match="rtol and atol"):
        vs.identity_test([1.0], [1.0], 0.0, 0.0)


# --------------------------------------------------------------------------- one-sided, band

@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_mean_test_one_sided_calibrated_and_powerful(alternative: str) -> None:
    """At the boundary of H0 (E X = 1) the one-sided rejection rate is <= alpha; a mean 0.4
    away in the alternative's direction is rejected, the same distance the other way never.
    Symmetric data (uniform): with skewed data the one-sided t test is not calibrated at this
    n (see test_mean_test_one_sided_skewness_caveat)."""
    alpha = 0.05
    sign = -1.0 if alternative == "less" else 1.0
    t = m = wrong = 0
    for seed in range(REPS):
        x = np.random.default_rng(seed).uniform(1.0 - math.sqrt(3), 1.0 + math.sqrt(3), 100)
        t += vs.mean_test(x, 1.0, alpha, alternative=alternative).reject
        # H0 "E X >= 1.4" is false (E X = 1) for "less"; "E X <= 0.6" false for "greater"
        m += vs.mean_test(x, 1.0 - 0.4 * sign, alpha, alternative=alternative).reject
        wrong += vs.mean_test(x, 1.0 + 0.4 * sign, alpha, alternative=alternative).reject
    assert _not_above(t, REPS, alpha), (alternative, t)
    assert m / REPS >= 0.9, (alternative, m)
    assert wrong == 0, (alternative, wrong)


def test_mean_test_one_sided_skewness_caveat() -> None:
    """Documented limitation: for right-skewed data (exponential, n = 100) the left tail of the
    t statistic is heavier, so alternative="less" rejects a true H0 about twice as often as
    alpha, while the two-sided test stays calibrated (its tail errors partly cancel)."""
    alpha = 0.05
    less = two = 0
    for seed in range(REPS):
        x = np.random.default_rng(seed).exponential(size=100)
        less += vs.mean_test(x, 1.0, alpha, alternative="less").reject
        two += vs.mean_test(x, 1.0, alpha).reject
    assert not _not_above(less, REPS, alpha), less
    assert _not_above(two, REPS, alpha), two


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_trend_test_one_sided_calibrated_and_powerful(alternative: str) -> None:
    alpha = 0.05
    x = np.linspace(1, 10, 30)
    sign = -1.0 if alternative == "less" else 1.0
    t = m = wrong = 0
    for seed in range(REPS):
        y = 0.5 - 0.7 * x + np.random.default_rng(seed).normal(0, 0.5, size=x.size)
        t += vs.trend_test(x, y, -0.7, alpha, alternative=alternative).reject
        m += vs.trend_test(x, y, -0.7 - 0.12 * sign, alpha, alternative=alternative).reject
        wrong += vs.trend_test(x, y, -0.7 + 0.12 * sign, alpha, alternative=alternative).reject
    assert _not_above(t, REPS, alpha), (alternative, t)
    assert m / REPS >= 0.9, (alternative, m)
    assert wrong == 0, (alternative, wrong)


@pytest.mark.parametrize("test", ["mean", "trend"])
def test_one_sided_p_values_halve_two_sided(test: str) -> None:
    """p(less) + p(greater) = 1 and the smaller one is half the two-sided p-value."""
    rng = np.random.default_rng(9)
    x = np.linspace(0, 1, 20)
    y = 0.2 * x + rng.normal(0, 0.1, size=20)
    f = (lambda alt: vs.mean_test(y, 0.05, 0.01, alternative=alt)) if test == "mean" else (
        lambda alt: vs.trend_test(x, y, 0.5, 0.01, alternative=alt))
    two, less, greater = f("two-sided"), f("less"), f("greater")
    assert less.p_value + greater.p_value == pytest.approx(1.0, abs=1e-12)
    assert min(less.p_value, greater.p_value) == pytest.approx(two.p_value / 2, rel=1e-12)
    assert two.details["alternative"] == "two-sided" and less.details["alternative"] == "less"
    assert two.details["ci"] == less.details["ci"]
    with pytest.raises(ValueError, match="alternative"):
        f("both")


def test_one_sided_degenerate_zero_spread() -> None:
    assert vs.mean_test([2.0, 2.0, 2.0], 1.0, 0.01, alternative="greater").reject
    assert not vs.mean_test([2.0, 2.0, 2.0], 1.0, 0.01, alternative="less").reject
    x = np.arange(5.0)
    assert vs.trend_test(x, 2 * x, 1.0, 0.01, alternative="greater").reject
    assert not vs.trend_test(x, 2 * x, 1.0, 0.01, alternative="less").reject


def test_band_slope_test_calibrated_and_powerful() -> None:
    """Size <= alpha at the band's edge (the least favourable null slope) and inside it;
    slopes 4 standard errors outside are rejected; p = 1 inside; lo = hi is the two-sided
    trend test."""
    alpha = 0.05
    x = np.linspace(1, 10, 30)
    edge = inside = m = 0
    for seed in range(REPS):
        noise = np.random.default_rng(seed).normal(0, 0.5, size=x.size)
        edge += vs.band_slope_test(x, 0.1 * x + noise, 0.1, 0.3, alpha).reject
        inside += vs.band_slope_test(x, 0.2 * x + noise, 0.1, 0.3, alpha).reject
        m += vs.band_slope_test(x, 0.42 * x + noise, 0.1, 0.3, alpha).reject
    assert _not_above(edge, REPS, alpha), edge
    assert inside == 0, inside
    assert m / REPS >= 0.9, m
    y = 0.3 * x + np.random.default_rng(1).normal(0, 0.5, size=x.size)
    assert vs.band_slope_test(x, y, 0.5, 0.5, 0.01).p_value == pytest.approx(
        vs.trend_test(x, y, 0.5, 0.01).p_value, rel=1e-14)
    with pytest.raises(ValueError, match="hi"):
        vs.band_slope_test(x, y, 0.5, 0.4)
