"""``method="meijer"``: exact Meijer-G evaluation with ``mpmath.meijerg`` (the slow reference).

A product of Gamma-ratio Mellin transforms is a Meijer G function (Springer & Thompson 1970);
each point is evaluated at the requested precision under a wall-clock budget
(``MEIJER_TIMEOUT_S``) that never touches process-global signal state.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath as mp
import numpy as np
from numpy.typing import NDArray

from flatstart.theory.laws import (
    FArray,
    Law,
    Terms,
    _NoMeijer,
)
from flatstart.theory.products._parts import (
    _check_continuous,
    _mp,
    _mp_masses,
    _part_mass,
    _pdf_at_zero,
)
from flatstart.theory.products.core import short

MEIJER_TIMEOUT_S = 20.0
#: ``log`` of the series length (``z^{1/(q-p)}`` terms) beyond which Meijer G is not tried:
#: ten times the ``maxterms=20000`` that :func:`_meijerg` passes to mpmath
_MEIJER_LOG_TERMS = math.log(2e5)
#: most digits added to recompute an upper tail that cancels in ``mass - lower`` (Meijer G)
_MEIJER_EXTRA_DIGITS = 60


class _Timeout(Exception):
    pass


def _meijerg(a: Any, b: Any, z: Any) -> Any:
    """``mpmath.meijerg`` with a wall-clock budget of :data:`MEIJER_TIMEOUT_S` (mpmath can run
    for minutes near singular points or for many equal parameters).

    The budget is checked by a call tracer (:func:`sys.settrace`) installed for this thread
    only while mpmath runs, and the caller's tracer is restored afterwards; no signal, timer
    or other process-global state is touched, so the caller's own alarms keep working.
    """
    import sys
    import time

    deadline = time.monotonic() + MEIJER_TIMEOUT_S
    calls = [0]

    def tracer(frame: Any, event: str, arg: Any) -> None:
        calls[0] += 1
        if calls[0] % 256 == 0 and time.monotonic() > deadline:
            raise _Timeout(f"mpmath.meijerg exceeded {MEIJER_TIMEOUT_S} s")
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        return mp.meijerg(a, b, z, maxterms=20000)
    finally:
        sys.settrace(old)


def _meijer_part(terms: Terms, sign: int, ax: Any, kind: str) -> Any:
    """Σ over terms of one sign: density of |X| (kind pdf) or lower cdf at ``ax`` (mpf)."""
    tot = mp.mpf(0)
    for sg, t in terms:
        if sg != sign:
            continue
        if t.beta is None or len(t.b) == 0:
            raise _NoMeijer("term without Gamma functions (point mass)")
        beta = mp.mpf(t.beta.numerator) / t.beta.denominator
        rho = _mp(t.rho)
        zeta = (ax / rho ** beta) ** (1 / beta) if False else (ax ** (1 / beta)) / rho ** (1 / beta)
        bs = [_mp(b) for b in t.b]
        as_ = [_mp(a) for a in t.a]
        if len(as_) == len(bs) and abs(zeta - 1) < 0.02:
            raise _NoMeijer("argument within 2% of the singular point z = 1 of G_{p,p}")
        if len(bs) > len(as_) and mp.log(zeta) / (len(bs) - len(as_)) > _MEIJER_LOG_TERMS:
            # G^{q,0}_{p,q}(z), q > p, is summed as hypergeometric series needing about
            # z^{1/(q-p)} terms of ever longer integers: mpmath would run for hours
            raise _NoMeijer(f"argument {mp.nstr(zeta, 5)} too large for the Meijer-G series")
        if kind == "pdf":
            g = _meijerg([[], as_], [bs, []], zeta)
            tot += _mp(t.coef) * g / (beta * ax)
        else:
            g = _meijerg([[1], as_], [bs, [0]], zeta)
            tot += _mp(t.coef) * g
    return tot


def _eval_meijer(law: Law, kind: str, x: FArray, dps: int, need: int | None = None
                 ) -> NDArray[Any]:
    """Meijer G at ``dps + 10`` working digits; ``need`` (default ``dps``) digits must survive
    an upper tail computed as ``mass - lower`` (16 for the float paths)."""
    _check_continuous(law)
    terms = law.meijer_terms()
    if terms is None:
        raise ValueError(f"method='meijer' is not available for {short(law)}: it has no (small) "
                         "Gamma-ratio / Meijer-G representation; use method='mellin'")
    out = np.empty(x.shape, dtype=object)
    flat = x.ravel()
    res = out.ravel()
    with mp.workdps(dps + 10):
        lu = mp.mpf(law.log_upper) if np.isfinite(law.log_upper) else mp.inf
        ll = mp.mpf(law.log_lower) if np.isfinite(law.log_lower) else -mp.inf
        for i, xi in enumerate(flat):
            try:
                res[i] = _meijer_point(law, terms, kind, mp.mpf(repr(float(xi))), ll, lu,
                                       dps if need is None else need)
            except (_NoMeijer, _Timeout, mp.libmp.NoConvergence, ValueError,
                    ZeroDivisionError, ArithmeticError) as exc:
                raise ValueError(f"method='meijer' failed at x={float(xi)!r} for {short(law)} "
                                 f"({type(exc).__name__}: {exc}); use method='mellin'") from None
        out = np.vectorize(lambda v: +v, otypes=[object])(out)  # round to dps+10
    return out


def _meijer_point(law: Law, terms: Terms, kind: str, xi: Any, ll: Any, lu: Any,
                  need: int = 16) -> Any:
    ppos, pneg, p0 = _mp_masses(law)
    if xi == 0:
        if kind == "pdf":
            return mp.mpf(sum(_pdf_at_zero(law, s) for s in (1, -1) if _part_mass(law, s) > 0))
        return pneg + p0 if kind == "cdf" else ppos
    sign = 1 if xi > 0 else -1
    ax = abs(xi)
    mass = ppos if sign > 0 else pneg
    if _part_mass(law, sign) == 0:
        mass = mp.mpf(0)
    ly = mp.log(ax)
    if mass == 0:
        low = mp.mpf(0)
        dens = mp.mpf(0)
    elif ly >= lu:
        low, dens = mass, mp.mpf(0)
    elif ly <= ll:
        low, dens = mp.mpf(0), mp.mpf(0)
    else:
        if kind == "pdf":
            return _meijer_part(terms, sign, ax, "pdf")
        low = _meijer_part(terms, sign, ax, "cdf")
        dens = mp.mpf(0)
    if kind == "pdf":
        return dens
    up = mass - low
    # the returned upper tail must keep `need` digits: at most (working - need - 1) cancel;
    # otherwise recompute the lower cdf with the lost digits added (up to
    # _MEIJER_EXTRA_DIGITS), else raise
    allowed = mp.mp.dps - need - 1
    if mass > 0 and ((sign > 0 and kind == "sf") or (sign < 0 and kind == "cdf")):
        lost = mp.log10(mass / up) if up > 0 else mp.inf
        if lost > allowed:
            extra = int(lost - allowed) + 5 if mp.isfinite(lost) else _MEIJER_EXTRA_DIGITS + 1
            if extra <= _MEIJER_EXTRA_DIGITS:
                with mp.workdps(mp.mp.dps + extra):
                    ppos2, pneg2, _ = _mp_masses(law)
                    mass2 = ppos2 if sign > 0 else pneg2
                    up = mass2 - _meijer_part(terms, sign, ax, "cdf")
                    ok = up > 0 and mp.log10(mass2 / up) <= allowed + extra
                up = +up
            if extra > _MEIJER_EXTRA_DIGITS or not ok:
                raise ValueError(f"upper tail P(|X| > {mp.nstr(ax, 8)}) is below the Meijer "
                                 "working precision (computed as mass - lower cdf); raise dps "
                                 "or use method='mellin'")
    if sign > 0:
        return pneg + p0 + low if kind == "cdf" else up
    return up if kind == "cdf" else ppos + p0 + low
