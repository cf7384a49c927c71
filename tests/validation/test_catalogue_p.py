"""Catalogue family P (products): unit checks of the claim pieces (cases as data); every claim's
verdict, mutant and layering are checked in test_catalogue.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

import flatstart.validation.catalogue.p as P
from flatstart.validation.claims import get

LOG_MOMENT_CASES = [1.0, 0.1, 3.0]


@pytest.mark.parametrize("sigma", LOG_MOMENT_CASES)
def test_log_moment_prediction_matches_closed_forms(sigma: float) -> None:
    p = P.predict_log_moments({"sigma": sigma})
    expected = (math.log(sigma) - (np.euler_gamma + math.log(2)) / 2, math.pi**2 / 8,
                float(special.polygamma(2, 0.5)) / 8)
    got = (p.kappa1, p.kappa2, p.kappa3)
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-12), (got, expected)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_berry_esseen_exact_law_inside_band_but_not_inside_tenth(depth: int) -> None:
    """The exact deviation is ~0.094-0.099 B: inside B, inside B/10 too, outside B/20."""
    p = P.predict_berry_esseen({"depth": depth, "sigma": 1.0})
    ratio = p.exact_deviation / p.bound
    assert 0.09 < ratio < 0.1, ratio
    assert P.mutant_berry_esseen({"depth": depth, "sigma": 1.0}).bound < p.exact_deviation


def test_berry_esseen_test_rejects_gross_violation() -> None:
    p = P.predict_berry_esseen({"depth": 2, "sigma": 1.0})
    shifted = p.clt.total_mean + p.clt.total_sd * (np.random.default_rng(0).normal(size=4000)
                                                   + 3.0)
    out = P.check_berry_esseen(p, shifted, 0.01)
    assert out.reject and out.details["p_mc"] < 1e-10


def test_berry_esseen_tight_companion_rejects_a_wrong_clt_mean() -> None:
    """Data from the exact law pass; a log-CLT whose mean is off by 0.1 sd fails the
    two-sided companion although the bound itself still holds."""
    import dataclasses

    from flatstart.montecarlo.variables import sample_log_abs_product

    params = {"depth": 3, "sigma": 0.5}
    p = P.predict_berry_esseen(params)
    logs = np.stack([sample_log_abs_product([("normal", {"sigma": 0.5})], 40_000, seed=s)[0]
                     for s in range(3)], axis=1)
    assert not P.check_berry_esseen(p, logs, 0.01).reject
    clt = dataclasses.replace(p.clt, mean=p.clt.mean + 0.1 * math.sqrt(p.clt.variance / 3))
    wrong = P._exact_deviations(P._be_law(params)[0], 3, clt)
    bad = dataclasses.replace(p, clt=clt, exact_deviation=wrong[0], exact_sf_deviation=wrong[1])
    out = P.check_berry_esseen(bad, logs, 0.01)
    assert out.reject and out.details["parts_p"]["bound"] == 1.0, out.details["parts_p"]


CHOI_CASES = [0, 1, 2, 5, 10, 100]


@pytest.mark.parametrize("n", CHOI_CASES)
def test_choi_bracket_and_mutant_outside(n: int) -> None:
    p = P.predict_choi({"n": n})
    assert p.lo < p.lam <= p.hi * (1 + 1e-12), p
    m = P.mutant_choi({"n": n})
    assert m.lam > m.hi, m


def test_choi_series_tolerance_covers_the_true_residual() -> None:
    for n in (1, 2, 3, 5, 10, 20, 50, 100):
        p = P.predict_choi({"n": n})
        assert abs(p.series - p.lam) <= 0.7 * P._choi_series_tol(n), (n, p.series - p.lam)
        assert abs(p.nu - p.lam) <= 1e-12 * p.lam
        assert p.cf == pytest.approx(n + 2 / 3, abs=1e-12)


def test_interpolated_cdf_matches_the_exact_cdf() -> None:
    from flatstart.theory.laws import Gamma, Normal, Uniform
    from flatstart.theory.products import product

    for law in (product(Normal(2.0), 5), product([Normal(1.5).signed_power(0.5),
                                                  Uniform(-1.0, 1.0), Gamma(2.0, 1.0)])):
        x = law.sample(500, seed=3)
        got = P._exact_cdf(law)(x)
        want = np.asarray(law.cdf(x, rtol=1e-9), dtype=np.float64)
        assert np.max(np.abs(got - want)) < 1e-6
        assert np.allclose(P._exact_cdf(2.0 * law)(2.0 * x), got, atol=1e-12)


@pytest.mark.parametrize("claim_id", ["P.normal-product", "P.gamma-product",
                                      "P.mixed-product"])
def test_distribution_windows_match_cdf_differences(claim_id: str) -> None:
    """The density windows (Gauss–Legendre of the pdf) equal CDF differences."""
    for params in get(claim_id).grid("quick"):
        p = get(claim_id).predict(params)
        for lo, hi, mass in p.windows:
            ref = float(p.law.cdf(hi) - p.law.cdf(lo))
            assert mass == pytest.approx(ref, rel=1e-5, abs=1e-9), (params, mass, ref)


def test_saddlepoint_routes_agree() -> None:
    """The closed-form, shifted and Mellin-lambdified CGFs of the same factors agree."""
    f = [["normal", {"sigma": 1.3}, 2], ["uniform", {"a": -2.5, "b": 2.5}, 2],
         ["gamma", {"k": 3.0, "theta": 0.4}, 1], ["beta", {"a": 4.0, "b": 2.0}, 1]]
    preds = [P._sp_prediction(f, r) for r in ("closed", "shift", "mellin")]
    for other in preds[1:]:
        assert np.allclose(other.kappa, preds[0].kappa, rtol=1e-9)
        assert np.allclose([y for _, y in other.quantiles], [y for _, y in preds[0].quantiles],
                           rtol=1e-8)


def test_gamma_mutant_differs_from_truth_on_every_quick_point() -> None:
    for params in get("P.gamma-product").grid("quick"):
        theta = math.prod(params["scales"])
        assert theta != 1.0, params
