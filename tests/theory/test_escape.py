"""Tests for flatstart.theory.escape: exact escape counts vs iteration, chain Hessian, median
slopes."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hst

from flatstart.theory import escape as E

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


# ------------------------------------------------------------------ plateau curvature: -2 log L
def _closed_form_hessians(w: np.ndarray, x: float = 1.0, y: float = 1.0) -> np.ndarray:
    """H = x²P²vvᵀ + rxP(vvᵀ − diag v²), v_i = 1/w_i, independent of E
    (docs/theory/vc-curvature.md#hessian-structure-derived)."""
    p = np.prod(w, axis=1)
    r = p * x - y
    v = 1.0 / w
    vv = v[:, :, None] * v[:, None, :]
    diag = np.einsum("ni,ij->nij", v**2, np.eye(w.shape[1]))
    return (x * x * p**2)[:, None, None] * vv + (r * x * p)[:, None, None] * (vv - diag)


ORDER_CASES = [  # (law, sigma, depth, k)
    ("normal", 1.0, 3, 1),
    ("normal", 1.0, 6, 2),
    ("normal", 0.7, 14, 1),
    ("normal", 1.0, 60, 2),
    ("uniform", 1.5, 6, 1),
    ("uniform", 1.0, 20, 2),
]


@pytest.mark.parametrize(("law", "sigma", "depth", "k"), ORDER_CASES)
def test_smallest_abs_weight_log_mean_vs_simulation(law: str, sigma: float, depth: int, k: int):
    """E log|w|_(k) (quadrature / digamma) vs the mean of numpy order statistics (t test);
    mutant: the naive scale log(kσ/L) (a point mass at the mean spacing)."""
    rng = np.random.default_rng(10 + depth + k)
    m = 100_000
    w = rng.normal(0, sigma, (m, depth)) if law == "normal" else rng.uniform(-sigma, sigma,
                                                                             (m, depth))
    x = np.log(np.sort(np.abs(w), axis=1)[:, k - 1])
    pred = E.smallest_abs_weight_log_mean(depth, sigma, law, k)
    t = (x.mean() - pred) / (x.std(ddof=1) / math.sqrt(m))
    p = 2 * st.norm.sf(abs(t))
    assert p > ALPHA, f"sim mean {x.mean()} vs predicted {pred} (p={p})"
    mutant = math.log(k * sigma / depth)
    tm = (x.mean() - mutant) / (x.std(ddof=1) / math.sqrt(m))
    assert 2 * st.norm.sf(abs(tm)) < ALPHA, f"mutant {mutant} not rejected (mean {x.mean()})"


@pytest.mark.parametrize(("depth", "k"), [(5, 1), (12, 2), (40, 3)])
def test_smallest_abs_weight_log_mean_uniform_reference(depth: int, k: int):
    """Slow reference: ∫ log(a u) Beta(u; k, L+1−k) du by quadrature vs the digamma form."""
    from scipy import integrate

    a = 1.7
    ref, _ = integrate.quad(lambda u: math.log(a * u) * st.beta.pdf(u, k, depth + 1 - k), 0, 1,
                            limit=200)
    assert E.smallest_abs_weight_log_mean(depth, a, "uniform", k) == pytest.approx(ref, abs=1e-9)


def test_smallest_abs_weight_log_mean_asymptotic_converges():
    """exact − asymptotic = O(k²/L²) for the normal law."""
    for depth in (50, 500, 5000):
        for k in (1, 2):
            ex = E.smallest_abs_weight_log_mean(depth, 1.3, "normal", k)
            asy = E.smallest_abs_weight_log_mean(depth, 1.3, "normal", k, "asymptotic")
            assert abs(ex - asy) <= 2.0 * (k + 1) ** 2 / depth**2, (depth, k, ex, asy)


def test_plateau_spread_closed_form_vs_poisson_simulation():
    """c_R (Laplace-functional quadrature) = E ½log(1 + Σ_{k≥3}(Γ₂/Γ_k)²) vs a numpy Poisson
    process (tail Σ_{k>K} ≈ Γ₂²/Γ_K); mutant c_R = 0."""
    rng = np.random.default_rng(4)
    m, kmax = 20_000, 1_000
    gam = np.cumsum(rng.exponential(size=(m, kmax)), axis=1)
    xs = np.sum((gam[:, 1:2] / gam[:, 2:]) ** 2, axis=1) + gam[:, 1] ** 2 / gam[:, -1]
    r = 0.5 * np.log1p(xs)
    c = E.plateau_spread_constant("closed_form")
    z = st.norm.ppf(1 - ALPHA / 2) * r.std(ddof=1) / math.sqrt(m)
    assert abs(r.mean() - c) <= z, (r.mean(), c, z)
    assert abs(r.mean() - 0.0) > z


def test_plateau_spread_constant_reference_and_eigenvalues():
    """The tabulated secular constant vs (a) its slow reference (other seed) and (b) an
    independent estimate: eigenvalues of ±(diag v² − vvᵀ) for the limiting model
    v_k = 1/Γ_k (K = 40 points; eigvalsh). Mutant: the closed-form approximation c_R."""
    est, se = E.plateau_spread_constant_reference(8_000, 150, seed=11)
    z = st.norm.ppf(1 - ALPHA / 2)
    assert abs(est - E.plateau_spread_constant()) <= z * math.hypot(se, 4e-4), (est, se)
    rng = np.random.default_rng(12)
    m, k = 6_000, 40
    gam = np.cumsum(rng.exponential(size=(m, k)), axis=1)
    v = 1.0 / gam
    a = np.einsum("ni,ij->nij", v**2, np.eye(k)) - v[:, :, None] * v[:, None, :]
    ev = np.linalg.eigvalsh(a)
    # P > 0: |λ_min(H)| ≈ P·(−λ_min(D − vvᵀ)); P < 0: |P|·λ_max(D − vvᵀ); fair coin
    r = 0.5 * (np.log(-ev[:, 0]) + np.log(ev[:, -1])) + np.log(gam[:, 0] * gam[:, 1])
    # truncation at K points lowers both roots by O(1/K): one-sided margin 2/K
    diff = E.plateau_spread_constant() - r.mean()
    zse = z * r.std(ddof=1) / math.sqrt(m)
    assert -zse <= diff <= zse + 2.0 / k, (r.mean(), diff, zse)
    mut = E.plateau_spread_constant("closed_form")
    assert abs(est - mut) > z * math.hypot(se, 4e-4), (est, mut)


def test_lambda_min_interlacing_lower_bound():
    """Exact: λ_min(H) ≤ λ_min of the 2×2 principal block on the two smallest |w| (Cauchy
    interlacing), whose value is ≈ −|P_{−(1)(2)}| = −max|P_{−ij}|; closed-form Hessians."""
    rng = np.random.default_rng(5)
    w = rng.normal(size=(3000, 20))
    h = _closed_form_hessians(w)
    lam = np.linalg.eigvalsh(h)[:, 0]
    idx = np.argsort(np.abs(w), axis=1)[:, :2]
    rows = np.arange(w.shape[0])[:, None, None]
    block = h[rows, idx[:, :, None], idx[:, None, :]]
    lam2 = np.linalg.eigvalsh(block)[:, 0]
    scale = np.abs(h).max(axis=(1, 2))
    assert np.all(lam <= lam2 + 1e-12 * scale)
    a = np.sort(np.abs(w), axis=1)
    p = np.prod(w, axis=1)
    pij = np.abs(p) / (a[:, 0] * a[:, 1])
    # block = [[P₋₁², P₋₁P₋₂ + rP₋₁₂], [·, P₋₂²]]: λ = −|r|P₋₁₂ + O(P₋₁² + P₋₂²)
    tiny = (np.abs(p) < 1e-4) & (pij < 1e-2)
    assert tiny.sum() > 500
    np.testing.assert_allclose(-lam2[tiny], (np.abs(1 - p) * pij)[tiny], rtol=2e-2)


@pytest.mark.parametrize(("law", "sigma", "depth"), [("normal", 1.0, 40), ("uniform", 1.0, 40),
                                                      ("normal", 0.8, 25)])
def test_chain_curvature_log_median_vs_hessian_eigenvalues(law: str, sigma: float, depth: int):
    """median log|λ_min| of closed-form chain Hessians (x = y = 1) vs theory: exact binomial
    test of the median; mutants: the leading order without the 2 log L term, and
    max|P_{−ij}| without the spread constant c_R."""
    rng = np.random.default_rng(6 + depth)
    m = 8_000
    w = rng.normal(0, sigma, (m, depth)) if law == "normal" else rng.uniform(-sigma, sigma,
                                                                             (m, depth))
    lam = -np.linalg.eigvalsh(_closed_form_hessians(w))[:, 0]  # <= 0 counts as below
    loglam = np.log(np.maximum(lam, 1e-300))
    pred = E.chain_curvature_log_median(depth, sigma, law)
    pred_exact = E.chain_curvature_log_median(depth, sigma, law, method="exact_order")
    for value in (pred, pred_exact):
        k = int(np.sum(loglam <= value))
        assert st.binomtest(k, m, 0.5).pvalue > ALPHA, f"{k}/{m} below predicted {value}"
    k1, k2, k3 = E.log_abs_weight_cumulants(sigma, law)
    mutants = [depth * k1 - k3 / (6 * k2), pred - E.plateau_spread_constant()]
    for value in mutants:
        k = int(np.sum(loglam <= value))
        assert st.binomtest(k, m, 0.5).pvalue < ALPHA, f"mutant {value} kept ({k}/{m})"


def test_chain_escape_log_median_differences():
    """Differences between depths: −κ₁ΔL − 2Δψ(L+1) exactly (asymptotic method); the slope of
    log median T + 2 log L tends to −κ₁ = chain_escape_log_slope."""
    import scipy.special as sc

    k1 = E.log_abs_weight_cumulants(1.0)[0]
    for lo, hi in ((6, 14), (20, 21)):
        d = E.chain_escape_log_median(hi) - E.chain_escape_log_median(lo)
        want = -k1 * (hi - lo) - 2 * (sc.digamma(hi + 1) - sc.digamma(lo + 1))
        assert d == pytest.approx(want, abs=1e-10)
    big = [E.chain_escape_log_median(L) + 2 * math.log(L) for L in (4000, 4001)]
    assert big[1] - big[0] == pytest.approx(E.chain_escape_log_slope(1.0), abs=1e-6)
    assert E.chain_escape_log_slope(2.0, "uniform") == E.escape_log_slope(2.0, "uniform")
    assert E.chain_escape_log_median(10, lr=0.5) == pytest.approx(
        E.chain_escape_log_median(10) + math.log(2.0), abs=1e-12)


@pytest.mark.parametrize(("fn", "kwargs", "match"), [
    (E.smallest_abs_weight_log_mean, {"depth": 5, "k": 6}, "k"),
    (E.smallest_abs_weight_log_mean, {"depth": 0}, "depth"),
    (E.smallest_abs_weight_log_mean, {"depth": 5, "law": "cauchy"}, "law"),
    (E.chain_curvature_log_median, {"depth": 2}, "depth"),
    (E.chain_curvature_log_median, {"depth": 5, "sigma": -1.0}, "sigma"),
    (E.chain_escape_log_median, {"depth": 5, "lr": 0.0}, "lr"),
])
def test_plateau_functions_reject_bad_input(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)


def _numpy_gd_escape_times(w: np.ndarray, eta: float, threshold: float, cap: int) -> np.ndarray:
    """First step with ½(P − 1)² < threshold under plain GD (x = y = 1); cap if never."""
    w = w.copy()
    t_out = np.full(w.shape[0], float(cap))
    alive = np.ones(w.shape[0], dtype=bool)
    for t in range(cap):
        with np.errstate(over="ignore", invalid="ignore"):
            p = np.prod(w, axis=1)
        with np.errstate(over="ignore", invalid="ignore"):
            done = alive & (0.5 * (p - 1.0) ** 2 < threshold)
        t_out[done] = t
        alive &= ~done
        if not alive.any():
            break
        idx = np.flatnonzero(alive)
        pa = p[idx]
        with np.errstate(over="ignore", invalid="ignore"):
            w[idx] -= eta * ((pa - 1.0) * pa)[:, None] / w[idx]
    return t_out


def test_chain_escape_log_median_shape_vs_numpy_gd():
    """Median GD escape steps of numpy chains (η = 0.2, loss < 0.4) at L = 6, …, 14:
    log median T − chain_escape_log_median(L) has OLS slope 0 (t test, 3 df); mutants: the
    leading order −κ₁L alone (no −2ψ(L+1); slopes differ by ≈ 0.2) and a flat escape time."""
    depths = np.array([6, 8, 10, 12, 14])
    rng = np.random.default_rng(21)
    logmed = []
    for depth in depths:
        w = rng.normal(size=(4001, depth))
        logmed.append(math.log(max(np.median(_numpy_gd_escape_times(w, 0.2, 0.4, 6000)), 1)))
    logmed = np.array(logmed)
    shape = np.array([E.chain_escape_log_median(int(d), lr=0.2) for d in depths])
    k1 = E.log_abs_weight_cumulants(1.0)[0]
    res = st.linregress(depths, logmed - shape)
    tcrit = st.t.ppf(1 - ALPHA / 2, depths.size - 2)
    assert abs(res.slope) <= tcrit * res.stderr, (res.slope, res.stderr, logmed)
    assert tcrit * res.stderr < 0.15, res.stderr  # CI narrower than the mutant offsets
    for mutant in (-k1 * depths, 0.0 * depths):
        rm = st.linregress(depths, logmed - mutant)
        assert abs(rm.slope) > tcrit * rm.stderr, ("mutant kept", rm.slope, rm.stderr)
