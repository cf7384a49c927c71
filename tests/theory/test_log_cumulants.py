"""Each law's own log-cumulants: the mpmath form (``_log_cumulant_exact``, what
``Law.log_cumulant`` returns), its float fast path (``_log_cumulants_float``, what the
Gil-Pelaez engine's terms use) and the generic route through the law's Gamma-ratio (Meijer-G)
terms must agree (cases as data, with a mutant the comparison rejects)."""

from __future__ import annotations

import mpmath as mp
import pytest

from flatstart.theory.laws import Beta, ChiSquare, Gamma, Law, Normal, PointMass, Uniform
from flatstart.theory.laws.law import Abs, Power, Scaled

CASES: dict[str, Law] = {
    "normal": Normal(1.7),
    "gamma": Gamma(2.5, 0.3),
    "chi2": ChiSquare(5, 0.2),
    "beta": Beta(2.0, 0.7),
    "uniform(-a, a)": Uniform(-2.0, 2.0),
    "uniform(0, a)": Uniform(0.0, 3.0),
    "point": PointMass(-2.5),
    "scaled gamma": Scaled(Gamma(1.5), 3.0),
    "|normal|": Abs(Normal(0.4)),
    "gamma^0.5": Power(Gamma(0.5), 0.5),
    "uniform^3": Power(Uniform(0.0, 1.0), 3),
}


def _generic(law: Law, k: int) -> float:
    """κ_k by differentiating log M numerically at 40 digits (the route for laws without a
    closed form): an independent reference."""
    with mp.workdps(40):
        def lm(z: mp.mpf) -> mp.mpf:
            a, b = law._mp_parts(z)
            return mp.log(a + b)
        return float(mp.diff(lm, 0, k))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("name", list(CASES))
def test_own_cumulants_agree_with_the_generic_route(name: str, k: int) -> None:
    law = CASES[name]
    exact = float(law.log_cumulant(k))
    fast = law._log_cumulants_float()
    assert fast is not None, f"{name}: no float cumulants"
    ref = _generic(law, k)
    tol = 1e-12 * max(1.0, abs(ref))
    assert abs(exact - ref) <= tol, f"{name} κ{k}: exact {exact!r} vs generic {ref!r}"
    assert abs(fast[k - 1] - exact) <= 4e-15 * max(1.0, abs(exact)), (
        f"{name} κ{k}: float {fast[k - 1]!r} vs exact {exact!r}")


def test_the_comparison_rejects_a_wrong_law() -> None:
    """Mutant: the cumulants of Gamma(2.5) are not those of Gamma(2.5·1.1) (κ₂ moves by ~10%)."""
    assert abs(float(Gamma(2.5).log_cumulant(2)) - _generic(Gamma(2.75), 2)) > 1e-2


def test_laws_without_a_closed_form_fall_back() -> None:
    """Uniform(a, b) with 0 < a: no polygamma form; the engine's generic route is used."""
    law = Uniform(1.0, 2.0)
    assert law._log_cumulants_float() is None and law._log_cumulant_exact(2) is None
    assert float(law.log_cumulant(2)) == pytest.approx(_generic(law, 2), rel=1e-12)
