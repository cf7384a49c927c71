"""``method="gil-pelaez"`` against the saddlepoint-contour ``mellin`` path (cases as data).

Gil-Pelaez inversion on the real line has absolute accuracy: cdf/sf agree with mellin to
1e-12 absolutely everywhere, the pdf relatively where the density of ``log|X|`` is not tiny.
The per-point sum (gp_direct, <= 64 points) and the FFT + spline path (> 64 points) are both
exercised.
"""

from __future__ import annotations

import numpy as np
import pytest

from flatstart.theory.laws import Beta, ChiSquare, Gamma, Law, Mixture, Normal, PointMass, Uniform
from flatstart.theory.products import product
from flatstart.theory.products.gil_pelaez import LogFactor, LogProductLaw

CASES: dict[str, Law] = {
    "normal^3": product(Normal(1.3), 3),
    "gamma x beta": product([Gamma(2.0, 1.5), Beta(2.0, 3.0)]),
    "|uniform x normal|": product([Uniform(-1.0, 2.0), Normal(1.0)]).abs(),
    "relu layer x chi2 (atom at 0)": product(
        [Mixture([(0.25, PointMass(0.0)), (0.75, ChiSquare(3, 0.5))]), ChiSquare(5, 0.2)]),
    "normal x uniform": product([Normal(0.7), Uniform(-1.0, 1.0)]),
    "normal^10": product(Normal(1.0), 10),
}


def _grid(law: Law, n: int) -> np.ndarray:
    m, s = float(law.log_cumulant(1)), float(law.log_cumulant(2)) ** 0.5
    x = np.exp(m + s * np.linspace(-3.0, 3.0, n))
    return np.concatenate([-x[::-1], x]) if law.symmetric else x


def _disagreement(law: Law, other: Law, kind: str, n: int) -> float:
    """Largest disagreement of gil-pelaez on ``law`` with mellin on ``other`` (cdf/sf: absolute;
    pdf: relative where the density of log|X|, |x| f(x), exceeds 1e-6)."""
    x = _grid(law, n)
    a = np.asarray(getattr(other, kind)(x, method="mellin"))
    b = np.asarray(getattr(law, kind)(x, method="gil-pelaez"))
    if kind != "pdf":
        return float(np.max(np.abs(a - b)))
    keep = np.abs(x) * a > 1e-6
    return float(np.max(np.abs(a[keep] - b[keep]) / a[keep]))


@pytest.mark.parametrize("n", [20, 80], ids=["direct", "fft"])
@pytest.mark.parametrize("kind", ["cdf", "sf", "pdf"])
@pytest.mark.parametrize("name", list(CASES))
def test_gil_pelaez_agrees_with_mellin(name: str, kind: str, n: int) -> None:
    law = CASES[name]
    tol = 1e-12 if kind != "pdf" else 1e-6
    err = _disagreement(law, law, kind, n)
    assert err <= tol, f"{name} {kind} ({n} points): gil-pelaez vs mellin {err:.3g} > {tol:g}"


@pytest.mark.parametrize("kind", ["cdf", "pdf"])
def test_the_comparison_rejects_a_law_one_percent_off(kind: str) -> None:
    """Mutant: a scale 1% off is far outside the tolerance (the check above can fail)."""
    law, wrong = product(Normal(1.3), 3), product([Normal(1.3 * 1.01), Normal(1.3), Normal(1.3)])
    assert _disagreement(law, wrong, kind, 20) > 1e-4


def test_a_mixed_sign_law_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="gil-pelaez.*symmetric or nonnegative"):
        Uniform(-1.0, 2.0).cdf([0.5], method="gil-pelaez")


def test_log_product_law_is_the_same_inversion() -> None:
    """LogProductLaw (the wide-network engine) and Product(method='gil-pelaez') give the same
    cdf for the same law: chi2_3/3 x chi2_5/5 as LogFactors and as ChiSquare laws."""
    lp = LogProductLaw([(LogFactor(((1.0, (("gpow", float(np.log(2.0 / 3.0)), 1.5, 1.0),)),)), 1),
                        (LogFactor(((1.0, (("gpow", float(np.log(2.0 / 5.0)), 2.5, 1.0),)),)), 1)])
    pr = product([ChiSquare(3, 1.0 / 3.0), ChiSquare(5, 1.0 / 5.0)])
    x = np.linspace(0.05, 4.0, 30)
    np.testing.assert_allclose(lp.cdf(x), pr.cdf(x, method="gil-pelaez"), rtol=0, atol=1e-13)


# ------------------------------------------------------------------ TwinProduct: wide networks
WIDE_CASES = [
    ("linear lecun", dict(width=4, depth=2, activation="linear")),
    ("relu he (atom)", dict(width=3, depth=2, activation="relu")),
    ("linear, varying widths", dict(width=[5, 3, 4], depth=3, activation="linear",
                                    input_dim=6)),
    ("orthogonal narrowing", dict(width=[4, 2], depth=2, activation="linear",
                                  init="orthogonal", input_dim=8)),
]


@pytest.mark.parametrize(("name", "kw"), WIDE_CASES, ids=[c[0] for c in WIDE_CASES])
def test_norm_ratio_law_two_engines_agree(name: str, kw: dict) -> None:
    """The norm-ratio law of a wide network is a TwinProduct: the Mellin engine on its factor
    laws (chi-square mixtures, Beta products, the alive atom) and its Gil-Pelaez twin agree on
    the atom and on the cdf (1e-9)."""
    from flatstart.theory.products import TwinProduct
    from flatstart.theory.wide import norm_ratio_law

    law = norm_ratio_law(**kw)
    assert isinstance(law, TwinProduct) and law.route == "twin", name
    assert abs(law.p0 - law.atom) <= 1e-15, (name, law.p0, law.atom)
    med = float(law.median())
    x = med * np.logspace(-1.5, 1.0, 9)
    a = np.asarray(law.cdf(x, method="mellin"))
    b = np.asarray(law.cdf(x))
    assert np.allclose(a, b, rtol=0, atol=1e-9), (name, float(np.max(np.abs(a - b))))
    # the log-scale API goes through the twin
    assert law.log_mean == law.twin.log_mean and law.log_cdf(0.0) == law.twin.log_cdf(0.0)


def test_norm_ratio_two_engine_check_rejects_a_wrong_width() -> None:
    """Mutant: the law of width 4 is not that of width 5 (the cdf moves by > 1e-3)."""
    from flatstart.theory.wide import norm_ratio_law

    law, wrong = norm_ratio_law(4, 2), norm_ratio_law(5, 2)
    x = np.array([0.5, 1.0, 2.0])
    assert np.max(np.abs(np.asarray(law.cdf(x, method="mellin")) - wrong.cdf(x))) > 1e-3


def test_factor_and_twin_constructors_reject_other_types() -> None:
    from flatstart.theory.products.gil_pelaez import factor_law, twin_product

    with pytest.raises(TypeError, match="factor must be a LogFactor"):
        factor_law(Normal(1.0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="law must be a LogProductLaw"):
        twin_product(product(Normal(1.0), 2))  # type: ignore[arg-type]
