"""The fast paths of the product-law engine (issue #12) against their slow references.

The mellin path evaluates ``log Φ`` once per distinct contour (cdf/sf points whose τ is
clipped to the same value share it), skips the truncation-grid columns capped at 1e7,
iterates only the unconverged saddlepoints and evaluates the six Chernoff trial distances at
once; quantiles cache the log-CLT bracket per law (keyed by repr). Each shortcut is pinned
here against the plain computation it replaces (bit for bit where the shortcut is
elementwise) and the values against the 30-digit Meijer-G reference. No timings (speed
lives in benchmarks/).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath as mp
import numpy as np
import pytest

from flatstart.theory.laws import Beta, Gamma, Law, Normal, Uniform
from flatstart.theory.products import product
from flatstart.theory.products import quantiles as qmod
from flatstart.theory.products._parts import _part_lphi
from flatstart.theory.products.mellin import (
    _K1,
    _K12,
    _LREL,
    _lphi_rows,
    _saddle,
    _trunc_point,
)


def _points(law: Law, width: float, k: int) -> np.ndarray:
    m, s = law.log_cumulant(1), math.sqrt(law.log_cumulant(2))
    return np.exp(m + s * np.linspace(-width, width, k))


# ---- the reference implementations the fast helpers replace (the code before issue #12) ----

def _saddle_reference(lphi: Callable[[np.ndarray], np.ndarray], y: np.ndarray,
                      strip: tuple[float, float]) -> np.ndarray:
    """Safeguarded Newton on every point at every iteration, K' from the full ``_K12``."""
    lo, hi = strip
    n = y.size
    cap = 1e4
    a = np.full(n, lo + 1e-12 * max(1.0, abs(lo)) if np.isfinite(lo) else -1.0)
    b = np.full(n, hi - 1e-12 * max(1.0, abs(hi)) if np.isfinite(hi) else 1.0)
    if not np.isfinite(lo):
        for _ in range(40):
            need = _K12(lphi, a, lo)[1] > y
            if not need.any() or a.min() <= -cap:
                break
            a = np.where(need, np.maximum(2.0 * a - 1.0, -cap), a)
    if not np.isfinite(hi):
        for _ in range(40):
            need = _K12(lphi, b, lo)[1] < y
            if not need.any() or b.max() >= cap:
                break
            b = np.where(need, np.minimum(2.0 * b + 1.0, cap), b)
    _, k1, k2 = _K12(lphi, np.zeros(1), lo)
    tau = np.clip((y - k1[0]) / max(k2[0], 1e-300), a, b)
    tau = np.where(tau <= a, 0.5 * (a + b), tau)
    tau = np.where(tau >= b, 0.5 * (a + b), tau)
    for _ in range(100):
        _, k1, k2 = _K12(lphi, tau, lo)
        f = k1 - y
        a = np.where(f < 0, tau, a)
        b = np.where(f > 0, tau, b)
        with np.errstate(all="ignore"):
            new = tau - f / k2
        bad = ~np.isfinite(new) | (new <= a) | (new >= b)
        new = np.where(bad, 0.5 * (a + b), new)
        done = (np.abs(f) <= 1e-14 * (1.0 + np.abs(y))) | (b - a <= 1e-15 * (1 + np.abs(tau)))
        tau = np.where(done, tau, new)
        if done.all():
            break
    return np.asarray(tau)


def _trunc_reference(lphi: Callable[[np.ndarray], np.ndarray], tau: np.ndarray, k0: np.ndarray,
                     k2: np.ndarray, pole: str | None) -> np.ndarray:
    """The full 72-column truncation grid, one row per point."""
    logc = 0.5 * np.log(2 * np.pi * np.maximum(k2, 1e-300))
    sd = 1.0 / np.sqrt(np.maximum(k2, 1e-300))
    ts = np.minimum(np.minimum(sd, 1e3)[:, None] * (1.4 ** np.arange(0, 72))[None, :], 1e7)
    with np.errstate(all="ignore"):
        v = lphi(tau[:, None] + 1j * ts).real - k0[:, None] + np.log1p(ts) + logc[:, None]
        if pole is not None:
            v = v - np.log(np.abs(tau[:, None] + 1j * ts))
    above = v > -_LREL
    last = np.where(above.any(axis=1), above.shape[1] - 1 - np.argmax(above[:, ::-1], axis=1), -1)
    tmax = ts[np.arange(tau.size), np.minimum(last + 1, ts.shape[1] - 1)]
    return np.asarray(np.where(last == ts.shape[1] - 1, np.inf, tmax))


LAWS = [
    ("3 normals", product(Normal(1.0), 3)),
    ("5 gammas", product(Gamma(2.0, 1.0), 5)),
    ("mixed", product([Normal(1.0), Gamma(2.0, 1.0), Beta(2.0, 3.0), Uniform(-1.0, 1.0)])),
]


@pytest.mark.parametrize(("name", "law"), LAWS, ids=[c[0] for c in LAWS])
def test_saddle_matches_the_full_newton_bit_for_bit(name: str, law: Law) -> None:
    lphi = _part_lphi(law, 1)
    y = np.log(_points(law, 12.0, 41))
    tau, _ = _saddle(lphi, y, law.strip)
    np.testing.assert_array_equal(tau, _saddle_reference(lphi, y, law.strip))


@pytest.mark.parametrize(("name", "law"), LAWS, ids=[c[0] for c in LAWS])
def test_k1_alone_equals_k12(name: str, law: Law) -> None:
    lphi = _part_lphi(law, 1)
    tau = np.linspace(law.strip[0] + 0.01, min(law.strip[1] - 0.01, 5.0), 17)
    np.testing.assert_array_equal(_K1(lphi, tau, law.strip[0]), _K12(lphi, tau, law.strip[0])[1])


@pytest.mark.parametrize("pole", [None, "lower", "upper"])
@pytest.mark.parametrize(("name", "law"), LAWS, ids=[c[0] for c in LAWS])
def test_truncation_point_matches_the_full_grid(name: str, law: Law, pole: str | None) -> None:
    lphi = _part_lphi(law, 1)
    lo = law.strip[0]
    # repeated τ (as for clipped far-tail points) and distinct ones, small and large K''
    tau = np.array([-0.5, -0.5, -0.2, 0.3, 0.3, 0.3, 1.5, 4.0, -0.5])
    tau = tau[(tau > lo) & (tau < law.strip[1])]
    k0, _, k2 = _K12(lphi, tau, lo)
    logc = 0.5 * np.log(2 * np.pi * np.maximum(k2, 1e-300))
    np.testing.assert_array_equal(_trunc_point(lphi, tau, k0, k2, logc, pole),
                                  _trunc_reference(lphi, tau, k0, k2, pole))


@pytest.mark.parametrize(("name", "law"), LAWS, ids=[c[0] for c in LAWS])
def test_shared_contours_give_the_plain_evaluation_bit_for_bit(name: str, law: Law) -> None:
    """cdf/sf points off the bulk share a clipped τ: log Φ is evaluated once per distinct τ
    and handed to every point on it, the same numbers as evaluating every row."""
    lphi = _part_lphi(law, 1)
    ta = np.array([-0.5, -0.5, 0.25, -0.5, 0.25, 0.7])[:, None]
    tt = 0.0625 * np.arange(300)
    z = ta + 1j * tt[None, :]
    tu, tinv = np.unique(ta[:, 0], return_inverse=True)
    assert tu.size < ta.shape[0]
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(_lphi_rows(lphi, z, tt, tu, tinv), lphi(z))


def test_far_tail_points_share_a_contour() -> None:
    """The situation the shortcut is for: the lower-tail cdf points of 3 normals all sit on
    τ = lo/2 (their contour min(τ̂, -2/√K''(0)) is below lo = -1, so it is moved to lo/2: one
    evaluation of log Φ serves them all), and their values agree with each point evaluated
    alone."""
    law = product(Normal(1.0), 3)
    x = _points(law, 9.0, 9)[:4]
    lphi = _part_lphi(law, 1)
    _, _, k2z = _K12(lphi, np.zeros(1), law.strip[0])
    assert -2.0 * math.sqrt(k2z[0]) ** -1 < law.strip[0]  # hence τ = lo/2 for all of them
    tau_s, _ = _saddle(lphi, np.log(x), law.strip)
    assert np.all(tau_s < 0)
    together = law.cdf(x, method="mellin")
    alone = np.array([law.cdf(float(v), method="mellin") for v in x])
    np.testing.assert_allclose(together, alone, rtol=1e-14, atol=0)


@pytest.mark.parametrize("kind", ["cdf", "sf", "pdf"])
@pytest.mark.parametrize("n", [3, 5])
def test_fast_path_against_30_digit_meijer(kind: str, n: int) -> None:
    """Bulk and tail points (lower-tail points on the shared clipped τ included) against the
    30-digit Meijer G, within the error the fast path reports and within 1e-12."""
    law = product(Normal(1.0), n)
    x = _points(law, 4.0, 5)
    vals, info = getattr(law, kind)(x, method="mellin", info=True)
    ref = getattr(law, kind)(x, method="meijer", dps=30)
    assert all(r > 1e-250 for r in ref)
    with mp.workdps(30):
        rel = np.array([float(abs(mp.mpf(float(v)) / r - 1)) for v, r in zip(vals, ref,
                                                                               strict=True)])
    assert np.all(rel <= np.maximum(info.rel_error, 1e-15)), (rel, info.rel_error)
    assert np.all(rel <= 1e-12), rel


def test_quantile_cache_gives_the_same_answers() -> None:
    law = product(Normal(1.0), 7).abs()
    qmod._LOG_CLT_CACHE.pop(repr(law), None)
    cold = law.median()
    assert repr(law) in qmod._LOG_CLT_CACHE
    warm = law.median()
    again = product(Normal(1.0), 7).abs().median()  # an equal law, a new object
    assert cold == warm == again
    # the cached bracket is the 30-digit log-CLT
    m, s = qmod._LOG_CLT_CACHE[repr(law)]
    assert m == float(law.log_cumulant(1))
    assert s == math.sqrt(float(law.log_cumulant(2)))


def test_quantile_cache_is_not_stale_for_other_parameters() -> None:
    a = product(Normal(1.0), 4).abs()
    b = product(Normal(2.0), 4).abs()  # |X| scaled by 2^4 exactly
    ma = a.median()
    mb = b.median()
    assert repr(a) != repr(b)
    assert qmod._LOG_CLT_CACHE[repr(a)] != qmod._LOG_CLT_CACHE[repr(b)]
    assert mb == pytest.approx(16.0 * ma, rel=1e-12)
    # and each agrees with a cold computation (cache emptied)
    saved = dict(qmod._LOG_CLT_CACHE)
    try:
        qmod._LOG_CLT_CACHE.clear()
        assert b.median() == mb
        qmod._LOG_CLT_CACHE.clear()
        assert a.median() == ma
    finally:
        qmod._LOG_CLT_CACHE.update(saved)


def test_quantile_cache_is_bounded() -> None:
    saved = dict(qmod._LOG_CLT_CACHE)
    try:
        qmod._LOG_CLT_CACHE.clear()
        for i in range(qmod._LOG_CLT_CACHE_SIZE + 5):
            qmod._log_clt(Normal(1.0 + i / 64))
        assert len(qmod._LOG_CLT_CACHE) == qmod._LOG_CLT_CACHE_SIZE
        assert repr(Normal(1.0)) not in qmod._LOG_CLT_CACHE  # the oldest went first
    finally:
        qmod._LOG_CLT_CACHE.clear()
        qmod._LOG_CLT_CACHE.update(saved)


def test_median_against_30_digit_cdf() -> None:
    """The median of |X| (root found on the fast cdf) has cdf ½ at 30 digits, to within the
    root finder's tolerance in log x."""
    law = product(Normal(1.0), 5).abs()
    med = float(law.median())
    inner = product(Normal(1.0), 5)
    with mp.workdps(30):
        c_hi = 1 - 2 * inner.sf(med * (1 + 1e-11), method="meijer", dps=30)
        c_lo = 1 - 2 * inner.sf(med * (1 - 1e-11), method="meijer", dps=30)
        assert c_lo < mp.mpf(0.5) < c_hi
