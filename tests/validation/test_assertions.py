"""flatstart.validation.assertions: pass on true statements, fail (with informative messages) on
mutants."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from flatstart.theory.laws import Gamma, Mixture, Normal, PointMass, Uniform
from flatstart.theory.products import product
from flatstart.validation.assertions import (
    allclose_report,
    assert_bound_holds,
    assert_identity,
    assert_law_matches,
)

ALPHA = 0.01
RNG_SEED = 7


def _rng(k: int = 0) -> np.random.Generator:
    return np.random.default_rng(RNG_SEED + k)


# ------------------------------------------------------------------ assert_law_matches
LAW_CASES = [
    # (name, true law, mutant law, sampler)
    ("normal", Normal(1.0), Normal(1.2), lambda r: r.normal(0, 1, 3000)),
    ("uniform", Uniform(-1, 1), Uniform(-1.2, 1.2), lambda r: r.uniform(-1, 1, 3000)),
    ("gamma", Gamma(2.0, 1.0), Gamma(2.3, 1.0), lambda r: r.gamma(2.0, 1.0, 3000)),
    ("product2", product(Normal(1.0), 2), product(Normal(1.0), 3),
     lambda r: r.normal(size=(2, 3000)).prod(axis=0)),
]


@pytest.mark.parametrize(("name", "law", "mutant", "sampler"), LAW_CASES,
                         ids=[c[0] for c in LAW_CASES])
def test_law_matches_true_law_and_rejects_mutant(name, law, mutant, sampler):
    x = sampler(_rng())
    assert_law_matches(x, law, alpha=ALPHA, seed=RNG_SEED, params={"case": name})
    with pytest.raises(AssertionError) as info:
        assert_law_matches(x, mutant, alpha=ALPHA, seed=RNG_SEED, params={"case": name})
    msg = str(info.value)
    assert repr(mutant) in msg and "empirical F_n" in msg and "law F" in msg
    assert f"seed: {RNG_SEED}" in msg and "p = " in msg and f"case={name!r}" in msg


def test_law_with_atom_at_zero():
    """ReLU-like law: half the mass at 0, half |N(0,1)|: the randomized PIT makes KS exact."""
    r = _rng(1)
    z = r.normal(size=4000)
    x = np.where(r.random(4000) < 0.5, 0.0, np.abs(z))
    law = Mixture([(0.5, PointMass(0.0)), (0.5, Normal(1.0).abs())])
    assert_law_matches(x, law, alpha=ALPHA, seed=3)
    wrong = Mixture([(0.35, PointMass(0.0)), (0.65, Normal(1.0).abs())])
    with pytest.raises(AssertionError, match="KS D"):
        assert_law_matches(x, wrong, alpha=ALPHA, seed=3)


def test_law_matches_plain_cdf_callable():
    from scipy import stats

    x = _rng(2).normal(size=1000)
    assert_law_matches(x, stats.norm.cdf)
    with pytest.raises(AssertionError):
        assert_law_matches(x + 0.3, stats.norm.cdf)


def test_law_matches_bad_input():
    with pytest.raises(ValueError, match="finite"):
        assert_law_matches([1.0, np.nan], Normal())
    with pytest.raises(ValueError, match="alpha"):
        assert_law_matches([1.0], Normal(), alpha=1.5)
    with pytest.raises(TypeError, match="law"):
        assert_law_matches([1.0], 3.0)


# ------------------------------------------------------------------ assert_bound_holds
def test_bound_almost_surely():
    q = _rng(3).uniform(0, 1, 500)
    assert_bound_holds(1.0, q, {"a": 1.0}, seed=11)
    with pytest.raises(AssertionError) as info:
        assert_bound_holds(0.99, q, {"a": 1.0}, seed=11)  # mutant: a too small bound
    msg = str(info.value)
    assert "quantity = 0.99" in msg and "bound = 0.99" in msg
    assert "seed: 11" in msg and "a=1.0" in msg and "of 500" in msg


def test_bound_probability_true_and_mutant():
    """P(|Z| > z_{1-δ/2}) = δ exactly: the true bound passes, a smaller one is rejected."""
    from scipy import stats

    q = np.abs(_rng(4).normal(size=5000))
    delta = 0.05
    b = float(stats.norm.ppf(1 - delta / 2))
    assert_bound_holds(b, q, {"delta": delta}, prob=delta, alpha=ALPHA, seed=4)
    with pytest.raises(AssertionError) as info:
        assert_bound_holds(0.8 * b, q, {"delta": delta}, prob=delta, alpha=ALPHA, seed=4)
    msg = str(info.value)
    assert "Clopper-Pearson" in msg and "p = " in msg and "seed: 4" in msg
    assert "quantity = " in msg and "bound = " in msg


def test_bound_lower_direction_and_callable_and_sympy():
    q = _rng(5).uniform(1, 2, 400)
    assert_bound_holds(lambda lo: lo, q, {"lo": 1.0}, direction="lower")
    s = sp.Symbol("lo")
    assert_bound_holds(s, q, {"lo": 1.0}, direction="lower")
    with pytest.raises(AssertionError, match="violate"):
        assert_bound_holds(s + 0.5, q, {"lo": 1.0}, direction="lower")


def test_bound_underpowered_probability_check_fails():
    q = np.zeros(50)  # never violates, but 50 samples cannot see a rate 2e-3
    with pytest.raises(AssertionError, match="underpowered"):
        assert_bound_holds(1.0, q, prob=1e-3)
    assert_bound_holds(1.0, q, prob=1e-3, require_power=False)


def test_bound_bad_input():
    with pytest.raises(ValueError, match="prob"):
        assert_bound_holds(1.0, [0.5], prob=1.5)
    with pytest.raises(ValueError, match="direction"):
        assert_bound_holds(1.0, [0.5], direction="sideways")
    with pytest.raises(ValueError, match="one value per sample"):
        assert_bound_holds([1.0, 2.0], [0.5, 0.1, 0.2])


# ------------------------------------------------------------------ assert_identity
def test_identity_passes_to_roundoff():
    x = _rng(6).normal(size=(4, 5))
    assert_identity((x + 1.0) - 1.0, x, rtol=1e-12, atol=1e-15)
    assert_identity(np.exp(np.log1p(x**2)), 1 + x**2, rtol=1e-13)


def test_identity_mutant_fails_with_report():
    x = np.linspace(1, 2, 12).reshape(3, 4)
    y = x.copy()
    y[1, 2] *= 1 + 1e-9
    with pytest.raises(AssertionError) as info:
        assert_identity(y, x, params={"depth": 3}, seed=5)
    msg = str(info.value)
    assert "1 of 12 entries differ" in msg and "at (1, 2)" in msg
    assert "max abs error" in msg and "max rel error" in msg
    assert f"lhs = {y[1, 2]!r}" in msg and f"rhs = {x[1, 2]!r}" in msg
    assert "depth=3" in msg and "seed: 5" in msg


def test_identity_nan_and_shape():
    with pytest.raises(AssertionError, match="differ"):
        assert_identity([np.nan], [np.nan])
    with pytest.raises(AssertionError, match="shapes differ"):
        assert_identity(np.zeros(3), np.zeros(4))
    ok, report = allclose_report([1.0, 2.0], [1.0, 2.0])
    assert ok and report.startswith("0 of 2")
