"""Factor laws: parameters, one-factor agreement with scipy.stats, Mellin transforms, sampling."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import scipy.stats as st
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as hs

from flatstart.theory.laws import Beta, ChiSquare, Gamma, Law, Mixture, Normal, PointMass, Uniform
from flatstart.theory.products import product

# (law, matching scipy distribution)
ONE_FACTOR = [
    (Normal(0.7), st.norm(0, 0.7)),
    (Gamma(0.5, 2.0), st.gamma(0.5, scale=2.0)),
    (Gamma(3.5, 0.2), st.gamma(3.5, scale=0.2)),
    (ChiSquare(3, scale=0.5), st.chi2(3, scale=0.5)),
    (ChiSquare(2.5), st.chi2(2.5)),
    (Beta(2.0, 3.0), st.beta(2, 3)),
    (Beta(0.5, 0.7), st.beta(0.5, 0.7)),
    (Uniform(-1.0, 1.0), st.uniform(-1, 2)),
    (Uniform(0.0, 2.0), st.uniform(0, 2)),
]


@pytest.mark.parametrize("law,ref", ONE_FACTOR, ids=[repr(c[0]) for c in ONE_FACTOR])
def test_one_factor_mellin_path_matches_scipy(law: Law, ref: object) -> None:
    """The numeric Mellin path (not the scipy closed form) reproduces scipy.stats."""
    x = ref.ppf(np.array([0.01, 0.2, 0.5, 0.8, 0.99]))  # type: ignore[attr-defined]
    cdf, info = law.cdf(x, method="mellin", info=True)
    want = ref.cdf(x)  # type: ignore[attr-defined]
    if info.error < 1e-10:
        np.testing.assert_allclose(cdf, want, rtol=1e-10, err_msg=f"{law!r}")
    else:  # algebraically decaying Mellin transform (uniform/beta): auto must not use mellin
        np.testing.assert_allclose(cdf, want, rtol=info.error * 10 + 1e-10, err_msg=f"{law!r}")
    auto = law.cdf(x)
    np.testing.assert_allclose(auto, want, rtol=1e-12, err_msg=f"{law!r}")
    np.testing.assert_allclose(law.pdf(x), ref.pdf(x), rtol=1e-12)  # type: ignore[attr-defined]


@pytest.mark.parametrize("law,ref", ONE_FACTOR, ids=[repr(c[0]) for c in ONE_FACTOR])
def test_moments_match_scipy(law: Law, ref: object) -> None:
    for s in (1, 2, 3):
        want = ref.expect(lambda v, s=s: abs(v) ** s)  # type: ignore[attr-defined]
        got = law.moment(s)
        assert got == pytest.approx(want, rel=1e-9), (law, s, got, want)


def test_symbolic_mellin_closed_forms() -> None:
    s = sp.Symbol("s")
    assert sp.simplify(Normal(1.0).mellin(s) - 2 ** ((s - 1) / 2) * sp.gamma(s / 2)
                       / sp.sqrt(sp.pi)) == 0
    assert sp.simplify(Gamma(2, 3).mellin(s) - 3 ** (s - 1) * sp.gamma(s + 1)) == 0
    assert sp.simplify(Uniform(-2, 2).mellin(s) - 2 ** (s - 1) / s) == 0
    assert Gamma(2, 1).mellin(3) == 6
    # ChiSquare(k, c) = Gamma(k/2, 2c)
    assert sp.simplify(ChiSquare(3, scale=0.5).mellin(s) - Gamma(1.5, 1.0).mellin(s)) == 0


@pytest.mark.parametrize("s", [0.5, 1.0, 2.5])
def test_mellin_numeric_vs_symbolic(s: float) -> None:
    law = Mixture([(0.3, Normal(2.0)), (0.7, 1.5 * Gamma(2.0, 1.0))])
    z = np.asarray([s - 1.0 + 0.3j])
    num = np.exp(law.lphi_abs(z))[0]
    sym = complex(law.mellin(sp.Float(s) + sp.Float(0.3) * sp.I).evalf(30))
    assert num == pytest.approx(sym, rel=1e-13)


BAD = [
    (lambda: Normal(0.0), "sigma"),
    (lambda: Normal(-1.0), "sigma"),
    (lambda: Normal(float("nan")), "sigma"),
    (lambda: Uniform(1.0, 1.0), "a < b"),
    (lambda: Uniform(2.0, 1.0), "a < b"),
    (lambda: Gamma(0.0, 1.0), "k"),
    (lambda: Gamma(1.0, -1.0), "theta"),
    (lambda: ChiSquare(-2), "k"),
    (lambda: Beta(1.0, 0.0), "b"),
    (lambda: Mixture([(0.5, Normal()), (0.4, Gamma(1))]), "sum to 1"),
    (lambda: Mixture([(-0.5, Normal()), (1.5, Gamma(1))]), "weight"),
    (lambda: Mixture([]), "non-empty"),
    (lambda: Normal() ** -1.0, "a"),
    (lambda: Normal() ** 0.5, "integer"),
    (lambda: 0.0 * Normal(), "c must be > 0"),
    (lambda: Normal().with_atom(1.5), "p"),
    (lambda: product(Normal(), 0), "count"),
    (lambda: product(Normal(), 2.5), "count"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("make,needle", BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_bad_input_raises_naming_parameter(make: object, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        make()  # type: ignore[operator]


def test_point_mass_and_atoms() -> None:
    z = PointMass(0.0)
    assert z.p0 == 1.0
    # pdf is the density of the continuous part (atoms excluded, as for with_atom): none here
    for c in (0.0, 1.5, -2.0):
        np.testing.assert_array_equal(PointMass(c).pdf(np.array([-2.0, 0.0, 1.5])), 0.0)
    assert float(z.cdf(0.0)) == 1.0 and float(z.cdf(-1e-300)) == 0.0
    law = Normal(1.0).with_atom(0.25)
    assert law.p0 == pytest.approx(0.25)
    assert float(law.cdf(0.0)) == pytest.approx(0.375 + 0.25, rel=1e-14)
    assert float(law.cdf(-1.0)) == pytest.approx(0.75 * st.norm.cdf(-1.0), rel=1e-12)
    with pytest.raises(ValueError, match="s must be >= 0"):
        law.moment(-0.5)
    assert law.moment(2) == pytest.approx(0.75, rel=1e-14)


def test_power_semantics() -> None:
    sq = Normal(1.0) ** 2  # chi-square with 1 dof
    x = np.array([0.1, 1.0, 3.0])
    np.testing.assert_allclose(sq.cdf(x, method="mellin"), st.chi2(1).cdf(x), rtol=1e-11)
    cube = Normal(1.0) ** 3  # odd power keeps the sign
    assert cube.symmetric
    assert float(cube.cdf(-1.0, method="mellin")) == pytest.approx(st.norm.cdf(-1.0), rel=1e-11)
    root = Gamma(2.0) ** 0.5  # nonnegative law: any a > 0
    assert float(root.cdf(1.0, method="mellin")) == pytest.approx(st.gamma(2).cdf(1.0), rel=1e-11)
    sp_ = Normal(1.0).signed_power(0.5)
    assert float(sp_.cdf(-1.0, method="mellin")) == pytest.approx(st.norm.cdf(-1.0), rel=1e-11)


def test_scaling_and_abs() -> None:
    law = 2.0 * Gamma(3.0)
    assert float(law.cdf(4.0, method="mellin")) == pytest.approx(st.gamma(3, scale=2).cdf(4.0),
                                                                 rel=1e-12)
    a = Normal(1.5).abs()
    assert float(a.cdf(1.0, method="mellin")) == pytest.approx(st.halfnorm(scale=1.5).cdf(1.0),
                                                               rel=1e-12)
    assert float(a.median()) == pytest.approx(st.halfnorm(scale=1.5).median(), rel=1e-12)


def test_asymmetric_uniform_sign_parts() -> None:
    u = Uniform(-1.0, 3.0)
    assert (u.p_neg, u.p_pos) == (0.25, 0.75)
    x = np.array([-0.5, 0.5, 2.0])
    np.testing.assert_allclose(u.cdf(x, method="meijer"), st.uniform(-1, 4).cdf(x), rtol=1e-14)
    u2 = Uniform(0.5, 2.0)  # |X| bounded away from zero
    np.testing.assert_allclose(u2.pdf(np.array([0.7, 1.9]), method="meijer"), [2 / 3, 2 / 3],
                               rtol=1e-14)


@settings(max_examples=15)
@given(k=hs.floats(0.2, 6.0), theta=hs.floats(0.1, 5.0), q=hs.floats(0.02, 0.98))
def test_gamma_quantile_roundtrip(k: float, theta: float, q: float) -> None:
    law = Gamma(k, theta)
    x = law.quantile(q, method="mellin")
    assert float(x) == pytest.approx(st.gamma(k, scale=theta).ppf(q), rel=1e-9)


def test_sampler_seeded() -> None:
    a = Mixture([(0.5, Normal()), (0.5, Gamma(2))]).sample(100, seed=3)
    b = Mixture([(0.5, Normal()), (0.5, Gamma(2))]).sample(100, seed=3)
    np.testing.assert_array_equal(a, b)


def test_log_cumulants_gaussian_weight() -> None:
    """κ₁ = log σ − (γ + log 2)/2, κ_r = ψ^{(r-1)}(½)/2^r [derived]."""
    sig = 0.8
    law = Normal(sig)
    assert law.log_cumulant(1) == pytest.approx(math.log(sig) - (float(mp.euler) + math.log(2))
                                                / 2, rel=1e-14)
    for r in (2, 3, 4):
        assert law.log_cumulant(r) == pytest.approx(float(mp.psi(r - 1, 0.5)) / 2**r, rel=1e-13)
    # numeric differentiation path (mixture) vs the exact one
    mix = Mixture([(0.5, Normal(sig)), (0.5, Normal(sig))])
    assert mix.log_cumulant(3) == pytest.approx(law.log_cumulant(3), rel=1e-10)
