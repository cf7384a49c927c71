"""Catalogue family P (products): every claim is consistent at the quick budget with its
mutant rejected, plus unit checks of the claim pieces (cases as data)."""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
from typing import Any

import numpy as np
import pytest
from scipy import special

import validation.catalogue.products as P
from validation.claims import get, verify

IDS = list(P.P_IDS)


@pytest.mark.parametrize("claim_id", IDS)
def test_claim_consistent_and_mutant_rejected(claim_id: str) -> None:
    r = verify(claim_id, budget="quick", seed=0, cache=False)
    assert r.error is None, r.error
    assert r.verdict == "consistent", (claim_id, r.verdict, r.p_value, r.details["points"])
    assert r.mutant_rejected is True, (claim_id, r.mutant_p_value)


def _imported_modules(fn: Any) -> set[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    mods: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            mods.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and node.id in ("product", "Normal", "Gamma", "Beta",
                                                        "Uniform", "gamma_median",
                                                        "choi_bounds",
                                                        "gaussian_log_abs_moments"):
            mods.add("theory")
    return mods


@pytest.mark.parametrize("claim_id", IDS)
def test_simulate_uses_no_theory(claim_id: str) -> None:
    mods = _imported_modules(get(claim_id).simulate)
    assert "theory" not in mods, (claim_id, mods)
    assert "montecarlo" in mods, (claim_id, mods)


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


CHOI_CASES = [0, 1, 2, 5, 10, 100]


@pytest.mark.parametrize("n", CHOI_CASES)
def test_choi_bracket_and_mutant_outside(n: int) -> None:
    p = P.predict_choi({"n": n})
    assert p.lo < p.lam <= p.hi * (1 + 1e-12), p
    m = P.mutant_choi({"n": n})
    assert m.lam > m.hi, m


def test_gamma_mutant_differs_from_truth_on_every_quick_point() -> None:
    for params in get("P.gamma-product").grid("quick"):
        theta = math.prod(params["scales"])
        assert theta != 1.0, params
