"""The dispatcher: :func:`evaluate` runs the requested path, or ``auto`` picks one.

``auto`` takes a closed form where one exists (per point for the cdf/sf of two normals), else
``mellin``; points whose mellin error estimate exceeds ``rtol`` are recomputed with ``meijer``
(when the law has a Meijer-G form) and otherwise raise ValueError.
"""

from __future__ import annotations

from typing import Any

import mpmath as mp
import numpy as np
from numpy.typing import NDArray

from flatstart._checks import check_choice, check_int, check_positive
from flatstart.theory.laws import (
    FArray,
    Law,
    PointMass,
)
from flatstart.theory.products._parts import _as_x, _atom, _atom_eval, _clip, _finish, _point_mass
from flatstart.theory.products.closed import (
    _TWO_NORMAL_ABS_ERR,
    _TWO_NORMAL_ZMAX,
    _closed_form,
    _eval_closed_mp,
    _two_normal_cdf,
    _two_normal_scale,
)
from flatstart.theory.products.clt import _eval_clt
from flatstart.theory.products.core import KINDS, METHODS, Info, short
from flatstart.theory.products.gil_pelaez import _eval_gil_pelaez
from flatstart.theory.products.meijer import _eval_meijer
from flatstart.theory.products.mellin import _eval_mellin, _eval_mellin_mp
from flatstart.theory.products.saddlepoint import _eval_saddlepoint

# ============================================================================================
# dispatcher
# ============================================================================================


def evaluate(law: Law, kind: str, x: Any, method: str = "auto", dps: int | None = None,
             info: bool = False, rtol: float = 1e-10) -> Any:
    """Evaluate ``pdf``/``cdf``/``sf`` of ``law`` at ``x`` by the chosen path.

    Args:
        law: any Law (products, mixtures, primitives).
        kind: ``"pdf"``, ``"cdf"`` or ``"sf"``.
        x: array-like of reals (no NaN); scalars give a 0-d float.
        method: ``"auto"`` | ``"meijer"`` | ``"mellin"`` | ``"gil-pelaez"`` |
            ``"saddlepoint"`` | ``"clt"`` | ``"closed"``.
        dps: if given, evaluate with mpmath at this many digits (``meijer`` or mpmath contour
            quadrature) and return mpf values (an object array, or one mpf for scalar x).
        info: also return an :class:`Info`.
        rtol: relative accuracy that ``auto`` requires of the mellin path before falling back.

    Returns:
        float64 array (or mpf objects with ``dps``), optionally with Info.
    """
    check_choice("kind", kind, KINDS)
    check_choice("method", method, METHODS)
    rtol = check_positive("rtol", rtol)
    xa, scalar = _as_x(x)
    if isinstance(law, PointMass):
        vals = _point_mass(law, kind, xa)
        return _finish(vals, scalar, info, Info("closed", 0.0))
    atom = _atom(law)
    if atom is not None:  # a product (or scaling, |.|, power) of point masses is one atom
        return _finish(_atom_eval(atom, kind, xa), scalar, info, Info("closed", 0.0))
    if dps is not None:
        dps = check_int("dps", dps, minimum=5, maximum=10_000)
        closed = _eval_closed_mp(law, kind, xa, dps) if method in ("auto", "closed") else None
        if closed is not None:
            vals, used = closed, "closed"
        elif method == "closed":
            raise ValueError(f"no mpmath closed form for the {kind} of {short(law)} (one "
                             "primitive law, a positive scaling of one, or a mixture of such); "
                             "use method='auto'")
        elif method in ("auto", "meijer") and law.meijer_terms() is not None:
            try:
                vals = _eval_meijer(law, kind, xa, dps)
                used = "meijer"
            except ValueError:
                if method == "meijer":
                    raise
                vals = _eval_mellin_mp(law, kind, xa, dps)
                used = "mellin"
        elif method in ("auto", "mellin"):
            vals = _eval_mellin_mp(law, kind, xa, dps)
            used = "mellin"
        else:
            raise ValueError(f"dps is supported with method 'auto', 'closed', 'meijer' or "
                             f"'mellin', got method={method!r}")
        with mp.workdps(dps):
            if kind == "pdf":
                vals = np.vectorize(lambda v: max(+v, mp.mpf(0)), otypes=[object])(vals)
            else:
                vals = np.vectorize(lambda v: min(max(+v, mp.mpf(0)), mp.mpf(1)),
                                    otypes=[object])(vals)
        out: Any = vals[()] if scalar else vals
        return (out, Info(used, 10.0 ** (-dps))) if info else out
    s2 = _two_normal_scale(law) if kind != "pdf" else None
    if method == "closed" and s2 is not None:
        vals, err = _two_normal_cdf(xa, s2, kind)
        bad = ~(err <= rtol)
        if bad.any():
            raise ValueError(
                f"the closed form of the {kind} of {short(law)} cancels in the tail: at "
                f"x={xa[bad][:5]!r} its relative error exceeds rtol={rtol:g} (it is usable "
                f"while the returned probability is >= {_TWO_NORMAL_ABS_ERR / rtol:.1g} and "
                f"|x| <= {_TWO_NORMAL_ZMAX}·σ₁σ₂); use method='auto' or 'mellin'")
        return _finish(vals, scalar, info, Info("closed", float(np.max(err, initial=0.0)),
                                                np.full(xa.shape, "closed", dtype=object), err))
    if method == "closed":
        fn = _closed_form(law, kind)
        if fn is None:
            raise ValueError(f"no closed form for the {kind} of {short(law)}; closed forms exist "
                             "for one factor, two centred normals (pdf; cdf/sf in the bulk) and "
                             "products of uniforms")
        return _finish(np.asarray(fn(xa), dtype=np.float64), scalar, info, Info("closed", 1e-14))
    if method == "meijer":
        vals = _clip(kind, np.asarray(_eval_meijer(law, kind, xa, 20, need=16), dtype=np.float64))
        return _finish(vals, scalar, info, Info("meijer", 1e-15))
    if method == "mellin":
        vals, err = _eval_mellin(law, kind, xa)
        return _finish(vals, scalar, info, Info("mellin", float(np.max(err, initial=0.0)),
                                                rel_error=err))
    if method == "gil-pelaez":
        vals, e = _eval_gil_pelaez(law, kind, xa)
        return _finish(vals, scalar, info, Info("gil-pelaez", e))
    if method == "saddlepoint":
        vals, e = _eval_saddlepoint(law, kind, xa)
        return _finish(vals, scalar, info, Info("saddlepoint", e))
    if method == "clt":
        vals, e = _eval_clt(law, kind, xa)
        return _finish(vals, scalar, info, Info("clt", e))
    # auto
    if s2 is not None:  # two normals: closed form where accurate, mellin/meijer elsewhere
        vals, err = _two_normal_cdf(xa, s2, kind)
        methods = np.full(xa.shape, "closed", dtype=object)
        rest = ~(err <= rtol)
        if rest.any():
            v2, e2, m2 = _auto_numeric(law, kind, xa[rest], rtol)
            vals[rest], err[rest], methods[rest] = v2, e2, m2
        names = set(methods.ravel().tolist())
        used = names.pop() if len(names) == 1 else "mixed"
        return _finish(vals, scalar, info, Info(used, float(np.max(err, initial=0.0)), methods,
                                                err))
    fn = _closed_form(law, kind)
    if fn is not None:
        return _finish(np.asarray(fn(xa), dtype=np.float64), scalar, info, Info("closed", 1e-14))
    vals, err, methods = _auto_numeric(law, kind, xa, rtol)
    used = ("mellin" if (methods == "mellin").all() else
            "meijer" if (methods == "meijer").all() else "mixed")
    return _finish(vals, scalar, info, Info(used, float(np.max(err, initial=0.0)), methods,
                                            err))


def _auto_numeric(law: Law, kind: str, xa: FArray, rtol: float
                  ) -> tuple[FArray, FArray, NDArray[Any]]:
    """mellin at every point, meijer where the mellin error estimate exceeds ``rtol``."""
    vals, err = _eval_mellin(law, kind, xa)
    methods = np.full(xa.shape, "mellin", dtype=object)
    bad = err > rtol
    if bad.any():
        terms = law.meijer_terms()
        if terms is None:
            raise ValueError(
                f"no evaluation path reaches rtol={rtol:g} for the {kind} of {short(law)} at "
                f"x={xa[bad][:5]!r} (mellin error estimate {err[bad].max():.2g}); the law has "
                "no Meijer-G form; pass method='saddlepoint' or 'clt' for an approximation")
        mv = _eval_meijer(law, kind, xa[bad], 20, need=16)
        vals[bad] = _clip(kind, np.asarray(mv, dtype=np.float64))
        err[bad] = 1e-15
        methods[bad] = "meijer"
    return vals, err, methods
