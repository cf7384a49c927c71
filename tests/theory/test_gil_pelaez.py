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
