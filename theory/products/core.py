"""The :class:`Product` law and its constructor :func:`product`.

A product of independent factors is itself a :class:`flatstart.theory.laws.Law`: its Mellin
transform on each sign part follows from the factors' by the Mellin convolution theorem
(Springer & Thompson 1970; Springer 1979, ch. 6),
``M₊(XY) = M₊ˣM₊ʸ + M₋ˣM₋ʸ``, ``M₋(XY) = M₊ˣM₋ʸ + M₋ˣM₊ʸ``. How its ``pdf``/``cdf``/``sf`` are
evaluated is chosen by ``method=`` (see :mod:`flatstart.theory.products`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath as mp
import numpy as np
import sympy as sp
from numpy.typing import NDArray

from flatstart._checks import check_int
from flatstart.theory.laws import (
    Atom,
    CArray,
    FArray,
    Law,
    Terms,
    _NoMeijer,
    clogaddexp,
    combine_atoms,
    iid_parts_lphi,
    merge_terms,
    multiply_terms,
    product_parts_lphi,
)

METHODS = ("auto", "meijer", "mellin", "gil-pelaez", "saddlepoint", "clt", "closed")
KINDS = ("pdf", "cdf", "sf")
#: Above this many factors a product's log-cumulants are summed over its factors (exact) instead
#: of read off its Gamma-ratio (Meijer-G) form, whose parameter lists grow with the count.
MANY_FACTORS = 1000


@dataclass
class Info:
    """What an evaluation did.

    Attributes:
        method: path used (``"mixed"`` when points used different paths; see ``methods``).
        error: estimated max error: relative (to the returned value) for
            ``mellin``/``meijer``/``closed``, absolute (Berry–Esseen) for ``clt``, ``nan``
            (no bound) for ``saddlepoint``. For ``mellin`` it is round-off + truncation +
            a conditioning term ``4ε(|K(τ)| + |τ log|x|| + ...)``, calibrated to bound the
            true error against 30-digit mpmath (tests/theory/test_hardening.py).
        methods: per-point path names (same shape as the input).
        rel_error: per-point estimated relative error (mellin), else None.
    """

    method: str
    error: float
    methods: NDArray[Any] | None = None
    rel_error: FArray | None = None
    notes: list[str] = field(default_factory=list)


# ============================================================================================
# Product
# ============================================================================================


class Product(Law):
    """Law of ``∏ X_i^{(n_i copies)}`` for independent factors (itself a Law).

    Mellin calculus [ref]: ``M₊(XY) = M₊ˣM₊ʸ + M₋ˣM₋ʸ``, ``M₋(XY) = M₊ˣM₋ʸ + M₋ˣM₊ʸ``;
    ``P(XY = 0) = 1 - (1-p₀ˣ)(1-p₀ʸ)``; if any factor is symmetric the product is symmetric.

    >>> import numpy as np, scipy.special as sc
    >>> from flatstart.theory.laws import Normal
    >>> X = product(Normal(1.0), 2)
    >>> round(float(X.pdf(1.0)), 12) == round(float(sc.k0(1.0) / np.pi), 12)
    True
    """

    def __init__(self, factors: Sequence[tuple[Law, int]]) -> None:
        groups: dict[str, tuple[Law, int]] = {}
        for law, n in factors:
            key = repr(law)
            groups[key] = (law, groups[key][1] + n) if key in groups else (law, n)
        self.factors: list[tuple[Law, int]] = list(groups.values())
        fs = self.factors
        q = 1.0
        pp, pn = 1.0, 0.0
        for law, n in fs:
            q *= (1.0 - law.p0) ** n
            for _ in range(min(n, 2) if law.symmetric else n):
                pp, pn = pp * law.p_pos + pn * law.p_neg, pp * law.p_neg + pn * law.p_pos
        self.p0 = 1.0 - q
        self.symmetric = any(law.symmetric for law, _ in fs) or q == 0
        if self.symmetric:
            self.p_pos = self.p_neg = q / 2.0
        else:
            self.p_pos, self.p_neg = pp, pn
        self.strip = (max(law.strip[0] for law, _ in fs), min(law.strip[1] for law, _ in fs))
        self.log_lower = math.fsum(n * law.log_lower for law, n in fs) if all(
            np.isfinite(law.log_lower) for law, _ in fs) else -np.inf
        self.log_upper = math.fsum(n * law.log_upper for law, n in fs) if all(
            np.isfinite(law.log_upper) for law, _ in fs) else np.inf
        self.nonzero_atom = all(law.nonzero_atom for law, _ in fs)

    def __repr__(self) -> str:
        inner = ", ".join(f"{law!r}" + (f" x{n}" if n > 1 else "") for law, n in self.factors)
        return f"Product([{inner}])"

    @property
    def count(self) -> int:
        """Total number of factors."""
        return sum(n for _, n in self.factors)

    def lphi_abs(self, z: CArray) -> CArray:
        z = np.asarray(z, dtype=complex)
        if self.symmetric:
            tot = np.zeros(z.shape, dtype=complex)
            for law, n in self.factors:
                tot = tot + n * law.lphi_abs(z)
            return tot
        return clogaddexp(*self._lphi(z))

    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        z = np.asarray(z, dtype=complex)
        if self.symmetric:
            tot = np.zeros(z.shape, dtype=complex)
            for law, n in self.factors:
                tot = tot + n * law.lphi_abs(z)
            h = np.asarray(tot - math.log(2.0), dtype=complex)
            return h, h
        parts = [iid_parts_lphi(*law._lphi(z), n, law.symmetric) for law, n in self.factors]
        return product_parts_lphi(parts)

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        p, m = mp.mpf(1), mp.mpf(0)
        for law, n in self.factors:
            a, b = law._mp_parts(z)
            s, d = (a + b) ** n, (a - b) ** n
            a, b = (s + d) / 2, (s - d) / 2
            p, m = p * a + m * b, p * b + m * a
        return p, m

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        p: sp.Expr = sp.Integer(1)
        m: sp.Expr = sp.Integer(0)
        for law, n in self.factors:
            a, b = law._sym_parts(s)
            tot, diff = (a + b) ** n, (a - b) ** n
            a, b = (tot + diff) / 2, (tot - diff) / 2
            p, m = p * a + m * b, p * b + m * a
        return p, m

    def _terms(self) -> Terms:
        if self.count > MANY_FACTORS:  # a Meijer G with one parameter per factor: no use
            raise _NoMeijer(f"{self.count} factors: more than {MANY_FACTORS} for a Meijer-G form")
        out: Terms = [(1, _unit_term())]
        for law, n in self.factors:
            t = law._terms()
            for _ in range(n):
                out = multiply_terms(out, t)
        return merge_terms(out)

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        out = np.ones(n)
        for law, k in self.factors:
            for _ in range(k):
                out = out * law._draw(n, rng)
        return out

    def _unit_split(self) -> tuple[int, Law]:
        """``∏ X_i = 2^{Σ n_i e_i} ∏ U_i`` from the factors' own splits."""
        parts = [(f._unit_split(), n) for f, n in self.factors]
        if all(e == 0 for (e, _), _ in parts):
            return 0, self
        return sum(e * n for (e, _), n in parts), Product([(u, n) for (_, u), n in parts])

    def _atom(self) -> Atom | None:
        """A product of atoms is one atom."""
        parts: list[tuple[Atom, int]] = []
        for f, n in self.factors:
            a = f._atom()
            if a is None:
                return None
            parts.append((a, n))
        return combine_atoms(parts)

    def _log_cumulant_exact(self, k: int) -> Any:
        """``Σ n_i κ_k(X_i)`` from the factors' own forms (None if one has none)."""
        parts = [(law._log_cumulant_exact(k), n) for law, n in self.factors]
        if any(v is None for v, _ in parts):
            return None
        return mp.fsum(n * v for v, n in parts)

    def log_cumulant(self, k: Any, **kw: Any) -> Any:
        """Cumulants of ``log|X|`` add over independent factors: ``κ_k = Σ n_i κ_k(X_i)``."""
        k = check_int("k", k, minimum=1)
        dps = kw.get("dps")
        with mp.workdps(int(dps or 30) + 5):
            tot = mp.fsum(n * mp.mpf(law.log_cumulant(k, dps=int(dps or 30) + 5))
                          for law, n in self.factors)
        return tot if dps else float(tot)


def _unit_term() -> Any:
    from fractions import Fraction  # noqa: F401

    from flatstart.theory.laws import GammaRatio

    return GammaRatio(sp.Integer(1), sp.Integer(1), None, (), ())


def product(laws: Law | Sequence[Law], count: int | None = None) -> Product:
    """Law of a product of independent factors.

    Args:
        laws: one Law (then ``count`` iid copies) or a sequence of Laws (one copy each).
        count: number of iid copies when ``laws`` is a single Law (default 1).

    >>> from flatstart.theory.laws import Normal
    >>> product(Normal(1.0), 3).count
    3
    """
    if isinstance(laws, Law):
        n = 1 if count is None else check_int("count", count, minimum=1)
        return Product([(laws, n)])
    if count is not None:
        raise ValueError(f"count is only allowed with a single law, got count={count!r}")
    try:
        items = list(laws)
    except TypeError as exc:
        raise TypeError(f"laws must be a Law or a sequence of Laws, got {laws!r}") from exc
    if not items:
        raise ValueError("laws must be a non-empty sequence of Laws, got []")
    for i, law in enumerate(items):
        if not isinstance(law, Law):
            raise TypeError(f"laws[{i}] must be a Law, got {law!r}")
    return Product([(law, 1) for law in items])


def short(law: Law, limit: int = 120) -> str:
    """Repr of a law cut to ``limit`` characters (for error messages)."""
    r = repr(law)
    return r if len(r) <= limit else r[: limit - 3] + "..."
