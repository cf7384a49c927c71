"""Tests for flatstart.theory.wide against independent numpy simulations of width-n networks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from flatstart.theory.inits import weight_variance
from flatstart.theory.wide import (
    critical_width,
    critical_width_asymptotic,
    critical_width_lower_bound,
    dead_probability,
    hanin_jacobian_moments,
    hanin_rolnick_length_moments,
    layer_log_moments,
    lognormal_limit,
    noci_prior_predictive,
    norm_ratio_law,
    pennington_jjt_eigen_variance,
)

ALPHA = 0.01
N = 20_000


# ----------------------------------------------------------------------------- simulation
def haar(rng: np.random.Generator, n_out: int, n_in: int, count: int) -> np.ndarray:
    """``count`` Haar matrices with orthonormal rows (n_out ≤ n_in) or columns (QR + sign fix)."""
    big, small = max(n_out, n_in), min(n_out, n_in)
    g = rng.standard_normal((count, big, small))
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    return q if n_out >= n_in else np.transpose(q, (0, 2, 1))


def simulate_ratio(
    widths: list[int], activation: str, init: str, count: int, seed: int
) -> np.ndarray:
    """‖x_L‖²/‖x_0‖² by propagating a fixed input through ``count`` random networks."""
    rng = np.random.default_rng(seed)
    n0 = widths[0]
    x = np.tile(np.linspace(-1.0, 2.0, n0), (count, 1))  # fixed, not a special direction
    r0 = np.sum(x**2, axis=1)
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        if init == "orthogonal":
            w = haar(rng, b, a, count)
        else:
            w = rng.standard_normal((count, b, a)) * math.sqrt(weight_variance(init, a, b))
        x = np.einsum("kij,kj->ki", w, x)
        if activation == "relu":
            x = np.maximum(x, 0.0)
    return np.sum(x**2, axis=1) / r0


def cond_cdf(law, t):  # noqa: ANN001, ANN201
    a = law.atom
    return (law.cdf(t) - a) / (1 - a)


# ----------------------------------------------------------------------------- laws
RATIO_CASES = [
    # widths n_0..n_L, activation, init
    ([4, 4, 4, 4], "linear", "lecun_normal"),
    ([4, 3, 5, 2], "linear", "xavier_normal"),
    ([5, 2, 7], "linear", "he_normal"),
    ([3, 3, 3, 3, 3], "relu", "he_normal"),
    ([6, 2, 4], "relu", "xavier_normal"),
    ([9, 4, 4], "linear", "orthogonal"),
]


@pytest.mark.parametrize(("widths", "activation", "init"), RATIO_CASES)
def test_norm_ratio_ks(widths: list[int], activation: str, init: str) -> None:
    """KS of the exact law vs simulation; atom by a binomial test; fan-in mutant rejected."""
    L = len(widths) - 1
    law = norm_ratio_law(widths[1:], L, activation, init, input_dim=widths[0])
    sim = simulate_ratio(widths, activation, init, N, seed=sum(widths))
    zeros = int(np.sum(sim == 0))
    if activation == "relu":
        assert stats.binomtest(zeros, N, law.atom).pvalue > ALPHA
    else:
        assert zeros == 0 and law.atom == 0
    pos = sim[sim > 0]
    p = stats.kstest(pos, lambda t: cond_cdf(law, t)).pvalue
    assert p > ALPHA, (widths, activation, init, p)
    # mutant: the widths reversed (fan-in/fan-out convention swapped); for orthogonal the
    # Gaussian law of the same variance
    if init == "orthogonal":
        mut = norm_ratio_law(widths[1:], L, activation, "lecun_normal", input_dim=widths[0])
    elif widths[::-1] != widths:
        rev = widths[::-1]
        mut = norm_ratio_law(rev[1:], L, activation, init, input_dim=rev[0])
    else:  # constant width: one more unit per layer
        mut = norm_ratio_law(widths[1] + 1, L, activation, init)
    pm = stats.kstest(pos, lambda t: cond_cdf(mut, t)).pvalue
    assert pm < ALPHA, (widths, pm)


def test_relu_factor_not_gaussian_factor() -> None:
    """The ReLU law vs the mutant 'linear χ² with half the variance' (same mean)."""
    widths = [8, 8, 8, 8]
    sim = simulate_ratio(widths, "relu", "he_normal", N, seed=1)
    law = norm_ratio_law(8, 3, "relu", "he_normal")
    assert stats.kstest(sim[sim > 0], lambda t: cond_cdf(law, t)).pvalue > ALPHA
    mut = norm_ratio_law(8, 3, "linear", "lecun_normal")
    assert stats.kstest(sim[sim > 0], mut.cdf).pvalue < ALPHA


def test_orthogonal_square_linear_is_isometry() -> None:
    sim = simulate_ratio([5, 5, 5], "linear", "orthogonal", 100, seed=2)
    assert np.allclose(sim, 1.0, rtol=1e-12)
    law = norm_ratio_law(5, 2, "linear", "orthogonal")
    assert law.median() == pytest.approx(1.0, rel=1e-12)


def test_orthogonal_relu_moments_and_limitation() -> None:
    """Orthogonal ReLU: exact mean g²∏E[Beta·…] vs simulation (bounded); cdf raises clearly."""
    widths = [4, 6, 3, 3]
    law = norm_ratio_law(widths[1:], 3, "relu", "orthogonal", input_dim=4)
    sim = simulate_ratio(widths, "relu", "orthogonal", N, seed=12)
    crit = stats.norm.ppf(1 - ALPHA / 2)
    se = sim.std() / math.sqrt(N)
    # E‖relu(u)‖² = ½ for a uniform unit vector u; contracting 6→3 keeps 3/6 of the norm
    assert law.moment(1.0) == pytest.approx(0.5 * 0.5 * 0.5 * 0.5, rel=1e-12)
    assert abs(sim.mean() - law.moment(1.0)) < crit * se
    assert abs(sim.mean() - 0.5**3) > crit * se  # mutant: forgets the 6→3 projection
    with pytest.raises(ValueError, match="singular"):
        law.cdf(np.array([0.1]))


def test_uniform_init_rejected() -> None:
    with pytest.raises(ValueError, match="rotationally"):
        norm_ratio_law(4, 2, "linear", "xavier_uniform")


def test_median_binomial_deep() -> None:
    """Exact median at width 16, depth 10 (ReLU He) by an exact binomial test; mutant ×1.25."""
    sim = simulate_ratio([16] * 11, "relu", "he_normal", N, seed=3)
    med = norm_ratio_law(16, 10, "relu").median()
    assert stats.binomtest(int(np.sum(sim <= med)), N, 0.5).pvalue > ALPHA
    assert stats.binomtest(int(np.sum(sim <= med * 1.25)), N, 0.5).pvalue < ALPHA


# ----------------------------------------------------------------------------- dead nets
def test_dead_probability() -> None:
    widths = [3, 2, 3, 1]
    sim = simulate_ratio([3, *widths], "relu", "he_normal", N, seed=4)
    p = dead_probability(widths)
    assert p == pytest.approx(1 - (1 - 1 / 8) * (1 - 1 / 4) * (1 - 1 / 8) * (1 - 1 / 2))
    k = int(np.sum(sim == 0))
    assert stats.binomtest(k, N, p).pvalue > ALPHA
    assert stats.binomtest(k, N, 1 - 2.0 ** -sum(widths)).pvalue < ALPHA  # mutant
    assert dead_probability(4, depth=3) == pytest.approx(1 - (15 / 16) ** 3)
    assert norm_ratio_law(widths, 4, "relu").atom == pytest.approx(p, rel=1e-14)


# ----------------------------------------------------------------------------- log-moments
@pytest.mark.parametrize("n", [1, 2, 7, 64, 1000])
def test_linear_log_moments_digamma(n: int) -> None:
    _, m, v = layer_log_moments(n, n, "linear", "lecun_normal")
    assert m == pytest.approx(float(special.digamma(n / 2) + math.log(2 / n)), abs=1e-13)
    assert v == pytest.approx(float(special.polygamma(1, n / 2)), rel=1e-13)


def test_relu_log_moments_exact_sum_and_limit() -> None:
    n = 12
    alive, m, v = layer_log_moments(n, n, "relu", "he_normal")
    k = np.arange(1, n + 1)
    w = stats.binom.pmf(k, n, 0.5) / (1 - 2.0**-n)
    lg = np.log(4 / n) + special.digamma(k / 2)
    assert alive == pytest.approx(1 - 2.0**-n)
    assert m == pytest.approx(float(np.sum(w * lg)), abs=1e-13)
    assert v == pytest.approx(float(np.sum(w * (lg**2 + special.polygamma(1, k / 2))) - m**2),
                              rel=1e-11)
    big = 4000
    _, mb, vb = layer_log_moments(big, big, "relu", "he_normal")
    assert mb * big == pytest.approx(-2.5, rel=5e-3)
    assert vb * big == pytest.approx(5.0, rel=5e-3)
    _, ml, vl = layer_log_moments(big, big, "linear", "lecun_normal")
    assert ml * big == pytest.approx(-1.0, rel=5e-3) and vl * big == pytest.approx(2.0, rel=5e-3)


def test_log_moments_by_simulation() -> None:
    """Mean of log R (light tails: all moments finite) vs exact; mutant the asymptotic mean."""
    widths = [6] * 9
    sim = simulate_ratio(widths, "relu", "he_normal", N, seed=5)
    lg = np.log(sim[sim > 0])
    lim = lognormal_limit(6, 8, "relu")
    z = stats.norm.ppf(1 - ALPHA / 2)
    se = lg.std() / math.sqrt(lg.size)
    assert abs(lg.mean() - lim.mean) < z * se, (lg.mean(), lim.mean, se)
    assert abs(lg.mean() - lim.mean_asymptotic) > z * se  # leading order is off at n = 6
    # variance: chi-square interval for a near-normal sum is not exact; use a bootstrap-free
    # check on the exact identity instead
    law = norm_ratio_law(6, 8, "relu")
    assert lim.var == pytest.approx(law.log_cumulant(2), rel=1e-14)


# ----------------------------------------------------------------------------- critical width
def test_critical_width_definition() -> None:
    for L, act in ((10, "relu"), (25, "linear"), (40, "relu")):
        n = critical_width(L, act, level=0.5)
        assert norm_ratio_law(n, L, act).median() >= 0.5
        assert n == 1 or norm_ratio_law(n - 1, L, act).median() < 0.5
        asym = critical_width_asymptotic(L, act, 0.5)
        assert abs(n - asym) <= 0.1 * asym + 2, (L, act, n, asym)
        assert critical_width_lower_bound(L, act, level=0.5) <= n


@settings(max_examples=5)
@given(st.integers(min_value=1, max_value=12))
def test_critical_width_nondecreasing_in_depth(depth: int) -> None:
    assert critical_width(depth, "relu") <= critical_width(depth + 1, "relu")


@settings(max_examples=10)
@given(st.integers(min_value=2, max_value=60), st.integers(min_value=1, max_value=12))
def test_median_monotone_in_width_and_below_mean(n: int, depth: int) -> None:
    a = norm_ratio_law(n, depth, "relu").median()
    b = norm_ratio_law(n + 1, depth, "relu").median()
    assert a <= b
    law = norm_ratio_law(n, depth, "relu")
    assert law.median() <= law.moment(1.0) * (1 + 1e-12)  # mean is exactly 1 under He
    assert law.moment(1.0) == pytest.approx(1.0, rel=1e-12)


def test_critical_width_errors() -> None:
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises((ValueError, TypeError), match="level"):
            critical_width(5, "relu", level=bad)
    with pytest.raises(ValueError, match="level"):
        critical_width(5, "relu", level=1.0, max_width=256)
    with pytest.raises(ValueError, match="depth"):
        critical_width(0)


# ----------------------------------------------------------------------------- Hanin
def simulate_jacobian_entry(widths: list[int], n0: int, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.tile(np.linspace(0.5, -1.0, n0), (count, 1))
    u = np.zeros((count, n0))
    u[:, 0] = 1.0  # Jacobian column of input 0
    prev = n0
    for n in widths:
        w = rng.standard_normal((count, n, prev)) * math.sqrt(2.0 / prev)
        a = np.einsum("kij,kj->ki", w, x)
        mask = a > 0
        x = np.where(mask, a, 0.0)
        u = np.where(mask, np.einsum("kij,kj->ki", w, u), 0.0)
        prev = n
    readout = rng.standard_normal((count, prev)) / math.sqrt(prev)
    return np.sum(readout * u, axis=1)


def test_hanin_jacobian_moments_simulation() -> None:
    """n₀²E Z⁴ = 3∏(1+5/n_j) over hidden layers (Z has finite 8th moment: CLT interval)."""
    widths, n0 = [2, 3], 3
    z = simulate_jacobian_entry(widths, n0, 200_000, seed=6)
    m = hanin_jacobian_moments(widths, n0)
    assert m["E_Z4"] == sp.Rational(3, 9) * sp.Rational(7, 2) * sp.Rational(8, 3)
    crit = stats.norm.ppf(1 - ALPHA / 2)
    z2, z4 = z**2, z**4
    assert abs(z2.mean() - float(m["E_Z2"])) < crit * z2.std() / math.sqrt(z.size)
    se4 = z4.std() / math.sqrt(z.size)
    assert abs(z4.mean() - float(m["E_Z4"])) < crit * se4, (z4.mean(), float(m["E_Z4"]), se4)
    # mutants: 3 e^{5β}, and the product extended over the input layer
    assert abs(z4.mean() - m["approx_3e5beta"] / n0**2) > crit * se4
    assert abs(z4.mean() - float(m["E_Z4"]) * (1 + 5 / n0)) > crit * se4


def test_hanin_rolnick_identity_with_law() -> None:
    """E (M_L/M_0)² from the exact product law equals ∏(1 + 5/n_l)."""
    widths = [5, 3, 8, 4]
    hr = hanin_rolnick_length_moments(widths[1:])  # layer widths n_1..n_L
    law = norm_ratio_law(widths[1:], 3, "relu", "he_normal", input_dim=widths[0])
    scale = widths[0] / widths[-1]  # M_L/M_0 = R · n_0/n_L
    assert law.moment(2.0) * scale**2 == pytest.approx(float(hr["E_M2_ratio"]), rel=1e-12)
    assert law.moment(1.0) * scale == pytest.approx(1.0, rel=1e-12)
    assert hr["E_M2_ratio"] == sp.Rational(8, 3) * sp.Rational(13, 8) * sp.Rational(9, 4)


def test_hanin_rolnick_residual_simulation() -> None:
    n, m, etas = 4, 6, [0.5, 1.0, 0.3]
    rng = np.random.default_rng(8)
    count = 100_000
    x = np.tile(np.array([1.0, -0.5, 0.25, 2.0]), (count, 1))
    m0 = np.sum(x**2, axis=1) / n
    for eta in etas:
        w1 = rng.standard_normal((count, m, n)) * math.sqrt(2.0 / n)
        w2 = rng.standard_normal((count, n, m)) * math.sqrt(1.0 / m)
        h = np.maximum(np.einsum("kij,kj->ki", w1, x), 0.0)
        x = x + eta * np.einsum("kij,kj->ki", w2, h)
    ratio = np.sum(x**2, axis=1) / n / m0
    want = float(hanin_rolnick_length_moments([n], residual_scales=etas)["E_M_ratio"])
    assert want == pytest.approx(1.25 * 2.0 * 1.09)
    crit = stats.norm.ppf(1 - ALPHA / 2)
    se = ratio.std() / math.sqrt(count)
    assert abs(ratio.mean() - want) < crit * se
    assert abs(ratio.mean() - math.prod(1 + e for e in etas)) > crit * se  # mutant ∏(1+η)


# ----------------------------------------------------------------------------- Noci
def test_noci_prior_predictive() -> None:
    widths, variances, xvec = [3, 2], [0.7, 1.3, 0.5], np.array([1.0, -2.0])
    rng = np.random.default_rng(9)
    h = np.tile(xvec, (N, 1))
    prev = 2
    for n, v in zip(widths, variances[:-1], strict=True):
        w = rng.standard_normal((N, n, prev)) * math.sqrt(v)
        h = np.maximum(np.einsum("kij,kj->ki", w, h), 0.0)
        prev = n
    f = np.sum(rng.standard_normal((N, prev)) * math.sqrt(variances[-1]) * h, axis=1)
    pp = noci_prior_predictive(widths, variances, float(np.linalg.norm(xvec)))
    assert pp.atom == pytest.approx(1 - (7 / 8) * (3 / 4))
    assert stats.binomtest(int(np.sum(f == 0)), N, pp.atom).pvalue > ALPHA
    nz = f[f != 0]
    a = pp.atom

    def cdf(t: np.ndarray) -> np.ndarray:
        return (pp.cdf(t) - a * (np.asarray(t) >= 0)) / (1 - a)

    assert stats.kstest(nz, cdf).pvalue > ALPHA
    mut = noci_prior_predictive(widths, [0.7, 1.3, 0.5 * 1.3], float(np.linalg.norm(xvec)))

    def mcdf(t: np.ndarray) -> np.ndarray:
        return (mut.cdf(t) - a * (np.asarray(t) >= 0)) / (1 - a)

    assert stats.kstest(nz, mcdf).pvalue < ALPHA
    # kurtosis identity from the law's exact moments
    kurt = pp.law.moment(4.0) / pp.law.moment(2.0) ** 2
    assert kurt == pytest.approx(float(pp.kurtosis()), rel=1e-12)
    assert pp.kurtosis() == 3 * sp.Rational(8, 3) * sp.Rational(7, 2)


def test_noci_meijer_reference() -> None:
    """Gil-Pelaez density vs the Meijer-G sum of docs/theory/rw.md#moments (slow reference)."""
    pp = noci_prior_predictive([2, 3], [1.0, 0.5, 2.0], 1.5)
    f = np.array([-2.0, -0.3, 0.05, 0.7, 3.0])
    fast = pp.pdf(f)
    slow = pp.pdf_meijer(f)
    assert np.allclose(fast, slow, rtol=1e-8, atol=1e-13), (fast, slow)


# ----------------------------------------------------------------------------- Pennington
def test_pennington_values() -> None:
    assert pennington_jjt_eigen_variance(7, "linear", "gaussian") == 7
    assert pennington_jjt_eigen_variance(7, "linear", "orthogonal") == 0
    assert pennington_jjt_eigen_variance(7, "relu", "gaussian") == 14
    assert pennington_jjt_eigen_variance(7, "relu", "orthogonal") == 7
    with pytest.raises(ValueError, match="init"):
        pennington_jjt_eigen_variance(3, "relu", "haar")


# ----------------------------------------------------------------------------- numerics
def test_fft_path_matches_direct() -> None:
    for law in (norm_ratio_law(3, 4, "relu"), norm_ratio_law(500, 30, "linear"),
                norm_ratio_law([4, 9, 2], 3, "relu", "orthogonal", input_dim=5)):
        y = np.linspace(law.log_mean - 6 * law.log_sd, law.log_mean + 6 * law.log_sd, 65)
        assert np.max(np.abs(law.log_cdf(y, "fft") - law.log_cdf(y, "direct"))) < 1e-11


def test_exact_chi_square_single_layer() -> None:
    x = np.array([0.05, 0.3, 1.0, 2.5])
    law = norm_ratio_law(5, 1, "linear", input_dim=7)  # (1/7) χ²_5
    assert np.allclose(law.cdf(x), stats.chi2.cdf(7 * x, 5), atol=1e-13)
    assert np.allclose(law.pdf(x), 7 * stats.chi2.pdf(7 * x, 5), rtol=1e-10)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: norm_ratio_law(0, 3), "width"),
        (lambda: norm_ratio_law(4, 0), "depth"),
        (lambda: norm_ratio_law([4, 4], 3), "depth"),
        (lambda: norm_ratio_law(4, 3, "tanh"), "activation"),
        (lambda: norm_ratio_law(4, 3, "relu", "kaiming"), "init"),
        (lambda: dead_probability([2, 0]), "width"),
        (lambda: noci_prior_predictive([2], [1.0], 1.0), "variances"),
        (lambda: noci_prior_predictive([2], [1.0, -1.0], 1.0), "variances"),
        (lambda: critical_width_asymptotic(10, "relu", 1.5), "level"),
    ],
)
def test_bad_input(call, name: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=name):
        call()


def test_agrees_with_products_module() -> None:
    """norm_ratio_law (linear) vs flatstart.theory.products.product of ChiSquare(n, scale=1/n)
    factors."""
    products = pytest.importorskip("flatstart.theory.products")
    laws = pytest.importorskip("flatstart.theory.laws")
    widths = [5, 3, 8]
    ref = products.product([laws.ChiSquare(3, scale=1 / 5), laws.ChiSquare(8, scale=1 / 3)])
    law = norm_ratio_law(widths[1:], 2, "linear", input_dim=widths[0])
    t = np.array([0.01, 0.2, 1.0, 2.5, 9.0])
    assert np.allclose(law.cdf(t), ref.cdf(t), rtol=1e-10, atol=1e-13)
