r"""Neural chains (width-1 networks): exact laws of outputs, gradients and Hessian entries.

A chain of depth ``L`` has scalar weights ``w_1..w_L`` iid from a symmetric law (Gaussian
``N(0, σ²)`` or uniform ``U(−a, a)``), input ``x`` and target ``y``:

* linear: ``f(x) = w_L ⋯ w_1 x = P x``;
* ReLU: ``f(x) = w_L σ(w_{L-1} ⋯ σ(w_1 x))`` (no activation after the last weight).

Loss ``ℓ = ½ (f − y)²``, residual ``r = f − y``, ``P_{-i} = ∏_{k≠i} w_k``,
``P_{-ij} = ∏_{k≠i,j} w_k``. Derivatives of the linear chain [derived, VC §3]:
``∂f/∂w_i = x P_{-i}``, ``∂ℓ/∂w_i = r x P_{-i}``, ``H_ii = x² P_{-i}²``,
``H_ij = x² P_{-i} P_{-j} + r x P_{-ij} = 2x² w_i w_j P_{-ij}² − x y P_{-ij}`` (``i ≠ j``).
With ``y = 0`` every one of these is ``± c ∏_k |w_k|^{e_k}``, a product of independent powers
of the weights. Every law is a :class:`ChainProduct`, i.e. a
:class:`flatstart.theory.products.Product` of :mod:`flatstart.theory.laws` factors (``Normal(σ)``,
``Uniform(−a, a)``, their squares and moduli, the constant ``|x|``; ReLU chains add the alive
indicator and the sign as atoms), with the full Law API (``pdf cdf sf quantile median moment
log_cumulant mellin sympy_pdf sample abs``, ``method=``, ``dps=``, ``info=``) and the log-scale
API of its twin, the same law as a
:class:`flatstart.theory.products.gil_pelaez.LogProductLaw`. Linear chains evaluate through the
Mellin engine (the twin serves many-point calls); ReLU chains (sign constraints and an atom at
0), the degenerate constants (``L = 1``: ``∂f/∂w_1 = x``, ``H_11 = x²``) and
``engine="logproduct"`` evaluate plain calls through the twin (Gil-Pelaez), keywords such as
``method="mellin"`` through the Mellin engine: each is the other's cross-check.

ReLU chain [derived]: with ``x > 0`` the chain is alive iff ``w_1, …, w_{L-1} > 0`` (``x < 0``:
``w_1 < 0`` and the others positive); alive, ``f = P x`` locally and all derivatives equal the
linear ones; dead, ``f ≡ 0`` on a neighbourhood so ``∇f = 0`` and ``H = 0``. Hence every ReLU
law is the linear law of the magnitudes with an atom ``1 − 2^{-(L-1)}`` at 0 (for ``x ≠ 0``;
``x = 0`` is always dead), the magnitudes being independent of the signs.

Its length: the neural chain's laws (output, gradients, Hessian entries, small-gradient
probabilities, residual chains) are one class over one weight model, with the slow references
beside the fast paths.

Derivations, step by step: docs/theory/vc-signal.md (derivatives, laws, ReLU atom, medians,
small gradients, norms, residual chains) and docs/theory/vc-curvature.md (moments).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from scipy import integrate, optimize, special, stats

from flatstart._checks import (
    check_choice,
    check_int,
    check_positive,
    check_probability,
    check_real,
)
from flatstart.theory.asymptotics import BERRY_ESSEEN_IID
from flatstart.theory.inits import INITS, weight_spec
from flatstart.theory.laws import Law, Mixture, Normal, PointMass, Uniform
from flatstart.theory.log_moments import gaussian_log_abs_moments, uniform_log_abs_moments
from flatstart.theory.products.gil_pelaez import (
    FAST_PATH_MIN_POINTS,
    LogFactor,
    LogProductLaw,
    TwinProduct,
)

__all__ = [
    "BERRY_ESSEEN_C",
    "ChainMoments",
    "ChainProduct",
    "FAST_PATH_MIN_POINTS",
    "NeuralChain",
    "SmallProbability",
    "chain_moment_formulas",
    "gaussian_log_abs_cumulants",
    "median_stable_variance",
    "residual_chain_log_cdf",
    "residual_chain_median",
    "residual_chain_median_reference",
]

#: Berry–Esseen constant for iid sums [ref: Shevtsova 2011].
BERRY_ESSEEN_C = BERRY_ESSEEN_IID  #: Shevtsova's iid constant (defined in asymptotics)

L_SYM = sp.Symbol("L", integer=True, positive=True)
SIGMA_SYM, A_SYM = sp.symbols("sigma a", positive=True)
X_SYM, Y_SYM = sp.symbols("x y", real=True)


class _ExactFloat(float):
    """A float that also carries its exact sympy value in ``.exact``."""

    exact: Any

    def __new__(cls, exact: Any) -> _ExactFloat:
        obj = super().__new__(cls, float(sp.N(exact, 30)))
        obj.exact = exact
        return obj

    @property
    def value(self) -> float:
        """The value as a plain float."""
        return float(self)


def median_stable_variance() -> _ExactFloat:
    r"""The weight variance ``σ² = 2 e^γ`` that keeps ``E log|w| = 0`` for ``w ~ N(0, σ²)``.

    ``E log|w| = log σ − (γ + log 2)/2`` [derived], zero iff ``log σ = (γ + log 2)/2``, i.e.
    ``σ² = 2 e^γ ≈ 3.5622``; then ``median |P| ≈ C_∞`` for every ``L`` while
    ``E P² = σ^{2L}`` explodes. Returns a float (``≈ 3.5621``) whose ``.exact`` attribute is
    the sympy expression ``2*exp(EulerGamma)``.

    >>> v = median_stable_variance()
    >>> round(v, 6), v.exact
    (3.562145, 2*exp(EulerGamma))
    """
    return _ExactFloat(2 * sp.exp(sp.EulerGamma))


def gaussian_log_abs_cumulants(sigma: float) -> tuple[float, float, float, float]:
    r"""``(E, Var, κ₃, E|·−E|³)`` of ``log|w|``, ``w ~ N(0, σ²)``: the tuple view of
    :func:`flatstart.theory.log_moments.gaussian_log_abs_moments` (cumulants from
    ``Normal(σ).log_cumulant``; no second copy of the formula) [derived].

    >>> round(gaussian_log_abs_cumulants(1.0)[1], 12) == round(math.pi**2 / 8, 12)
    True
    """
    m = gaussian_log_abs_moments(sigma)
    return m.mean, m.variance, m.kappa3, m.third_abs_central_moment


@dataclass(frozen=True)
class SmallProbability:
    """``P(|Z| < ε)`` exactly, by the log-CLT, and the Berry–Esseen half-width of the latter.

    The exact value lies in ``[clt − band, clt + band]`` (rigorous for the CLT part; for ReLU
    chains the atom is added exactly and the band scaled by the alive probability).
    """

    exact: float
    clt: float
    band: float


@dataclass(frozen=True)
class ChainMoments:
    r"""Exact moments of a chain at init as sympy expressions [derived].

    With ``m₂ = E w²``, ``m₄ = E w⁴`` and ``p = P(alive)`` (1 linear, ``2^{1-L}`` ReLU):
    ``E‖∇ℓ‖² = p L (x⁴ m₂ m₄^{L-1} + x² y² m₂^{L-1})``, ``E tr H = p L x² m₂^{L-1}``,
    ``E H_ij² = p (4 x⁴ m₂² m₄^{L-2} + x² y² m₂^{L-2})`` (``i ≠ j``, ``L ≥ 2``). Gaussian:
    ``m₂ = σ², m₄ = 3σ⁴`` (at ``x = y = 1``: ``L(3^{L-1}σ^{4L-2} + σ^{2L-2})``,
    ``Lσ^{2(L-1)}``, ``4·3^{L-2}σ^{4L-4} + σ^{2L-4}``); uniform ``U(±a)``: ``a²/3, a⁴/5``.

    Attributes:
        E_trace, E_H_ij_sq, E_grad_norm_sq: expressions in ``L``, ``sigma`` (or ``a``), ``x``,
            ``y`` (symbols ``L_SYM`` etc. of this module).
        substitutions: the chain's values of those symbols.
    """

    E_trace: Any
    E_H_ij_sq: Any
    E_grad_norm_sq: Any
    substitutions: dict[Any, Any]

    def exact(self) -> dict[str, Any]:
        """The three moments at this chain's parameters (sympy numbers; ``None`` if undefined)."""
        L = self.substitutions[L_SYM]
        out: dict[str, Any] = {}
        for name in ("E_trace", "E_H_ij_sq", "E_grad_norm_sq"):
            if name == "E_H_ij_sq" and L < 2:
                out[name] = None
                continue
            out[name] = sp.nsimplify(getattr(self, name)).subs(self.substitutions)
        return out

    def values(self) -> dict[str, float]:
        """The three moments as floats (``nan`` where undefined)."""
        return {k: (math.nan if v is None else float(v)) for k, v in self.exact().items()}


def chain_moment_formulas(family: str = "normal", activation: str = "linear") -> ChainMoments:
    """The symbolic :class:`ChainMoments` (no substitutions) for a weight family [derived]."""
    family = check_choice("family", family, ("normal", "uniform"))
    activation = check_choice("activation", activation, ("linear", "relu"))
    L, x, y = L_SYM, X_SYM, Y_SYM
    if family == "normal":
        m2, m4 = SIGMA_SYM**2, 3 * SIGMA_SYM**4
    else:
        m2, m4 = A_SYM**2 / 3, A_SYM**4 / 5
    p = sp.Integer(1) if activation == "linear" else 2 ** (1 - L)
    return ChainMoments(
        E_trace=p * L * x**2 * m2 ** (L - 1),
        E_H_ij_sq=p * (4 * x**4 * m2**2 * m4 ** (L - 2) + x**2 * y**2 * m2 ** (L - 2)),
        E_grad_norm_sq=p * L * (x**4 * m2 * m4 ** (L - 1) + x**2 * y**2 * m2 ** (L - 1)),
        substitutions={},
    )


class ChainProduct(TwinProduct):
    r"""The law of a chain's output, gradient entry or Hessian entry: a
    :class:`flatstart.theory.products.gil_pelaez.TwinProduct` (a Product of factor laws with its
    Gil-Pelaez twin) with the chain attributes ``atom = P(X = 0)`` and ``sign``.

    Every law of a chain is one of these (the one type ``output_law``, ``gradient_law``,
    ``hessian_entry_law`` and ``product_law`` return). ``route="product"`` (linear chains): the
    Mellin engine, with the twin as the fast path of many-point calls; ``route="twin"`` (ReLU
    chains, whose factors include the alive indicator and the sign, the degenerate constants,
    ``engine="logproduct"``): plain calls through the twin, keywords through the Mellin engine.

    >>> from flatstart.theory.laws import Normal
    >>> law = ChainProduct([(Normal(1.0), 2)])
    >>> law.atom, law.sign
    (0.0, 'symmetric')
    """


_ENGINES = ("product", "logproduct")


class NeuralChain:
    r"""A width-1 chain of depth ``L`` at random initialization.

    Args:
        depth: ``L >= 1``.
        init: an init name from :data:`flatstart.theory.inits.INITS` evaluated at
            ``fan_in = fan_out = 1`` (Xavier ``N(0,1)``, He ``N(0,2)``, Xavier-uniform
            ``U(±√3)``, torch default ``U(±1)``); ``"orthogonal"`` is rejected (``w = ±gain``
            is deterministic in modulus).
        sigma: alternatively the standard deviation of Gaussian weights (exactly one of
            ``init``/``sigma``).
        activation: ``"linear"`` or ``"relu"``.
        x: input (real); y: target (real).

    >>> c = NeuralChain(3, init="xavier_normal")
    >>> c.family, c.scale
    ('normal', 1.0)
    """

    def __init__(
        self,
        depth: int,
        init: str | None = None,
        sigma: float | None = None,
        activation: str = "linear",
        x: float = 1.0,
        y: float = 0.0,
    ) -> None:
        self.depth = check_int("depth", depth, minimum=1)
        if (init is None) == (sigma is None):
            raise ValueError(
                f"give exactly one of init and sigma, got init={init!r}, sigma={sigma!r}"
            )
        if init is not None:
            init = check_choice("init", init, INITS)
            if init == "orthogonal":
                raise ValueError(
                    "init='orthogonal' is ±gain for width 1 (|P| deterministic); "
                    "use sigma= or a normal/uniform init"
                )
            spec = weight_spec(init, 1, 1)
            self.family, self.scale = spec.family, spec.scale
        else:
            self.family, self.scale = "normal", check_positive("sigma", sigma)
        self.init = init
        self.activation = check_choice("activation", activation, ("linear", "relu"))
        self.x = check_real("x", x)
        self.y = check_real("y", y)

    def __repr__(self) -> str:
        return (
            f"NeuralChain(depth={self.depth}, family={self.family!r}, scale={self.scale!r}, "
            f"activation={self.activation!r}, x={self.x!r}, y={self.y!r})"
        )

    # ------------------------------------------------------------------ building blocks
    @property
    def sigma(self) -> float:
        """Standard deviation of one weight."""
        return self.scale if self.family == "normal" else self.scale / math.sqrt(3.0)

    def _weight(self, c: float = 1.0) -> Law:
        """Law of ``c·w`` (``c > 0``) as a :mod:`flatstart.theory.laws` object."""
        if self.family == "normal":
            return Normal(self.scale * c)
        return Uniform(-self.scale * c, self.scale * c)

    @staticmethod
    def _product(factors: list[tuple[Law, int]], twin: LogProductLaw) -> ChainProduct:
        """:class:`ChainProduct` of the factors with a positive count, with its twin."""
        return ChainProduct([(law, n) for law, n in factors if n > 0], twin)

    def _use_product(self, engine: str) -> bool:
        """Whether a law is returned as a :class:`ChainProduct` (linear chain, engine product)."""
        engine = check_choice("engine", engine, _ENGINES)
        return engine == "product" and self.activation == "linear"

    def _abs_factor(self, power: int = 1) -> LogFactor:
        """Law of ``|w|^power``."""
        if self.family == "normal":
            # |w| = sigma*sqrt(2)*Gamma(1/2)^(1/2)
            term = ("gpow", power * math.log(self.scale * math.sqrt(2.0)), 0.5, 0.5 * power)
        else:
            # |w| = a*exp(-E), E ~ Exp(1)
            term = ("eneg", power * math.log(self.scale), 1.0, float(power))
        return LogFactor(((1.0, (term,)),))

    @property
    def alive_probability(self) -> float:
        """``P(chain alive)``: 1 (linear, ``x ≠ 0``), ``2^{-(L-1)}`` (ReLU, ``x ≠ 0``), 0 if
        ``x = 0`` [derived]."""
        if self.x == 0:
            return 0.0
        if self.activation == "linear":
            return 1.0
        return 2.0 ** -(self.depth - 1)

    def dead_probability(self) -> float:
        r"""``P(∇f ≡ 0)`` [derived].

        ReLU, ``x ≠ 0``: exactly ``1 − 2^{-(L-1)}`` (alive iff ``w_1..w_{L-1}`` have the signs
        that keep every pre-activation positive; the often-quoted "≥" is an equality for weight
        laws without an atom at 0). Linear: 0. ``x = 0``: 1 (every derivative carries ``x`` or a
        zero activation).

        >>> NeuralChain(4, sigma=1.0, activation="relu").dead_probability()
        0.875
        """
        return 1.0 - self.alive_probability

    def _sign(self, x_power: int, weights: set[int]) -> str:
        """Sign law of ``x^x_power ∏_{k∈weights} w_k`` on the alive event."""
        L = self.depth
        sx = 1 if (self.x > 0 or x_power % 2 == 0) else -1
        if self.activation == "linear" or L == 1:
            if weights:
                return "symmetric"
            return "positive" if sx > 0 else "negative"
        if L in weights:
            return "symmetric"
        # alive: w_2..w_{L-1} > 0 and sign(w_1) = sign(x)
        s = sx
        if 1 in weights and self.x < 0:
            s = -s
        return "positive" if s > 0 else "negative"

    def _law(
        self, scale: float, counts: dict[int, int], x_power: int, weights: set[int]
    ) -> LogProductLaw:
        """``scale · ∏ |w|^power`` with ``counts[power]`` factors, sign and ReLU atom."""
        factors: list[tuple[LogFactor, int]] = [
            (self._abs_factor(pw), c) for pw, c in counts.items() if c > 0
        ]
        factors.append((LogFactor(((1.0, (("point", math.log(scale)),)),)), 1))
        atom = 1.0 - self.alive_probability
        return LogProductLaw(factors, atom=atom, sign=self._sign(x_power, weights))

    def _as_chain_product(self, scale: float, counts: dict[int, int], twin: LogProductLaw
                          ) -> ChainProduct:
        """The law of :meth:`_law` as factor laws (route ``"twin"``): ``|w|^power`` for each
        count, the constant ``scale``, the alive indicator ``Bernoulli(1 − atom)`` and the sign
        (a fair sign or −1) as atoms, so the Product engine can evaluate it too."""
        w = self._weight().abs()
        factors: list[tuple[Law, int]] = [
            (w if pw == 1 else w**pw, c) for pw, c in counts.items() if c > 0]
        factors.append((PointMass(scale), 1))
        if twin.atom > 0:
            factors.append((Mixture([(twin.atom, PointMass(0.0)),
                                     (1.0 - twin.atom, PointMass(1.0))]), 1))
        if twin.sign == "symmetric":
            factors.append((Mixture([(0.5, PointMass(-1.0)), (0.5, PointMass(1.0))]), 1))
        elif twin.sign == "negative":
            factors.append((PointMass(-1.0), 1))
        return ChainProduct(factors, twin, "twin")

    def _check_layer(self, layer: int, name: str = "layer") -> int:
        return check_int(name, layer, minimum=1, maximum=self.depth)

    def _need_nonzero_x(self) -> None:
        if self.x == 0:
            raise ValueError("x must be nonzero for this law (x = 0 gives the constant 0)")

    # ------------------------------------------------------------------ laws
    def output_law(self, engine: str = "product") -> ChainProduct:
        r"""Law of ``f(x)``: ``|x| ∏_{k=1}^L |w_k|`` with a fair sign; ReLU adds the atom
        ``1 − 2^{-(L-1)}`` at 0 [derived].

        Linear chain: ``(|x| w_1) · w_2 ⋯ w_L``, a :class:`ChainProduct` of
        ``Normal(σ|x|), Normal(σ)^{×(L−1)}`` (uniform: ``Uniform(∓a|x|)``, ``Uniform(∓a)``)
        (the sign of ``x`` is irrelevant: the law is symmetric). ReLU, or
        ``engine="logproduct"``: a :class:`ChainProduct` on ``route="twin"``.

        >>> float(NeuralChain(2, sigma=1.0).output_law().cdf(0.0))
        0.5
        >>> NeuralChain(3, sigma=1.0).output_law().mellin(2)
        2*sqrt(2)/pi**(3/2)
        """
        self._need_nonzero_x()
        counts = {1: self.depth}
        twin = self._law(abs(self.x), counts, 1, set(range(1, self.depth + 1)))
        if self._use_product(engine):
            L = self.depth
            return self._product([(self._weight(abs(self.x)), 1), (self._weight(), L - 1)], twin)
        return self._as_chain_product(abs(self.x), counts, twin)

    def product_law(self, count: int | None = None) -> ChainProduct:
        """Law of ``|∏ of count weights|`` (default ``L``), no atom (``count = 0``: 1)."""
        count = self.depth if count is None else check_int("count", count, minimum=0)
        return self._as_chain_product(1.0, {1: count},
                                      LogProductLaw([(self._abs_factor(1), count)]))

    def gradient_law(
        self, layer: int, of: str = "output", engine: str = "product"
    ) -> ChainProduct:
        r"""Law of ``∂f/∂w_i = x P_{-i}`` or, with ``y = 0``, ``∂ℓ/∂w_i = x² w_i P_{-i}²``.

        ``|∂f/∂w_i| = |x| ∏_{k≠i}|w_k|``; ``|∂ℓ/∂w_i| = x² |w_i| ∏_{k≠i} |w_k|²`` (since
        ``r = P x`` when ``y = 0``) [derived]. ReLU: atom ``1 − 2^{-(L-1)}``; on the alive event
        ``∂f/∂w_L = h_{L-1} > 0`` is positive (not symmetric). ``L = 1``, ``of="output"``: the
        constant ``x``.

        Returned type: a :class:`ChainProduct` (linear: ``of="output"``:
        ``(|x|w) · w^{×(L−2)}``; ``of="loss"``: ``(x²w) · (w²)^{×(L−1)}``); ReLU chains, the
        constant (``L = 1``, ``of="output"``) and ``engine="logproduct"`` on ``route="twin"``.

        Raises:
            ValueError: ``layer`` outside ``1..L``; ``of="loss"`` with ``y ≠ 0`` (then
                ``r = Px − y`` makes the entry a non-product law).
        """
        i = self._check_layer(layer)
        of = check_choice("of", of, ("output", "loss"))
        self._need_nonzero_x()
        prod = self._use_product(engine)
        L = self.depth
        others = set(range(1, L + 1)) - {i}
        if of == "output":
            counts = {1: self.depth - 1}
            twin = self._law(abs(self.x), counts, 1, others)
            if prod and L >= 2:
                return self._product(
                    [(self._weight(abs(self.x)), 1), (self._weight(), L - 2)], twin)
            return self._as_chain_product(abs(self.x), counts, twin)
        if self.y != 0:
            raise ValueError(f"of='loss' needs y = 0 for a product law, got y={self.y!r}")
        counts = {1: 1, 2: self.depth - 1}
        twin = self._law(self.x**2, counts, 2, {i})
        if prod:
            return self._product(
                [(self._weight(self.x**2), 1), (self._weight() ** 2, L - 1)], twin)
        return self._as_chain_product(self.x**2, counts, twin)

    def hessian_entry_law(
        self, i: int, j: int, engine: str = "product"
    ) -> ChainProduct:
        r"""Law of ``H_ij`` of ``ℓ`` when ``y = 0`` [derived].

        ``H_ii = x² P_{-i}²`` (nonnegative); ``H_ij = 2 x² w_i w_j P_{-ij}²`` for ``i ≠ j``
        (``r x P_{-ij} = x² P P_{-ij}`` with ``y = 0``). ReLU: atom ``1 − 2^{-(L-1)}``.

        Returned type: a :class:`ChainProduct` (linear: ``H_ii``:
        ``(|x|w)² · (w²)^{×(L−2)}``; ``H_ij``: ``(√2|x|w)(√2|x|w) · (w²)^{×(L−2)}``); ReLU chains,
        the constant ``H_11 = x²`` of ``L = 1`` and ``engine="logproduct"`` on ``route="twin"``.

        >>> NeuralChain(2, sigma=1.0).hessian_entry_law(1, 1).sign
        'positive'
        """
        i = self._check_layer(i, "i")
        j = self._check_layer(j, "j")
        self._need_nonzero_x()
        if self.y != 0:
            raise ValueError(f"hessian_entry_law needs y = 0 for a product law, got y={self.y!r}")
        prod = self._use_product(engine)
        L = self.depth
        if i == j:
            counts = {2: self.depth - 1}
            twin = self._law(self.x**2, counts, 2, set())
            if prod and L >= 2:
                return self._product([(self._weight(abs(self.x)) ** 2, 1),
                                      (self._weight() ** 2, L - 2)], twin)
            return self._as_chain_product(self.x**2, counts, twin)
        counts = {1: 2, 2: self.depth - 2}
        twin = self._law(2.0 * self.x**2, counts, 2, {i, j})
        if prod:
            ax = abs(self.x)
            return self._product([(self._weight(math.sqrt(2.0) * ax), 2),
                                  (self._weight() ** 2, L - 2)], twin)
        return self._as_chain_product(2.0 * self.x**2, counts, twin)

    # ------------------------------------------------------------------ moments
    def hessian_moments(self) -> ChainMoments:
        """Exact ``E tr H``, ``E H_ij²``, ``E‖∇ℓ‖²`` (:class:`ChainMoments`) [derived].

        >>> NeuralChain(3, sigma=1.0, y=1.0).hessian_moments().exact()["E_grad_norm_sq"]
        30
        """
        f = chain_moment_formulas(self.family, self.activation)
        sq = sp.Rational(self.scale**2).limit_denominator(10**6)
        if math.isclose(float(sq), self.scale**2, rel_tol=1e-14):
            s = sp.sqrt(sq)
        else:
            s = sp.Float(self.scale, 30)
        subs = {L_SYM: sp.Integer(self.depth), X_SYM: sp.nsimplify(self.x),
                Y_SYM: sp.nsimplify(self.y)}
        subs[SIGMA_SYM if self.family == "normal" else A_SYM] = s
        return ChainMoments(f.E_trace, f.E_H_ij_sq, f.E_grad_norm_sq, subs)

    # ------------------------------------------------------------------ medians
    def median_abs_output(self) -> float:
        r"""Exact ``median |f(x)|``.

        Uniform ``U(±a)``, linear: ``|x| a^L e^{−ν(L)}``, ``ν(L)`` the median of Gamma(L, 1)
        [derived: ``log|w| = log a − Exp(1)``]; otherwise the Gil-Pelaez median of the product
        law (with the ReLU atom). Underflows to 0 below ``1e-308``: use
        :meth:`log_median_abs_output` for very deep chains.
        """
        self._need_nonzero_x()
        if self.family == "uniform":
            a = self.alive_probability
            if a <= 0.5:
                return 0.0
            q = (0.5 - (1 - a)) / a  # quantile level of |P| on the alive event
            g = float(special.gammaincinv(self.depth, 1.0 - q))
            return abs(self.x) * math.exp(self.depth * math.log(self.scale) - g)
        return float(self.output_law().abs().median())

    def log_median_abs_output(self) -> float:
        r"""``log median |f(x)|`` (no underflow for deep chains; ``-inf`` if the median is 0).

        >>> round(NeuralChain(10000, sigma=1.0).log_median_abs_output() / 10000, 4)
        -0.6352
        """
        self._need_nonzero_x()
        out = self.output_law(engine="logproduct")
        law = out._twin().abs()
        a = law.atom
        if a >= 0.5:
            return -math.inf
        if self.family == "uniform":
            q = (0.5 - a) / (1 - a)
            g = float(special.gammaincinv(self.depth, 1.0 - q))
            return math.log(abs(self.x)) + self.depth * math.log(self.scale) - g
        return law.log_quantile((0.5 - a) / (1 - a))

    def uniform_median_bounds(self) -> tuple[float, float, float]:
        r"""``(lower, exact, upper)`` for ``median|P x|`` of a linear uniform chain via Choi.

        ``ν(L) = λ(L−1)`` with Choi's ``n + 2/3 < λ(n) ≤ min(n + log 2, n + 2/3 + 1/(2n+2))``
        [ref: Choi 1994], so ``|x| a^L e^{-min(…)} ≤ median ≤ |x| a^L e^{-(L − 1/3)}``.
        """
        if self.family != "uniform" or self.activation != "linear":
            raise ValueError("uniform_median_bounds needs a linear chain with uniform weights")
        n = self.depth - 1
        up_nu = min(n + math.log(2.0), n + 2.0 / 3.0 + 1.0 / (2 * n + 2))
        lo_nu = n + 2.0 / 3.0
        base = abs(self.x) * self.scale**self.depth
        return base * math.exp(-up_nu), self.median_abs_output(), base * math.exp(-lo_nu)

    def median_abs_output_asymptotic(self) -> float:
        r"""Cornish–Fisher form ``|x| C_∞ (e^{E log|w|})^L``, ``C_∞ = e^{−κ₃/(6κ₂)}`` [derived]."""
        m, v, k3, _ = self._log_moments()
        return abs(self.x) * math.exp(self.depth * m - k3 / (6 * v))

    def _log_moments(self) -> tuple[float, float, float, float]:
        if self.family == "normal":
            return gaussian_log_abs_cumulants(self.scale)
        m = uniform_log_abs_moments(self.scale)
        return m.mean, m.variance, m.kappa3, m.third_abs_central_moment

    def median_gradient_entry(self, of: str = "output") -> float:
        """Exact ``median |∂f/∂w_i|`` (or ``|∂ℓ/∂w_i|`` with ``y = 0``); the same for every i."""
        return float(self.gradient_law(1, of).abs().median())

    def gradient_norm_bound(self, delta: float = 0.5, of: str = "output") -> float:
        r"""``B`` with ``P(‖∇‖ > B) ≤ δ`` (rigorous) [derived].

        ``‖∇‖ ≤ √L max_i |g_i|`` and a union bound: ``B = √L · q_{|g|}(1 − δ/L)``, ``|g|`` the
        common law of one entry. ``of="loss"``, ``y ≠ 0``: ``|r| ≤ |y| + |x||P|`` and ``δ`` split
        in halves: ``B = (|y| + q_{|f|}(1 − δ/2)) · √L q_{|∂f/∂w|}(1 − δ/(2L))``.
        """
        delta = check_probability("delta", delta)
        of = check_choice("of", of, ("output", "loss"))
        L = self.depth
        if of == "output" or self.y == 0:
            g = self.gradient_law(1, of).abs()
            return float(math.sqrt(L) * g.quantile(1.0 - delta / L))
        g = self.gradient_law(1, "output").abs()
        f = self.output_law().abs()
        r = abs(self.y) + f.quantile(1.0 - delta / 2)
        return float(r * math.sqrt(L) * g.quantile(1.0 - delta / (2 * L)))

    def median_gradient_norm(self, of: str = "output") -> dict[str, float]:
        r"""Bounds on ``median ‖∇‖`` (``∇f`` or ``∇ℓ``) [derived].

        ``‖∇‖`` is a sum of dependent products, so no product law is exact; what is exact is the
        law of one entry. Returns ``{"entry": median|g_i|, "lower": median|g_1|,
        "upper": gradient_norm_bound(½)}`` with ``lower ≤ median‖∇‖ ≤ upper`` (``‖∇‖ ≥ |g_1|``
        pointwise; union bound above). ``L = 1``, output: ``‖∇f‖ = |x|`` exactly.
        """
        of = check_choice("of", of, ("output", "loss"))
        if of == "loss" and self.y != 0:
            entry = math.nan
            lower = 0.0
        else:
            entry = self.median_gradient_entry(of)
            lower = entry
        return {"entry": entry, "lower": lower, "upper": self.gradient_norm_bound(0.5, of)}

    # ------------------------------------------------------------------ small gradients
    def prob_small_gradient(self, eps: float, layer: int = 1) -> SmallProbability:
        r"""``P(|∂f/∂w_i| < ε)`` exactly and by the log-CLT with its Berry–Esseen band.

        ``|∂f/∂w_i| = |x| |P_{-i}|``, ``m = L − 1`` factors. Exact: the product-law cdf;
        uniform ``U(±a)``: ``Q(m, m log a − log(ε/|x|))`` (regularized upper incomplete gamma;
        The often-quoted ``Q(L, L log a − log ε)`` is the same statement for ``|P|``, see
        :meth:`prob_small_output`). CLT: ``Φ((log(ε/|x|) − mμ)/(s√m))`` with band
        ``C ρ/(s³√m)``, ``C = 0.4748`` [ref: Shevtsova 2011]. ReLU: atom added, band scaled
        by ``P(alive)``.
        """
        eps = check_positive("eps", eps)
        self._check_layer(layer)
        self._need_nonzero_x()
        return self._small(eps / abs(self.x), self.depth - 1)

    def prob_small_output(self, eps: float) -> SmallProbability:
        """``P(|f(x)| < ε)`` exactly and by the log-CLT (see :meth:`prob_small_gradient`)."""
        eps = check_positive("eps", eps)
        self._need_nonzero_x()
        return self._small(eps / abs(self.x), self.depth)

    def _small(self, t: float, m: int) -> SmallProbability:
        alive = self.alive_probability
        dead = 1.0 - alive
        if m == 0:
            v = 1.0 if 1.0 < t else 0.0
            return SmallProbability(dead + alive * v, dead + alive * v, 0.0)
        if self.family == "uniform":
            exact = float(special.gammaincc(m, max(m * math.log(self.scale) - math.log(t), 0.0)))
        else:
            exact = float(self.product_law(m).cdf(t))
        mu, var, _, rho = self._log_moments()
        s = math.sqrt(var)
        clt = float(stats.norm.cdf((math.log(t) - m * mu) / (s * math.sqrt(m))))
        band = BERRY_ESSEEN_C * rho / (s**3 * math.sqrt(m))
        return SmallProbability(dead + alive * exact, dead + alive * clt, alive * band)


# ---------------------------------------------------------------------------------------------
# Residual chains x_{l+1} = (1 + α w_l) x_l
# ---------------------------------------------------------------------------------------------


def _residual_log_cf(t: np.ndarray, alpha: float, sigma: float, law: str) -> np.ndarray:  # noqa: C901
    """``φ(t) = E|1 + αw|^{it}`` on an array of ``t ≥ 0``.

    Uniform ``w ~ U(−a, a)`` (``a = σ√3``): with ``v = 1 + αw ∈ [c, d]``,
    ``φ = (1/(d − c)) ∫_c^d |v|^{it} dv = (d^{1+it} − sgn(c)|c|^{1+it})/((d − c)(1 + it))``.
    Normal: ``φ`` is the Fourier transform of the (smooth) density of ``Y = log|1 + αw|``,
    ``g(y) = (e^y/α)[f_w((e^y − 1)/α) + f_w((−e^y − 1)/α)]``, by the trapezoid rule on a
    uniform grid (spacing ``≤ min(ασ/24, 0.3/max t)``, so aliased frequencies
    ``2π/h − t ≥ 20 max t`` are negligible), which converges geometrically for smooth rapidly
    decaying integrands; the grid covers all but ``1e-15`` of the mass.
    """
    if law == "uniform":
        a = sigma * math.sqrt(3.0)
        c, d = 1.0 - alpha * a, 1.0 + alpha * a
        s = 1.0 + 1j * t
        upper = np.exp(s * math.log(d))
        lower = np.exp(s * math.log(abs(c))) if c != 0.0 else np.zeros_like(s)
        sign = 1.0 if c >= 0 else -1.0
        return np.asarray((upper - sign * lower) / ((d - c) * s), dtype=np.complex128)
    spread = 12.0 * alpha * sigma  # |αw| beyond this has mass < 1e-32
    y_hi = math.log1p(spread)
    if spread < 0.99:
        y_lo = math.log(1.0 - spread)
    else:  # left tail of Y: g(y) ≤ 2e^y/(ασ√(2π)), mass below y_lo ≤ 1e-16
        y_lo = math.log(1e-16 * alpha * sigma * math.sqrt(2.0 * math.pi) / 2.0)
    t_top = float(np.max(t, initial=0.0))
    h = min(alpha * sigma / 24.0, 1.0 / 24.0, 0.3 / max(t_top, 1e-300))
    n = int(math.ceil((y_hi - y_lo) / h)) + 1
    if n > 2_000_000:
        raise ValueError(
            f"residual chain quadrature grid too large ({n} points) for alpha={alpha!r}, "
            f"sigma={sigma!r}: the law of |1 + alpha*w| is too spread for this method")
    y = np.linspace(y_lo, y_hi, n)
    ey = np.exp(y)
    g = ey / alpha * (stats.norm.pdf((ey - 1.0) / alpha, scale=sigma)
                      + stats.norm.pdf((-ey - 1.0) / alpha, scale=sigma))
    wts = np.full(n, (y[1] - y[0]))
    wts[0] = wts[-1] = 0.5 * (y[1] - y[0])
    gw = g * wts
    out = np.empty(t.shape, dtype=np.complex128)
    step = max(1, 2_000_000 // n)
    for k in range(0, t.size, step):
        tt = t.ravel()[k:k + step]
        out.ravel()[k:k + step] = np.exp(1j * np.outer(tt, y)) @ gw
    return out


def _residual_args(depth: int, alpha: float | None, sigma: float, law: str
                   ) -> tuple[int, float, float, str]:
    L = check_int("depth", depth, minimum=1)
    s = check_positive("sigma", sigma)
    lw = check_choice("law", law, ["normal", "uniform"])
    a = 1.0 / math.sqrt(L) if alpha is None else check_positive("alpha", alpha)
    return L, a, s, lw


def residual_chain_log_cdf(
    y: Any, depth: int, alpha: float | None = None, sigma: float = 1.0, law: str = "normal"
) -> Any:
    r"""``P(log|∏_{l=1}^L (1 + αw_l)| ≤ y)`` for iid ``w_l`` (``α`` default ``1/√L``).

    Exact up to quadrature error (≈ 1e-12) [derived]: ``S = Σ_l Y_l``, ``Y = log|1 + αw|``,
    has characteristic function ``φ(t)^L`` with ``φ(t) = E|1 + αw|^{it}`` (closed form for
    ``w ~ U(±σ√3)``, Fourier quadrature of the density of ``Y`` for ``w ~ N(0, σ²)``), and
    Gil-Pelaez [ref: Gil-Pelaez 1951] ``F(y) = ½ − (1/π)∫_0^∞ Im(e^{−ity}φ(t)^L)/t dt``,
    discretized by the midpoint rule ``t_k = (k + ½)Δ`` (aliasing error ``≤ P(|S − y| > π/Δ)``,
    ``Δ`` chosen so this is < 1e-15; truncated where ``|φ|^L < 1e-16``).

    Args:
        y: point(s) at which to evaluate (real).
        depth: L ≥ 1.
        alpha: residual scale α > 0 (default ``1/√L``).
        sigma: weight standard deviation σ > 0 (``law="uniform"``: ``U(±σ√3)``).
        law: ``"normal"`` or ``"uniform"``.

    >>> round(float(residual_chain_log_cdf(-0.5, 400)), 2)
    0.5
    """
    L, a, s, lw = _residual_args(depth, alpha, sigma, law)
    yy = np.asarray(y, dtype=np.float64)
    if not np.all(np.isfinite(yy)):
        raise ValueError(f"y must be finite, got {y!r}")
    out = _residual_cdf(yy.ravel(), L, a, s, lw).reshape(yy.shape)
    return float(out) if out.ndim == 0 else out


def _residual_cdf_factory(L: int, a: float, s: float, law: str, reach: float) -> Any:
    """Precompute ``φ(t_k)^L`` on the midpoint grid and return ``y ↦ F(y)`` valid for
    ``|y − center| ≤ reach`` (``center = −Lα²σ²/2``)."""
    # scale of S: sd ≈ √L ασ; the left tail of Y is at most exponential (rate 1)
    sd = math.sqrt(L) * a * s
    center = -0.5 * L * (a * s) ** 2
    half_width = max(40.0 * sd, 80.0 if a * s * 12.0 >= 0.99 else 0.0) + reach
    dt = math.pi / half_width
    t_max = _residual_t_max(L, a, s, law)
    k = np.arange(int(math.ceil(t_max / dt)) + 1)
    t = (k + 0.5) * dt
    phil = _residual_log_cf(t, a, s, law) ** L

    def cdf(y: np.ndarray) -> np.ndarray:
        if np.any(np.abs(y - center) > reach * (1 + 1e-12)):
            raise AssertionError("internal: y outside the precomputed reach")
        im = np.imag(np.exp(-1j * np.outer(y, t)) * phil[None, :])
        f = 0.5 - np.sum(im / (k + 0.5)[None, :], axis=1) / math.pi
        return np.asarray(np.clip(f, 0.0, 1.0))

    return cdf


def _residual_cdf(y: np.ndarray, L: int, a: float, s: float, law: str) -> np.ndarray:
    center = -0.5 * L * (a * s) ** 2
    reach = float(np.max(np.abs(y - center), initial=0.0))
    return np.asarray(_residual_cdf_factory(L, a, s, law, reach)(y))


def _residual_t_max(L: int, a: float, s: float, law: str) -> float:
    """Smallest ``t = (9/sd)·2^j`` (sd = √L ασ) with ``|φ(t)|^L < e^{−37}`` (≈ 1e-16);
    ``|φ(t)|^L ≈ exp(−Lα²σ²t²/2)`` for small ``αt``, so usually ``j = 0``."""
    sd = math.sqrt(L) * a * s
    t_max = 9.0 / sd
    for _ in range(12):
        v = abs(complex(_residual_log_cf(np.array([t_max]), a, s, law)[0]))
        if v == 0.0 or L * math.log(v) < -37.0:
            return t_max
        t_max *= 2.0
    raise ValueError(
        f"the characteristic function of log|1 + alpha*w| decays too slowly (depth={L}, "
        f"alpha={a}, sigma={s}, law={law!r}); this range is not supported")


def residual_chain_median(
    depth: int, alpha: float | None = None, sigma: float = 1.0, law: str = "normal",
    method: str = "exact",
) -> float:
    r"""Median of ``|∏_{l=1}^L (1 + αw_l)|`` (residual chain ``x_{l+1} = (1 + αw_l)x_l``).

    * ``method="exact"``: root of ``residual_chain_log_cdf(y) = ½`` (brentq, ``|Δy| < 1e-12``),
      then ``e^y`` [derived; see :func:`residual_chain_log_cdf`].
    * ``method="expansion"`` [derived]: with ``Y = log(1 + αw) = αw − α²w²/2 + α³w³/3 − …``,
      ``μ₄ = E w⁴``: ``E Y = −α²σ²/2 − α⁴μ₄/4``, ``Var Y = α²σ² + (11/12)α⁴μ₄ − α⁴σ⁴/4``,
      ``κ₃(Y) = −(3/2)α⁴(μ₄ − σ⁴)`` (+ ``O(α⁶)``); Cornish–Fisher ``median ≈ K₁ − K₃/(6K₂)``
      for the sum gives ``log median = −Lα²σ²/2 − Lα⁴μ₄/4 + α²(μ₄ − σ⁴)/(4σ²)``. For
      ``α = c/√L``: ``−c²σ²/2 − c⁴σ⁴/(4L) + O(L⁻²)`` — the kurtosis cancels, so the
      ``−1/(4L)`` (``c = σ = 1``) is the same for Gaussian and uniform weights. The error is
      ``O(L⁻²)`` at fixed ``c`` (and exponentially small terms from ``αw < −1``).

    >>> round(residual_chain_median(10_000, method="expansion"), 6)  # e^{-1/2 - 1/40000}
    0.606515
    >>> abs(residual_chain_median(64) / residual_chain_median(64, method="expansion") - 1) < 1e-3
    True
    """
    L, a, s, lw = _residual_args(depth, alpha, sigma, law)
    check_choice("method", method, ["exact", "expansion"])
    if method == "expansion":
        mu4 = 3.0 * s**4 if lw == "normal" else 9.0 * s**4 / 5.0
        logmed = (-0.5 * L * (a * s) ** 2 - 0.25 * L * a**4 * mu4
                  + a * a * (mu4 - s**4) / (4.0 * s * s))
        return math.exp(logmed)
    sd = math.sqrt(L) * a * s
    if not sd > 0.0 or not math.isfinite(sd):
        raise ValueError(f"depth={L}, alpha={a!r}, sigma={s!r}: the scale √L·α·σ = {sd!r} of "
                         "log|∏(1 + αw)| must be a positive float; supported: "
                         "1e-150 <= alpha*sigma and √L·α·σ finite")
    guess = -0.5 * L * (a * s) ** 2
    reach = 6.0 * sd + 2.0  # |median − E S| ≤ sd (mean–median inequality), with room
    xtol = 1e-13
    if _residual_grid_nodes(sd, a * s, reach) > _RESIDUAL_MAX_NODES:
        # small α·σ: the fixed room of 2 would need ~18/(π·sd) Gil-Pelaez nodes (62 TiB for
        # sd = 7e-13). |E S − guess| ≤ L(ασ)²·(1 + O(α²σ²)) for αw ≪ 1 and |median − E S| ≤ sd,
        # so room sd + L(ασ)² is enough; the grid then has O(100) nodes [derived]
        reach = 8.0 * sd + L * (a * s) ** 2
        xtol = min(xtol, 1e-6 * sd)
    cdf = _residual_cdf_factory(L, a, s, lw, reach)

    def fn(v: float) -> float:
        return float(cdf(np.array([v]))[0]) - 0.5

    lo, hi = guess - reach, guess + reach
    if not (fn(lo) < 0.0 < fn(hi)):
        raise ValueError(f"median not bracketed for depth={L}, alpha={a}, sigma={s}, law={lw!r}")
    root = optimize.brentq(fn, lo, hi, xtol=xtol, rtol=1e-13)
    return math.exp(root)


#: cap on the Gil-Pelaez grid of :func:`residual_chain_median` (complex128: 16 MiB per array)
_RESIDUAL_MAX_NODES = 2**20


def _residual_grid_nodes(sd: float, a_s: float, reach: float) -> float:
    """Node count ``t_max/Δ`` of ``_residual_cdf_factory`` for ``t_max = 9/sd`` (its minimum)."""
    half_width = max(40.0 * sd, 80.0 if a_s * 12.0 >= 0.99 else 0.0) + reach
    return (9.0 / sd) * half_width / math.pi


def residual_chain_median_reference(
    depth: int, alpha: float | None = None, sigma: float = 1.0, law: str = "normal",
    dps: int = 20,
) -> float:
    """Slow reference for :func:`residual_chain_median`: ``φ(t)`` by adaptive quadrature
    (``scipy.integrate.quad`` over ``w`` on both sides of ``w = −1/α``, per ``t``), Gil-Pelaez
    by 80-node Gauss–Legendre on ``[0, 10/(√L ασ)]``, root by brentq [derived]. ``dps`` is
    unused (kept for a uniform signature with other references). Not for tiny L with uniform
    weights (slowly decaying ``φ``).

    >>> abs(residual_chain_median_reference(16) - residual_chain_median(16)) < 1e-7
    True
    """
    L, a, s, lw = _residual_args(depth, alpha, sigma, law)
    del dps
    pole = -1.0 / a
    if lw == "normal":
        dens = stats.norm(scale=s).pdf
        lim = 14.0 * s
    else:
        b = s * math.sqrt(3.0)
        dens = lambda w: 1.0 / (2.0 * b)  # noqa: E731
        lim = b

    def phi(t: float) -> complex:
        parts = []
        for f in (math.cos, math.sin):
            tot = 0.0
            edges = [-lim, pole, lim] if -lim < pole < lim else [-lim, lim]
            for lo_, hi_ in zip(edges[:-1], edges[1:], strict=False):
                v, _ = integrate.quad(
                    lambda w, f=f: f(t * math.log(abs(1.0 + a * w))) * dens(w),
                    lo_, hi_, limit=400, epsabs=1e-13)
                tot += v
            parts.append(tot)
        return complex(parts[0], parts[1])

    sd = math.sqrt(L) * a * s
    t_max = 10.0 / sd
    nodes, weights = np.polynomial.legendre.leggauss(80)
    tt = 0.5 * t_max * (nodes + 1.0)
    ww = 0.5 * t_max * weights
    phil = np.array([phi(float(t)) ** L for t in tt])

    def cdf(v: float) -> float:
        val = float(np.sum(ww * (np.exp(-1j * tt * v) * phil).imag / tt))
        return 0.5 - val / math.pi

    guess = -0.5 * L * (a * s) ** 2
    root = optimize.brentq(lambda v: cdf(v) - 0.5, guess - 2 * sd - 0.5, guess + 2 * sd + 0.5,
                           xtol=1e-10)
    return math.exp(root)
