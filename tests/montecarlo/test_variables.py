"""Tests of flatstart.montecarlo.variables: factor laws (KS + mutants), products, log space,
errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats

from flatstart.montecarlo.variables import product_samples, sample_log_abs_product, sample_product

ALPHA = 0.01
N = 20_000

# (factor spec, true scipy law, mutant scipy law)
FACTOR_LAWS: list[tuple[tuple[str, dict[str, float]], Any, Any]] = [
    (("normal", {"sigma": 2.0}), stats.norm(scale=2.0), stats.norm(scale=2.1)),
    (("normal", {"sigma": 0.5, "mu": 1.0}), stats.norm(1.0, 0.5), stats.norm(0.95, 0.5)),
    (("uniform", {"a": -1.0, "b": 3.0}), stats.uniform(-1.0, 4.0), stats.uniform(-1.0, 4.2)),
    (("gamma", {"k": 0.3, "theta": 2.0}), stats.gamma(0.3, scale=2.0),
     stats.gamma(0.33, scale=2.0)),
    (("gamma", {"k": 3.5, "theta": 0.5}), stats.gamma(3.5, scale=0.5),
     stats.gamma(3.5, scale=0.53)),
    (("chi2", {"k": 3.0, "scale": 0.5}), stats.chi2(3.0, scale=0.5), stats.chi2(3.3, scale=0.5)),
    (("chi2", {"k": 1.0}), stats.chi2(1.0), stats.chi2(1.1)),
    (("beta", {"a": 0.2, "b": 3.0}), stats.beta(0.2, 3.0), stats.beta(0.22, 3.0)),
    (("beta", {"a": 2.0, "b": 5.0}), stats.beta(2.0, 5.0), stats.beta(2.0, 5.5)),
]


@pytest.mark.parametrize(("spec", "law", "mutant"), FACTOR_LAWS,
                         ids=[f"{s[0]}-{s[1]}" for s, _, _ in FACTOR_LAWS])
def test_single_factor_law(spec: Any, law: Any, mutant: Any) -> None:
    x = sample_product([spec], N, seed=3)
    p = stats.kstest(x, law.cdf).pvalue
    assert p > ALPHA, f"{spec}: KS p={p:.3g}"
    p_mut = stats.kstest(x, mutant.cdf).pvalue
    assert p_mut < ALPHA, f"{spec}: mutant not rejected, p={p_mut:.3g}"


def test_mixed_product_vs_numpy_reference() -> None:
    """Two-sample KS against an independent numpy sampler of the same product; mutant sigma."""
    factors = [("normal", {"sigma": 1.0}), ("gamma", {"k": 0.5, "theta": 2.0}),
               ("uniform", {"a": -1.0, "b": 1.0}), ("beta", {"a": 2.0, "b": 3.0})]
    x = sample_product(factors, N, seed=0)
    rng = np.random.default_rng(1)

    def ref(sigma: float) -> np.ndarray:
        return (rng.normal(0, sigma, N) * rng.gamma(0.5, 2.0, N) * rng.uniform(-1, 1, N)
                * rng.beta(2.0, 3.0, N))

    assert stats.ks_2samp(x, ref(1.0)).pvalue > ALPHA
    assert stats.ks_2samp(x, ref(1.3)).pvalue < ALPHA


def test_product_of_uniforms_log_is_minus_gamma() -> None:
    """-log prod of n U(0,1) is Gamma(n, 1) (classical); mutant Gamma(n + 0.3)."""
    la, sign = sample_log_abs_product([("uniform", {"a": 0.0, "b": 1.0})] * 6, N, seed=5)
    assert np.all(sign == 1)
    assert stats.kstest(-la, stats.gamma(6).cdf).pvalue > ALPHA
    assert stats.kstest(-la, stats.gamma(6.3).cdf).pvalue < ALPHA


def test_log_space_avoids_underflow() -> None:
    la, _ = sample_log_abs_product([("gamma", {"k": 0.005, "theta": 1.0})], 2000, seed=0)
    assert np.all(np.isfinite(la)) and la.min() < -800  # far below float64's smallest normal
    la, _ = sample_log_abs_product([("normal", {"sigma": 1e-3})] * 200, 100, seed=0)
    assert np.all(np.isfinite(la)) and la.max() < -745
    assert np.all(sample_product([("normal", {"sigma": 1e-3})] * 200, 100, seed=0) == 0.0)
    la, _ = sample_log_abs_product([("beta", {"a": 0.01, "b": 1.0})], 2000, seed=1)
    assert np.all(np.isfinite(la))


def test_signs_and_exact_product() -> None:
    factors = [("normal", {"sigma": 1.0}), ("normal", {"sigma": 3.0})]
    x = sample_product(factors, N, seed=2)
    la, s = sample_log_abs_product(factors, N, seed=2)
    np.testing.assert_allclose(x, s * np.exp(la), rtol=1e-15)
    assert abs(np.mean(x > 0) - 0.5) < 0.02
    # the same draws with torch directly: factor by factor from one generator
    g = torch.Generator().manual_seed(2)
    a = torch.randn(N, generator=g, dtype=torch.float64)
    b = 3.0 * torch.randn(N, generator=g, dtype=torch.float64)
    np.testing.assert_allclose(x, (a * b).numpy(), rtol=1e-13)


def test_reproducible_and_seed_sensitive() -> None:
    f = [("gamma", {"k": 2.0, "theta": 1.0}), ("uniform", {"a": -2.0, "b": 1.0})]
    assert np.array_equal(sample_product(f, 100, seed=4), sample_product(f, 100, seed=4))
    assert not np.array_equal(sample_product(f, 100, seed=4), sample_product(f, 100, seed=5))
    out32 = sample_product(f, 10, seed=4, dtype=torch.float32)
    assert out32.dtype == np.float64


def test_provenance() -> None:
    s = product_samples([("chi2", {"k": 2.0})], 10, seed=7)
    assert len(s) == 10 and s.values.dtype == np.float64
    p = s.provenance
    assert p["seed"] == 7 and p["parameters"]["factors"] == [["chi2", {"k": 2.0}]]
    assert p["torch"] == torch.__version__


BAD: list[tuple[Any, str]] = [
    ([], "factors"),
    ("normal", "factors"),
    ([("cauchy", {})], "name"),
    ([("normal", {"sigma": 0.0})], "sigma"),
    ([("normal", {"sigma": -1.0})], "sigma"),
    ([("normal", {"sigma": math.nan})], "sigma"),
    ([("normal", {"scale": 1.0})], "takes keys"),
    ([("uniform", {"a": 1.0, "b": 1.0})], "a < b"),
    ([("gamma", {"k": 1.0})], "takes keys"),
    ([("beta", {"a": 1.0, "b": 0.0})], "b"),
    ([("normal",)], "pair"),
]


@pytest.mark.parametrize(("factors", "msg"), BAD, ids=[m for _, m in BAD])
def test_bad_specs(factors: Any, msg: str) -> None:
    with pytest.raises((ValueError, TypeError), match=msg):
        sample_product(factors, 10)


def test_bad_count_seed_dtype_device() -> None:
    f = [("normal", {"sigma": 1.0})]
    with pytest.raises(ValueError, match="count"):
        sample_product(f, 0)
    with pytest.raises(ValueError, match="seed"):
        sample_product(f, 5, seed=-2)
    with pytest.raises(ValueError, match="dtype"):
        sample_product(f, 5, dtype=torch.int32)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device"):
            sample_product(f, 5, device="cuda")
