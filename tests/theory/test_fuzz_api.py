"""Fuzz test of the public API of :mod:`flatstart.theory.laws` / :mod:`flatstart.theory.products`.

Random laws (primitives with ordinary and extreme parameters, negative supports, atoms,
products, mixtures, scalings, ``|X|``, powers) and random methods with random arguments,
including bad ones (negative, NaN, ±inf, huge, tiny, wrong types). Only ValueError/TypeError may
escape; a returned probability lies in [0, 1]; nothing returned is NaN; a density is >= 0; a
returned quantile q satisfies ``cdf(x) >= q`` (up to the evaluation's accuracy).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import flatstart.theory.products.meijer as products_meijer
from flatstart.theory.laws import (
    Beta,
    ChiSquare,
    Gamma,
    Law,
    Mixture,
    Normal,
    PointMass,
    Uniform,
)
from flatstart.theory.products import product

#: examples per test (``FLATSTART_FUZZ_EXAMPLES`` scales them, e.g. 10 for a long local run);
#: quantiles and medians cost a root search each, so they get fewer
SCALE = float(os.environ.get("FLATSTART_FUZZ_EXAMPLES", "1"))


def _fuzz(n: int) -> settings:
    return settings(max_examples=max(1, int(n * SCALE)), derandomize=True, deadline=None,
                    database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ------------------------------------------------------------------ strategies

_scale = hs.one_of(hs.floats(0.05, 20.0), hs.sampled_from([1e-200, 1e-30, 1e30, 1e200]))
_shape = hs.floats(0.2, 6.0)


def _uniform(t: tuple[float, float]) -> Law:
    return Uniform(t[0], t[0] + t[1])


primitives: hs.SearchStrategy[Law] = hs.one_of(
    hs.builds(Normal, _scale),
    hs.tuples(hs.floats(-4.0, 3.0), hs.floats(0.1, 4.0)).map(_uniform),
    hs.floats(0.1, 5.0).map(lambda c: Uniform(-c, c)),
    hs.tuples(hs.floats(-5.0, -1.0), hs.floats(0.1, 3.0)).map(_uniform),  # negative support
    hs.builds(Gamma, _shape, _scale),
    hs.builds(ChiSquare, hs.integers(1, 6), hs.floats(0.1, 5.0)),
    hs.builds(Beta, _shape, _shape),
    hs.sampled_from([-2.0, -0.5, 0.0, 0.5, 3.0]).map(PointMass),
)


def _combine(children: hs.SearchStrategy[Law]) -> hs.SearchStrategy[Law]:
    return hs.one_of(
        hs.tuples(children, hs.integers(1, 4)).map(lambda t: product(t[0], t[1])),
        hs.lists(children, min_size=2, max_size=3).map(product),
        hs.tuples(children, children, hs.floats(0.05, 0.95)).map(
            lambda t: Mixture([(t[2], t[0]), (1.0 - t[2], t[1])])),
        hs.tuples(children, hs.floats(0.01, 100.0)).map(lambda t: t[1] * t[0]),
        children.map(lambda law: law.abs()),
        hs.tuples(children, hs.floats(0.05, 0.9)).map(lambda t: t[0].with_atom(t[1])),
        hs.tuples(children, hs.sampled_from([2, 3])).map(lambda t: t[0] ** t[1]),
    )


laws: hs.SearchStrategy[Law] = hs.recursive(primitives, _combine, max_leaves=3)

_good_x = hs.floats(-50.0, 50.0, allow_nan=False)
_odd_x: hs.SearchStrategy[Any] = hs.sampled_from(
    [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e300, -1e300, math.inf, -math.inf, 1e-12, 7.0])
_bad_x: hs.SearchStrategy[Any] = hs.sampled_from(
    [math.nan, "a", None, 1 + 2j, [1.0, "b"], object(), [[1.0, math.nan]], {"x": 1}])
xs: hs.SearchStrategy[Any] = hs.one_of(
    hs.lists(hs.one_of(_good_x, _odd_x), min_size=1, max_size=4),
    _good_x, _odd_x, _bad_x)
qs: hs.SearchStrategy[Any] = hs.one_of(
    hs.floats(0.001, 0.999), hs.sampled_from([0.0, 1.0, -0.5, 2.0, math.nan, math.inf, 1e-300,
                                               "half", None, [0.2, 0.7]]))
ss: hs.SearchStrategy[Any] = hs.one_of(
    hs.floats(-3.0, 6.0), hs.sampled_from([0, 1, 2, -0.5, 1e6, -1e6, math.nan, math.inf,
                                            "2", None, 1j]))

ALLOWED = (ValueError, TypeError)


@contextlib.contextmanager
def _short_meijer(seconds: float = 2.0) -> Iterator[None]:
    """Bound the mpmath Meijer-G budget (its timeout is a ValueError, which is allowed)."""
    old = products_meijer.MEIJER_TIMEOUT_S
    products_meijer.MEIJER_TIMEOUT_S = seconds
    try:
        yield
    finally:
        products_meijer.MEIJER_TIMEOUT_S = old


def _check_values(kind: str, out: Any) -> None:
    arr = np.asarray(out, dtype=np.float64)
    assert not np.isnan(arr).any(), (kind, out)
    if kind in ("cdf", "sf"):
        assert ((arr >= 0.0) & (arr <= 1.0)).all(), (kind, out)
    elif kind == "pdf":
        assert (arr >= 0.0).all(), (kind, out)


# ------------------------------------------------------------------ the tests


@_fuzz(60)
@given(law=laws, kind=hs.sampled_from(["cdf", "sf", "pdf"]), x=xs,
       method=hs.sampled_from(["auto", "auto", "auto", "mellin", "saddlepoint", "closed", "clt",
                               "bogus"]))
def test_evaluations_fail_loudly_or_return_probabilities(law: Law, kind: str, x: Any,
                                                         method: str) -> None:
    with _short_meijer():
        try:
            out = getattr(law, kind)(x, method=method)
        except ALLOWED:
            return
    _check_values(kind, out)
    xa = np.asarray(x, dtype=np.float64)
    arr = np.broadcast_to(np.asarray(out, dtype=np.float64), xa.shape)
    # nothing on the side of zero the law does not reach
    if law.p_neg == 0 and kind != "sf":
        assert (arr[xa < 0] == 0.0).all(), (law, kind, x, out)
    if law.p_pos == 0 and kind != "cdf":
        assert (arr[xa > 0] == 0.0).all(), (law, kind, x, out)
    if kind == "cdf" and xa.ndim == 1 and xa.size > 1:  # monotone in x
        order = np.argsort(xa, kind="stable")
        assert (np.diff(arr[order]) >= -1e-12).all(), (law, x, out)
    if method == "auto" and kind == "cdf":
        with _short_meijer():
            try:
                sf = law.sf(x)
            except ALLOWED:
                return
        # the two tails are computed separately: they add up to 1
        np.testing.assert_allclose(np.asarray(out) + np.asarray(sf), 1.0, atol=1e-9)


@_fuzz(20)
@given(law=laws, q=qs)
def test_quantiles_fail_loudly_or_invert_the_cdf(law: Law, q: Any) -> None:
    with _short_meijer():
        try:
            xq = law.quantile(q)
        except ALLOWED:
            return
        arr = np.asarray(xq, dtype=np.float64)
        assert not np.isnan(arr).any(), (law, q, xq)
        qa = np.asarray(q, dtype=np.float64)
        try:
            c = np.asarray(law.cdf(arr), dtype=np.float64)
        except ALLOWED:
            return
    # smallest x with F(x) >= q: F(x) >= q (to the evaluation's accuracy)
    assert (c >= qa - 1e-9).all(), (law, q, xq, c)


@_fuzz(6)
@given(law=laws)
def test_median_and_median_abs(law: Law) -> None:
    with _short_meijer():
        for target in (law, law.abs()):
            try:
                m = target.median()
            except ALLOWED:
                continue
            assert not math.isnan(float(m)), (target, m)
            if target is not law:
                assert float(m) >= 0.0


@_fuzz(60)
@given(law=laws, s=ss, dps=hs.sampled_from([None, None, 20, 0, -3, "x"]))
def test_moments_fail_loudly_or_are_positive(law: Law, s: Any, dps: Any) -> None:
    try:
        v = law.moment(s) if dps is None else law.moment(s, dps=dps)
    except ALLOWED:
        return
    fv = float(v)
    assert not math.isnan(fv) and fv >= 0.0, (law, s, v)
    if dps is None:
        assert math.isfinite(fv), (law, s, v)
