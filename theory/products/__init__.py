"""Exact laws of products of independent random variables (Mellin calculus).

``product(law, n)`` / ``product([law1, law2, ...])`` return a :class:`Product`, itself a
:class:`flatstart.theory.laws.Law`, whose ``pdf``, ``cdf``, ``sf`` are evaluated by one of six
paths (each callable alone through ``method=``):

``"mellin"``
    numerical Mellin inversion [derived; ref: Gil-Pelaez 1951, Abate & Whitt 1992]: with
    ``Y = log|X|`` on a sign part and ``Φ(z) = E[|X|^z; part] = M(1+z)``,
    ``g(y) = (1/2π)∫ Φ(τ+it) e^{-(τ+it)y} dt``, and for the cdf
    ``P(Y ≤ y) = (1/2π)∫ Φ(τ+it) e^{-(τ+it)y} / (-(τ+it)) dt`` (``τ < 0``),
    ``P(Y > y) = (1/2π)∫ Φ(τ+it) e^{-(τ+it)y} / (τ+it) dt`` (``τ > 0``). The contour is
    shifted to the saddlepoint ``K'(τ) = y`` (``K = log Φ``), which is the Gil-Pelaez integral
    moved inside the strip of analyticity, so the integrand does not oscillate near ``t = 0``
    and the deep tails keep relative accuracy. The trapezoid rule converges exponentially; its
    step ``h = 2π/T`` is chosen from Chernoff bounds on the aliased mass at distance ``T`` and
    the truncation point from the decay of ``|Φ(τ+it)|``. Vectorized over all points.
``"meijer"``
    exact Meijer G (Springer & Thompson 1970) with ``mpmath.meijerg``; slow scalar reference.
``"gil-pelaez"``
    Gil-Pelaez (1951) inversion of the characteristic function ``Φ(it)`` of ``log|X|`` on the
    real line (midpoint rule, one FFT for many points): absolute accuracy ≈ 1e-14, fast for many
    points; the engine of the wide-network and ReLU-chain laws (:class:`LogProductLaw`).
``"saddlepoint"``
    Lugannani–Rice (1980) tail approximation with ``K(τ) = log M(1+τ)``.
``"clt"``
    log-CLT ``log|X| ≈ N(κ₁, κ₂)`` with the Berry–Esseen bound (Shevtsova 2011: C ≤ 0.4748
    iid; 0.5600 non-identical) returned as the error estimate.
``"closed"``
    closed forms: one factor (scipy.stats); two normals ``K₀(|x|/σ₁σ₂)/(πσ₁σ₂)`` and, with
    ``z = |x|/σ₁σ₂``, ``P(σ₁X·σ₂Y > z σ₁σ₂) = ½ - (z/2)[K₀(z)L₋₁(z) + K₁(z)L₀(z)]`` (A&S 11.1.8;
    only where the tail does not cancel below ``rtol``: ``z <= 12.5`` and probability
    ``>= 1e-15/rtol``; elsewhere ValueError); products of uniforms
    ``-log(|X|/A) ~ Gamma(n, 1)`` (Dettmann & Georgiou 2009).

``method="auto"`` (default) picks ``closed`` when one exists for the request (per point for
the cdf/sf of two normals: tail points the closed form cannot reach go to mellin), else ``mellin``;
points where the mellin error estimate exceeds ``rtol`` are recomputed with ``meijer`` (when
the law has a Meijer-G form) and otherwise raise ValueError. Pass ``info=True`` to get
``(values, Info)`` with the method used and the error estimate. ``dps=`` switches to mpmath
arithmetic (``meijer`` or an mpmath quadrature of the same contour integral) and returns mpf.

The package holds one module per path (:mod:`.mellin`, :mod:`.meijer`, :mod:`.saddlepoint`,
:mod:`.clt`, :mod:`.closed`), the :class:`Product` law (:mod:`.core`), the dispatcher
(:mod:`.evaluate`), quantiles (:mod:`.quantiles`) and moments (:mod:`.moments`); the sign-part
bookkeeping they share is in :mod:`._parts`.

Derivations, step by step: docs/theory/p.md (Mellin calculus, aliasing and truncation, density
at zero, the two-normal closed form).
"""

from __future__ import annotations

from flatstart.theory.laws import ENGINE
from flatstart.theory.products.clt import BERRY_ESSEEN_NONID as BERRY_ESSEEN_NONID
from flatstart.theory.products.clt import berry_esseen as berry_esseen
from flatstart.theory.products.core import KINDS as KINDS
from flatstart.theory.products.core import MANY_FACTORS as MANY_FACTORS
from flatstart.theory.products.core import METHODS as METHODS
from flatstart.theory.products.core import Info, Product, product
from flatstart.theory.products.core import short as short
from flatstart.theory.products.evaluate import evaluate
from flatstart.theory.products.gil_pelaez import LogFactor, LogProductLaw, TwinProduct
from flatstart.theory.products.moments import log_cumulant, moment, sympy_pdf
from flatstart.theory.products.quantiles import quantile

__all__ = [
    "Info",
    "LogFactor",
    "LogProductLaw",
    "TwinProduct",
    "Product",
    "evaluate",
    "log_cumulant",
    "moment",
    "product",
    "quantile",
    "sympy_pdf",
]

ENGINE.register(product=product, evaluate=evaluate, quantile=quantile, moment=moment,
                log_cumulant=log_cumulant, sympy_pdf=sympy_pdf)
