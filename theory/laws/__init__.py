"""Factor laws with Mellin transforms: the building blocks of products of random variables.

Every law ``X`` is described by

* ``p0 = P(X = 0)``, ``p_pos = P(X > 0)``, ``p_neg = P(X < 0)``;
* the Mellin transforms of its sign parts (weights included) [ref: Springer 1979, ch. 6]

  ``M₊(s) = E[X^{s-1}; X > 0]``, ``M₋(s) = E[|X|^{s-1}; X < 0]``,

  numerically as complex logarithms of ``Φ±(z) = M±(1 + z)`` (``z = s - 1``; ``Φ(z)`` is the
  moment generating function of ``log|X|`` restricted to a sign), at arbitrary precision with
  mpmath and symbolically with sympy;
* where exact, a list of Gamma-ratio (Meijer-G) terms (Springer & Thompson 1970)

  ``M±(s) = Σ c · ρ^{s-1} ∏_j Γ(b_j + β(s-1)) / ∏_k Γ(a_k + β(s-1))``;
* its own closed forms where it has them (a scipy law, the law of ``|X|``, mpmath formulas).

The Mellin calculus [ref: Epstein 1948; Springer 1979] gives everything else: for independent
``X, Y``: ``M₊(XY) = M₊ˣM₊ʸ + M₋ˣM₋ʸ``, ``M₋(XY) = M₊ˣM₋ʸ + M₋ˣM₊ʸ``; mixtures are weighted
sums; ``M_{cX}(s) = c^{s-1} M_X(s)`` (``c > 0``); ``M_{X^a}(s) = M_X(a(s-1)+1)``.

Every law is usable as a one-factor product: ``pdf``, ``cdf``, ``sf``, ``quantile``, ``median``,
``moment``, ``log_cumulant``, ``mellin``, ``sympy_pdf`` and ``sample`` are defined on
:class:`Law` and evaluated by :mod:`flatstart.theory.products`.

The catalogue, one module per family (sympy.stats style): :mod:`.normal`, :mod:`.gamma`
(``Gamma``, ``ChiSquare``), :mod:`.beta`, :mod:`.uniform`; the base class and the combinators
(``PointMass``, ``Mixture``, ``Scaled``, ``Abs``, ``Power``) in :mod:`.law`; the Mellin algebra in
:mod:`.terms`. A new factor law is one new module (its Mellin transform in three precisions,
its Gamma-ratio terms if exact, its sampler, the closed forms it has) plus its line below and
its test. Derivations, step by step: docs/theory/p.md#mellin-calculus-of-products-derived.

>>> float(Normal(1.0).cdf(0.0))
0.5
"""

from __future__ import annotations

from flatstart.theory.laws.beta import Beta
from flatstart.theory.laws.gamma import ChiSquare, Gamma
from flatstart.theory.laws.law import ENGINE as ENGINE
from flatstart.theory.laws.law import Abs as Abs
from flatstart.theory.laws.law import Law, Mixture, PointMass
from flatstart.theory.laws.law import Power as Power
from flatstart.theory.laws.law import Scaled as Scaled
from flatstart.theory.laws.normal import Normal
from flatstart.theory.laws.terms import NEG_INF as NEG_INF
from flatstart.theory.laws.terms import Atom as Atom
from flatstart.theory.laws.terms import CArray as CArray
from flatstart.theory.laws.terms import FArray as FArray
from flatstart.theory.laws.terms import GammaRatio, exact
from flatstart.theory.laws.terms import Terms as Terms
from flatstart.theory.laws.terms import _NoMeijer as _NoMeijer
from flatstart.theory.laws.terms import binary_exponent as binary_exponent
from flatstart.theory.laws.terms import clogaddexp as clogaddexp
from flatstart.theory.laws.terms import clogsubexp as clogsubexp
from flatstart.theory.laws.terms import combine_atoms as combine_atoms
from flatstart.theory.laws.terms import iid_parts_lphi as iid_parts_lphi
from flatstart.theory.laws.terms import merge_terms as merge_terms
from flatstart.theory.laws.terms import multiply_terms as multiply_terms
from flatstart.theory.laws.terms import product_parts_lphi as product_parts_lphi
from flatstart.theory.laws.uniform import Uniform

__all__ = [
    "Beta",
    "ChiSquare",
    "Gamma",
    "GammaRatio",
    "Law",
    "Mixture",
    "Normal",
    "PointMass",
    "Uniform",
    "exact",
]
