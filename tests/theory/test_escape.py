"""Tests for theory.escape: exact escape counts vs iteration, chain Hessian, median slopes."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hst

from theory import escape as E

ALPHA = 0.01

# (lam, eta, theta0, radius, expected steps) — expected values worked out by hand
GD_CASES = [
    (1.0, 1.0, 0.25, 1.0, 2.0),  # 0.25 -> 0.5 -> 1.0 (exact tie at R)
    (1.0, 1.0, 0.3, 1.0, 2.0),  # 0.3 -> 0.6 -> 1.2
    (1.0, 0.1, 1e-3, 1.0, 73.0),  # log(1000)/log(1.1) = 72.48
    (2.0, 0.05, -0.01, 3.0, 60.0),  # log(300)/log(1.1) = 59.84
    (0.5, 0.3, 0.9, 1.0, 1.0),
    (3.0, 1.0, 1.0 / 64.0, 1.0, 3.0),  # 4^3 = 64, tie
    (1.0, 0.5, 2.0, 1.0, 0.0),  # already outside
    (1.0, 0.5, 1.0, 1.0, 0.0),  # on the boundary: |θ0| >= R
    (1.0, 0.5, 0.0, 1.0, math.inf),  # exact saddle: never
]

SIGN_CASES = [
    (0.1, 1e-3, 1.0, 10.0),
    (0.25, 0.5, 1.0, 2.0),  # tie
    (0.3, -0.05, 1.0, 4.0),
    (1.0, 0.5, 0.4, 0.0),
    (0.1, 0.0, 1.0, math.inf),
]


@pytest.mark.parametrize(("lam", "eta", "theta0", "radius", "expected"), GD_CASES)
def test_gd_escape_cases(lam: float, eta: float, theta0: float, radius: float, expected: float):
    fast = E.gd_escape_steps(lam, eta, theta0, radius)
    ref = E.gd_escape_steps_reference(lam, eta, theta0, radius)
    assert fast == expected == ref, f"fast={fast} reference={ref} expected={expected}"


@settings(max_examples=60)
@given(
    lam=hst.floats(0.05, 5.0),
    eta=hst.floats(0.05, 2.0),
    log_ratio=hst.floats(0.01, 12.0),
    sign=hst.sampled_from([-1.0, 1.0]),
)
def test_gd_escape_matches_iteration(lam: float, eta: float, log_ratio: float, sign: float):
    theta0 = sign * math.exp(-log_ratio)
    fast = E.gd_escape_steps(lam, eta, theta0, 1.0)
    ref = E.gd_escape_steps_reference(lam, eta, theta0, 1.0)
    assert fast == ref, f"fast={fast} reference={ref}"


def test_gd_escape_vectorized_and_asymptotic():
    lam = np.array([0.1, 1.0, 10.0])
    eta = 1e-4
    steps = E.gd_escape_steps(lam, eta, 1e-6, 1.0)
    ref = [E.gd_escape_steps_reference(float(v), eta, 1e-6, 1.0) for v in lam]
    np.testing.assert_array_equal(steps, ref)
    asym = E.gd_escape_steps_asymptotic(lam, eta, 1e-6, 1.0)
    # relative error ηλ/2 + O((ηλ)^2); asymptotic (no ceiling) is below exact
    rel = (steps - asym) / steps
    assert np.all(asym <= steps)
    assert np.all(np.abs(rel) <= eta * lam / 2 * 1.01 + 1.0 / steps), (rel, eta * lam / 2)
    # escape time ∝ 1/curvature
    np.testing.assert_allclose(asym[:-1] / asym[1:], 10.0, rtol=1e-12)


def test_gd_asymptotic_mutant_rejected():
    """With large ηλ the small-step formula (a plausible wrong 'exact' count) is off."""
    exact = E.gd_escape_steps(1.0, 1.0, 1e-3, 1.0)
    mutant = math.ceil(E.gd_escape_steps_asymptotic(1.0, 1.0, 1e-3, 1.0))
    assert exact == E.gd_escape_steps_reference(1.0, 1.0, 1e-3, 1.0)
    assert mutant != exact, (mutant, exact)


@pytest.mark.parametrize(("eta", "theta0", "radius", "expected"), SIGN_CASES)
def test_sign_escape_cases(eta: float, theta0: float, radius: float, expected: float):
    fast = E.sign_escape_steps(eta, theta0, radius)
    ref = E.sign_escape_steps_reference(eta, theta0, radius)
    assert fast == expected == ref, f"fast={fast} reference={ref} expected={expected}"


@settings(max_examples=50)
@given(eta=hst.floats(1e-3, 1.0), theta0=hst.floats(-0.999, 0.999).filter(lambda v: v != 0))
def test_sign_escape_matches_iteration(eta: float, theta0: float):
    assert E.sign_escape_steps(eta, theta0, 1.0) == E.sign_escape_steps_reference(eta, theta0, 1.0)


@pytest.mark.parametrize("lam", [1e-4, 1e-2, 1.0, 100.0])
def test_sign_and_rmsprop_lambda_free(lam: float):
    eta, theta0, radius = 0.01, 1e-3, 1.0
    sign = E.sign_escape_steps(eta, theta0, radius)
    # RMSprop with β = 0 and ε = 0 *is* the sign step, whatever λ
    assert E.rmsprop_escape_steps_reference(lam, eta, theta0, radius, 0.0) == sign
    for beta in (0.5, 0.9, 0.99):
        lo, hi = E.rmsprop_escape_bounds(eta, theta0, radius, beta)
        for bc in (False, True):
            t = E.rmsprop_escape_steps_reference(lam, eta, theta0, radius, beta, bias_correction=bc)
            assert lo <= t <= hi, f"beta={beta} bc={bc}: {lo} <= {t} <= {hi} violated"
    for b1, b2 in ((0.0, 0.0), (0.9, 0.999), (0.5, 0.9), (0.99, 0.5)):
        lo, hi = E.adam_escape_bounds(eta, theta0, radius, b1, b2)
        t = E.adam_escape_steps_reference(lam, eta, theta0, radius, b1, b2)
        assert lo <= t <= hi, f"Adam b1={b1} b2={b2}: {lo} <= {t} <= {hi} violated"
    assert E.adam_escape_steps_reference(lam, eta, theta0, radius, 0.0, 0.0) == sign
    # GD by contrast depends on λ like 1/λ
    assert E.gd_escape_steps(lam, eta, theta0, radius) >= min(
        sign, math.log(radius / theta0) / math.log1p(eta * lam)
    )


def test_epsilon_breaks_lambda_independence():
    """With torch's ε = 1e-8 and gradients |λθ| ≪ ε (the vanishing-curvature regime) Adam
    behaves like GD with step η/ε: the ε = 0 upper bound no longer holds."""
    lam, eta, theta0, radius = 1e-9, 1e-3, 1e-3, 1.0
    _, hi = E.adam_escape_bounds(eta, theta0, radius, 0.9, 0.999)
    t = E.adam_escape_steps_reference(lam, eta, theta0, radius, 0.9, 0.999, eps=1e-8)
    assert t > hi, (t, hi)


def test_rmsprop_lower_bound_is_attained_order():
    """Mutant: the sign count as a *lower* bound is wrong for β > 0 (RMSprop is faster)."""
    t = E.rmsprop_escape_steps_reference(1.0, 0.01, 1e-3, 1.0, 0.99)
    sign = E.sign_escape_steps(0.01, 1e-3, 1.0)
    assert t < sign, (t, sign)


BAD = [
    (E.gd_escape_steps, (0.0, 0.1, 0.1, 1.0), "lam"),
    (E.gd_escape_steps, (-1.0, 0.1, 0.1, 1.0), "lam"),
    (E.gd_escape_steps, (1.0, 0.0, 0.1, 1.0), "eta"),
    (E.gd_escape_steps, (1.0, 0.1, float("nan"), 1.0), "theta0"),
    (E.gd_escape_steps, (1.0, 0.1, 0.1, 0.0), "radius"),
    (E.gd_escape_steps, (1.0, 0.1, 0.1, float("nan")), "radius"),
    (E.sign_escape_steps, (-0.1, 0.1, 1.0), "eta"),
    (E.sign_escape_steps, (0.1, 0.1, -1.0), "radius"),
    (E.rmsprop_escape_bounds, (0.1, 0.1, 1.0, 1.0), "beta"),
    (E.adam_escape_bounds, (0.1, 0.1, 1.0, 1.0, 0.9), "beta1"),
    (E.adam_escape_bounds, (0.1, 0.1, 1.0, 0.9, -0.1), "beta2"),
    (E.log_median_pair_product, (1, 1.0), "depth"),
    (E.log_median_pair_product, (5, 0.0), "sigma"),
    (E.log_median_pair_product, (5, 1.0, "cauchy"), "law"),
    (E.escape_log_slope, (float("nan"),), "sigma"),
    (E.chain_hessian, ([1.0],), "weights"),
]


@pytest.mark.parametrize(("fn", "args", "name"), BAD)
def test_bad_input(fn, args, name):
    with pytest.raises(ValueError, match=name):
        fn(*args)


# --------------------------------------------------------------------------------------------
# chains
# --------------------------------------------------------------------------------------------


def _chain_grad(w: np.ndarray, x: float, y: float) -> np.ndarray:
    L = w.size
    p = np.prod(w)
    return np.array([(p * x - y) * x * np.prod(np.delete(w, i)) for i in range(L)])


@pytest.mark.parametrize(
    "w",
    [
        [2.0, 3.0],
        [0.5, -1.2, 0.3],
        [0.0, 1.0, 2.0, -0.5],
        [0.0, 0.0, 1.5, 0.7, -0.2],
        [0.9, 1.1, -0.8, 1.3, 0.6, -1.05],
    ],
)
def test_chain_hessian_matches_reference_and_fd(w):
    w = np.asarray(w)
    for x, y in ((1.0, 1.0), (0.7, -2.0)):
        fast = E.chain_hessian(w, x, y)
        ref = E.chain_hessian_reference(w, x, y)
        np.testing.assert_allclose(fast, ref, rtol=1e-13, atol=1e-14)
        h = 1e-6
        fd = np.array(
            [
                (_chain_grad(w + h * e, x, y) - _chain_grad(w - h * e, x, y)) / (2 * h)
                for e in np.eye(w.size)
            ]
        )
        np.testing.assert_allclose(fast, fd, rtol=1e-6, atol=1e-7)


def test_chain_hessian_batched():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(7, 5))
    batched = E.chain_hessian(w)
    for k in range(7):
        np.testing.assert_allclose(batched[k], E.chain_hessian_reference(w[k]), rtol=1e-12)


def test_plateau_curvature_drives_gd_escape():
    """Linearised GD at the chain saddle escapes along the λ_min eigenvector in exactly
    gd_escape_steps(|λ_min|, η, ε, R) steps."""
    rng = np.random.default_rng(1)
    w = 0.3 * rng.normal(size=6)
    H = E.chain_hessian(w)
    vals, vecs = np.linalg.eigh(H)
    lam = E.chain_plateau_curvature(w)
    assert lam == pytest.approx(-vals[0], rel=1e-14)
    eta, eps, radius = 0.5, 1e-6, 1e-2
    delta = eps * vecs[:, 0]
    t = 0
    while np.linalg.norm(delta) < radius:
        delta = delta - eta * H @ delta
        t += 1
    assert t == E.gd_escape_steps(lam, eta, eps, radius)


def test_log_weight_cumulants_vs_mpmath():
    mp.mp.dps = 30
    sigma = 1.7
    dens = lambda u: mp.exp(-(u**2) / (2 * sigma**2)) / (sigma * mp.sqrt(2 * mp.pi))  # noqa: E731
    m1 = 2 * mp.quad(lambda u: mp.log(u) * dens(u), [0, 1, mp.inf])
    m2 = 2 * mp.quad(lambda u: (mp.log(u) - m1) ** 2 * dens(u), [0, 1, mp.inf])
    m3 = 2 * mp.quad(lambda u: (mp.log(u) - m1) ** 3 * dens(u), [0, 1, mp.inf])
    k1, k2, k3 = E.log_abs_weight_cumulants(sigma)
    assert k1 == pytest.approx(float(m1), abs=1e-13)
    assert k2 == pytest.approx(float(m2), abs=1e-13) and k2 == pytest.approx(math.pi**2 / 8)
    assert k3 == pytest.approx(float(m3), abs=1e-12)
    assert E.escape_log_slope(sigma) == pytest.approx(-float(m1), abs=1e-13)
    assert E.escape_log_slope(2.0, "uniform") == pytest.approx(1 - math.log(2.0), abs=1e-15)


def test_uniform_exact_median_binomial():
    """Exact uniform-chain median of |P_{-ij}| vs simulation; leading-order mutant rejected."""
    rng = np.random.default_rng(2)
    depth, a, m = 12, 1.5, 20000
    logp = np.log(np.abs(rng.uniform(-a, a, size=(m, depth - 2)))).sum(axis=1)
    pred = E.log_median_pair_product(depth, a, "uniform")
    k = int(np.sum(logp <= pred))
    p_true = st.binomtest(k, m, 0.5).pvalue
    assert p_true > ALPHA, f"exact median rejected: {k}/{m} below, p={p_true}"
    mutant = E.log_median_pair_product(depth, a, "uniform", method="leading")
    k_mut = int(np.sum(logp <= mutant))
    p_mut = st.binomtest(k_mut, m, 0.5).pvalue
    assert p_mut < ALPHA, f"leading-order mutant not rejected: {k_mut}/{m}, p={p_mut}"


def test_gaussian_median_slope_trend():
    """Slope of the simulated log-median of |P_{-ij}| in L vs −escape_log_slope (CI test).

    Sample-median standard error ≈ √(π/2)·sd/√M with sd = √(nκ₂); slope from the two end
    depths. Mutants: zero slope (the mean-based prediction E P² = σ^{2L} = 1) and the wrong
    constant γ/2 instead of (γ + log 2)/2.
    """
    rng = np.random.default_rng(3)
    sigma, m = 1.0, 20000
    d_lo, d_hi = 10, 42
    meds = []
    ses = []
    for depth in (d_lo, d_hi):
        n = depth - 2
        logp = np.log(np.abs(rng.normal(0.0, sigma, size=(m, n)))).sum(axis=1)
        meds.append(float(np.median(logp)))
        ses.append(math.sqrt(math.pi / 2) * math.sqrt(n * math.pi**2 / 8) / math.sqrt(m))
    slope = (meds[1] - meds[0]) / (d_hi - d_lo)
    se = math.hypot(*ses) / (d_hi - d_lo)
    z = st.norm.ppf(1 - ALPHA / 2)
    pred = -E.escape_log_slope(sigma)
    assert abs(slope - pred) <= z * se, f"slope {slope} vs predicted {pred} ± {z * se}"
    for mutant in (0.0, math.log(sigma) - np.euler_gamma / 2):
        assert abs(slope - mutant) > z * se, f"mutant {mutant} not rejected (slope {slope})"
    # Cornish–Fisher level at the deep end agrees within a few standard errors + O(1/n)
    cf = E.log_median_pair_product(d_hi, sigma)
    assert abs(meds[1] - cf) <= z * ses[1] + 0.05, (meds[1], cf)
    # growth prediction: differences of sgd_median_escape_growth give the slope exactly
    g = [E.sgd_median_escape_growth(d, sigma) for d in (d_lo, d_hi)]
    assert (g[1] - g[0]) / (d_hi - d_lo) == pytest.approx(E.escape_log_slope(sigma), rel=1e-12)
