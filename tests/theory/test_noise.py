"""Tests for flatstart.theory.noise: exact identities, population SNR, two-batch estimators."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

from flatstart.theory import noise as Nz

ALPHA = 0.01
Z = float(st.norm.ppf(1 - ALPHA / 2))


def test_basics():
    assert Nz.b_simple(12.0, 3.0) == 4.0
    assert Nz.layer_snr(64, 16.0) == 4.0
    assert Nz.minibatch_pair_cosine(32, 32.0) == 0.5
    np.testing.assert_allclose(Nz.layer_snr(np.array([8, 16]), 4.0), [2.0, 4.0])
    assert Nz.mean_pairwise_inner_product(3, 2.0, 4.0) == 0.0
    assert Nz.mean_pairwise_inner_product(3, 2.0, 4.0, ddof=1) == pytest.approx(2.0 - 4.0 / 3)


@pytest.mark.parametrize(
    ("fn", "args", "name"),
    [
        (Nz.b_simple, (1.0, 0.0), "grad_norm_sq"),
        (Nz.b_simple, (-1.0, 1.0), "trace_sigma"),
        (Nz.b_simple, (float("nan"), 1.0), "trace_sigma"),
        (Nz.layer_snr, (0, 1.0), "B"),
        (Nz.minibatch_pair_cosine, (-4, 1.0), "B"),
        (Nz.mean_pairwise_inner_product, (1, 1.0, 1.0), "N"),
        (Nz.mean_pairwise_inner_product, (3, 1.0, -1.0), "trace_sigma"),
        (Nz.two_batch_estimates, (8, 8, 1.0, 1.0), "B_big"),
        (Nz.two_batch_estimates, (0, 8, 1.0, 1.0), "B_small"),
        (Nz.pairwise_identity_sides, (np.ones((1, 3)),), "gradients"),
    ],
)
def test_bad_input(fn, args, name):
    with pytest.raises(ValueError, match=name):
        fn(*args)


# --------------------------------------------------------------------------------------------
# exact pairwise identity
# --------------------------------------------------------------------------------------------


def _exact_sides(rows: list[list[Fraction]], divisor: str) -> tuple[Fraction, Fraction]:
    n, p = len(rows), len(rows[0])
    lhs = sum(
        (sum((rows[i][c] * rows[j][c] for c in range(p)), Fraction(0)))
        for i in range(n)
        for j in range(n)
        if i != j
    )
    lhs = Fraction(lhs) / (n * (n - 1))
    mean = [sum((r[c] for r in rows), Fraction(0)) / n for c in range(p)]
    g2 = sum((m * m for m in mean), Fraction(0))
    ss = sum(((r[c] - mean[c]) ** 2 for r in rows for c in range(p)), Fraction(0))
    if divisor == "N":
        return lhs, g2 - (ss / n) / (n - 1)
    return lhs, g2 - (ss / (n - 1)) / (n - 1)  # mutant: unbiased covariance, same formula


@settings(max_examples=30)
@given(
    hst.integers(2, 6).flatmap(
        lambda n: hst.lists(
            hst.lists(hst.integers(-50, 50), min_size=3, max_size=3), min_size=n, max_size=n
        )
    )
)
def test_pairwise_identity_exact_rational(rows):
    fr = [[Fraction(v, 7) for v in r] for r in rows]
    lhs, rhs = _exact_sides(fr, "N")
    assert lhs == rhs, f"{lhs} != {rhs}"
    lhs_f, rhs_f = Nz.pairwise_identity_sides(np.array(rows, dtype=float) / 7)
    assert lhs_f == pytest.approx(float(lhs), abs=1e-12 * (1 + abs(float(lhs))) + 1e-10)
    assert rhs_f == pytest.approx(float(rhs), abs=1e-12 * (1 + abs(float(rhs))) + 1e-10)


def test_pairwise_identity_mutant_divisor_rejected():
    rows = [[Fraction(v) for v in r] for r in ([1, 2], [3, -1], [0, 5])]
    lhs, rhs_mut = _exact_sides(rows, "N-1")
    assert lhs != rhs_mut


@settings(max_examples=30)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=40),
        elements=hst.floats(-1e3, 1e3),
    )
)
def test_pairwise_identity_float64(g):
    lhs, rhs = Nz.pairwise_identity_sides(g)
    scale = float(np.mean(np.sum(g * g, axis=1))) + 1e-300
    assert abs(lhs - rhs) <= 1e-12 * scale, f"lhs={lhs} rhs={rhs}"
    n = g.shape[0]
    mean = g.mean(axis=0)
    tr_n = float(np.sum((g - mean) ** 2) / n)
    tr_u = float(np.sum((g - mean) ** 2) / (n - 1))
    g2 = float(mean @ mean)
    assert Nz.mean_pairwise_inner_product(n, g2, tr_n) == pytest.approx(rhs, abs=1e-12 * scale)
    assert Nz.mean_pairwise_inner_product(n, g2, tr_u, ddof=1) == pytest.approx(
        rhs, abs=1e-12 * scale
    )


# --------------------------------------------------------------------------------------------
# population SNR = B / B_simple (exact enumeration over batches drawn with replacement)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "b"), [(3, 2), (4, 3), (5, 2)])
def test_layer_snr_exact_enumeration(n: int, b: int):
    rng = np.random.default_rng(n * 10 + b)
    pop = [[Fraction(int(v)) for v in row] for row in rng.integers(-5, 6, size=(n, 3))]
    p = len(pop[0])
    mean = [sum((r[c] for r in pop), Fraction(0)) / n for c in range(p)]
    g2 = sum((m * m for m in mean), Fraction(0))
    tr_sigma = sum(((r[c] - mean[c]) ** 2 for r in pop for c in range(p)), Fraction(0)) / n

    def batch_cov_trace(batches: list[tuple[int, ...]]) -> Fraction:
        tot = Fraction(0)
        for idx in batches:
            gb = [sum((pop[i][c] for i in idx), Fraction(0)) / len(idx) for c in range(p)]
            tot += sum(((gb[c] - mean[c]) ** 2 for c in range(p)), Fraction(0))
        return tot / len(batches)

    with_repl = list(itertools.product(range(n), repeat=b))
    snr = g2 / batch_cov_trace(with_repl)
    assert snr == Fraction(b) * g2 / tr_sigma  # exact: B / B_simple with divisor-N Σ
    assert float(snr) == pytest.approx(Nz.layer_snr(b, Nz.b_simple(float(tr_sigma), float(g2))))
    # mutant: batches without replacement have the finite-population factor (N−B)/(N−1)
    without = list(itertools.combinations(range(n), b))
    assert g2 / batch_cov_trace(without) != snr


@pytest.mark.parametrize(("n", "b"), [(3, 2), (4, 3), (5, 2), (6, 1), (6, 4)])
def test_layer_snr_without_replacement_exact_enumeration(n: int, b: int):
    """All B-subsets of N samples, exact rationals: SNR = (B/B_simple)(N−1)/(N−B); the
    with-replacement value B/B_simple (mutant) differs unless B = 1."""
    rng = np.random.default_rng(n * 100 + b)
    pop = [[Fraction(int(v)) for v in row] for row in rng.integers(-5, 6, size=(n, 3))]
    p = len(pop[0])
    mean = [sum((r[c] for r in pop), Fraction(0)) / n for c in range(p)]
    g2 = sum((m * m for m in mean), Fraction(0))
    tr_sigma = sum(((r[c] - mean[c]) ** 2 for r in pop for c in range(p)), Fraction(0)) / n
    subsets = list(itertools.combinations(range(n), b))
    cov = Fraction(0)
    for idx in subsets:
        gb = [sum((pop[i][c] for i in idx), Fraction(0)) / b for c in range(p)]
        cov += sum(((gb[c] - mean[c]) ** 2 for c in range(p)), Fraction(0))
    snr = g2 / (cov / len(subsets))
    bs = tr_sigma / g2
    assert snr == Fraction(b) / bs * Fraction(n - 1, n - b)
    got = Nz.layer_snr(b, float(bs), N=n, replacement=False)
    assert got == pytest.approx(float(snr), rel=1e-14), (got, float(snr))
    mutant = Nz.layer_snr(b, float(bs))
    assert (mutant == pytest.approx(float(snr), rel=1e-14)) == (b == 1), (mutant, float(snr))


def test_layer_snr_without_replacement_edges():
    assert Nz.layer_snr(8, 2.0, N=8, replacement=False) == math.inf  # full batch: no noise
    np.testing.assert_allclose(Nz.layer_snr(np.array([1, 4]), 2.0, N=9, replacement=False),
                               [0.5, 2.0 * 8 / 5])
    assert Nz.layer_snr(4, 2.0, N=100) == 2.0  # N ignored with replacement
    with pytest.raises(ValueError, match="N"):
        Nz.layer_snr(4, 2.0, replacement=False)
    with pytest.raises(ValueError, match="B"):
        Nz.layer_snr(5, 2.0, N=4, replacement=False)
    with pytest.raises(ValueError, match="B"):
        Nz.layer_snr(2.5, 2.0, N=4, replacement=False)
    with pytest.raises(ValueError, match="N"):
        Nz.layer_snr(1, 2.0, N=1, replacement=False)
    with pytest.raises(TypeError, match="replacement"):
        Nz.layer_snr(1, 2.0, N=4, replacement="no")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# simulations: mini-batch pair cosine and two-batch estimators
# --------------------------------------------------------------------------------------------


def _population(p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.normal(0.0, 0.2, size=p)
    sd = rng.uniform(0.5, 1.5, size=p)
    return g, sd


def _batch_means(g, sd, b, reps, rng):
    return (g + sd * rng.standard_normal((reps, b, g.size))).mean(axis=1)


@pytest.mark.parametrize("b", [4, 32])
def test_minibatch_pair_cosine(b: int):
    p, reps = 400, 1500
    g, sd = _population(p, 1)
    g2, tr = float(g @ g), float(np.sum(sd**2))
    bs = Nz.b_simple(tr, g2)
    rng = np.random.default_rng(b)
    m1 = _batch_means(g, sd, b, reps, rng)
    m2 = _batch_means(g, sd, b, reps, rng)
    inner = np.sum(m1 * m2, axis=1)
    sq = 0.5 * (np.sum(m1 * m1, axis=1) + np.sum(m2 * m2, axis=1))
    # ratio of expectations (the exact statement) via the delta method
    ratio = inner.mean() / sq.mean()
    cov = np.cov(inner, sq) / reps
    grad = np.array([1 / sq.mean(), -inner.mean() / sq.mean() ** 2])
    se = math.sqrt(grad @ cov @ grad)
    pred = Nz.minibatch_pair_cosine(b, bs)
    assert abs(ratio - pred) <= Z * se, f"ratio {ratio} vs {pred} ± {Z * se}"
    for mutant in (1.0 / (1.0 + b / bs), 1.0 / (1.0 + bs / (2 * b))):
        assert abs(ratio - mutant) > Z * se, f"mutant {mutant} not rejected ({ratio})"
    # the mean cosine itself is close when P is large (approximation, generous 0.02)
    cos = inner / np.sqrt(np.sum(m1 * m1, axis=1) * np.sum(m2 * m2, axis=1))
    assert abs(cos.mean() - pred) < 0.02, (cos.mean(), pred)


def test_two_batch_estimators_unbiased():
    p, reps, b_small, b_big = 50, 3000, 2, 16
    g, sd = _population(p, 2)
    g2, tr = float(g @ g), float(np.sum(sd**2))
    rng = np.random.default_rng(3)
    small = np.sum(_batch_means(g, sd, b_small, reps, rng) ** 2, axis=1)
    big = np.sum(_batch_means(g, sd, b_big, reps, rng) ** 2, axis=1)
    est_g2, est_tr = Nz.two_batch_estimates(b_small, b_big, small, big)
    for est, true, name in ((est_g2, g2, "|G|²"), (est_tr, tr, "tr Σ")):
        se = float(np.std(est, ddof=1) / math.sqrt(reps))
        assert abs(est.mean() - true) <= Z * se, f"{name}: {est.mean()} vs {true} ± {Z * se}"
    # mutants: the naive |ḡ_big|² for |G|² (biased by tr Σ/B_big); swapped batch sizes
    se_big = float(np.std(big, ddof=1) / math.sqrt(reps))
    assert abs(big.mean() - g2) > Z * se_big, "naive |ḡ_big|² mutant not rejected"
    swapped = (b_small * big - b_big * small) / (b_small - b_big)
    se_sw = float(np.std(swapped, ddof=1) / math.sqrt(reps))
    assert abs(swapped.mean() - g2) > Z * se_sw, "swapped-size mutant not rejected"
