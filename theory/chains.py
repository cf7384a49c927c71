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
of the weights, whose law is evaluated exactly by :class:`theory.wide.LogProductLaw`.

ReLU chain [derived]: with ``x > 0`` the chain is alive iff ``w_1, …, w_{L-1} > 0`` (``x < 0``:
``w_1 < 0`` and the others positive); alive, ``f = P x`` locally and all derivatives equal the
linear ones; dead, ``f ≡ 0`` on a neighbourhood so ``∇f = 0`` and ``H = 0``. Hence every ReLU
law is the linear law of the magnitudes with an atom ``1 − 2^{-(L-1)}`` at 0 (for ``x ≠ 0``;
``x = 0`` is always dead), the magnitudes being independent of the signs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from scipy import integrate, special, stats

from theory._checks import check_choice, check_int, check_positive, check_probability, check_real
from theory.inits import INITS, weight_spec
from theory.wide import LogFactor, LogProductLaw

__all__ = [
    "BERRY_ESSEEN_C",
    "ChainMoments",
    "NeuralChain",
    "SmallProbability",
    "chain_moment_formulas",
    "gaussian_log_abs_cumulants",
    "median_stable_variance",
]

#: Berry–Esseen constant for iid sums [ref: Shevtsova 2011].
BERRY_ESSEEN_C = 0.4748

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
    r"""``(E, Var, κ₃, E|·−E|³)`` of ``log|w|``, ``w ~ N(0, σ²)`` [derived].

    ``E log|w| = log σ − (γ + log 2)/2``, ``Var = π²/8``, ``κ_r = ψ^{(r-1)}(½)/2^r``; the third
    absolute central moment (for Berry–Esseen) by quadrature.

    >>> round(gaussian_log_abs_cumulants(1.0)[1], 12) == round(math.pi**2 / 8, 12)
    True
    """
    sigma = check_positive("sigma", sigma)
    mean = math.log(sigma) - (np.euler_gamma + math.log(2.0)) / 2
    var = math.pi**2 / 8
    k3 = float(special.polygamma(2, 0.5)) / 8
    # log|w| - log sigma = 0.5*log(2G), G ~ Gamma(1/2); density of u = log|z|, z ~ N(0,1)
    m0 = -(np.euler_gamma + math.log(2.0)) / 2

    def dens(u: float) -> float:
        return float(2.0 * stats.norm.pdf(math.exp(u)) * math.exp(u))

    rho = sum(
        integrate.quad(lambda u: abs(u - m0) ** 3 * dens(u), a, b, limit=200)[0]
        for a, b in ((-60.0, m0), (m0, 6.0))
    )
    return mean, var, k3, rho


def _uniform_log_abs_cumulants(a: float) -> tuple[float, float, float, float]:
    # log|w| = log a - E, E ~ Exp(1): mean log a - 1, var 1, k3 = -2, E|1-E|^3 = 12/e - 2
    return math.log(a) - 1.0, 1.0, -2.0, 12.0 / math.e - 2.0


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


class NeuralChain:
    r"""A width-1 chain of depth ``L`` at random initialization.

    Args:
        depth: ``L >= 1``.
        init: an init name from :data:`theory.inits.INITS` evaluated at
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
        that keep every pre-activation positive; the THEORY.md "≥" is an equality for weight
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

    def _check_layer(self, layer: int, name: str = "layer") -> int:
        return check_int(name, layer, minimum=1, maximum=self.depth)

    def _need_nonzero_x(self) -> None:
        if self.x == 0:
            raise ValueError("x must be nonzero for this law (x = 0 gives the constant 0)")

    # ------------------------------------------------------------------ laws
    def output_law(self) -> LogProductLaw:
        r"""Law of ``f(x)``: ``|x| ∏_{k=1}^L |w_k|`` with a fair sign; ReLU adds the atom
        ``1 − 2^{-(L-1)}`` at 0 [derived].

        >>> float(NeuralChain(2, sigma=1.0).output_law().cdf(0.0))
        0.5
        """
        self._need_nonzero_x()
        return self._law(abs(self.x), {1: self.depth}, 1, set(range(1, self.depth + 1)))

    def product_law(self, count: int | None = None) -> LogProductLaw:
        """Law of ``|∏ of count weights|`` (default ``L``), no atom (``count = 0``: 1)."""
        count = self.depth if count is None else check_int("count", count, minimum=0)
        return LogProductLaw([(self._abs_factor(1), count)])

    def gradient_law(self, layer: int, of: str = "output") -> LogProductLaw:
        r"""Law of ``∂f/∂w_i = x P_{-i}`` or, with ``y = 0``, ``∂ℓ/∂w_i = x² w_i P_{-i}²``.

        ``|∂f/∂w_i| = |x| ∏_{k≠i}|w_k|``; ``|∂ℓ/∂w_i| = x² |w_i| ∏_{k≠i} |w_k|²`` (since
        ``r = P x`` when ``y = 0``) [derived]. ReLU: atom ``1 − 2^{-(L-1)}``; on the alive event
        ``∂f/∂w_L = h_{L-1} > 0`` is positive (not symmetric). ``L = 1``, ``of="output"``: the
        constant ``x``.

        Raises:
            ValueError: ``layer`` outside ``1..L``; ``of="loss"`` with ``y ≠ 0`` (then
                ``r = Px − y`` makes the entry a non-product law).
        """
        i = self._check_layer(layer)
        of = check_choice("of", of, ("output", "loss"))
        self._need_nonzero_x()
        others = set(range(1, self.depth + 1)) - {i}
        if of == "output":
            return self._law(abs(self.x), {1: self.depth - 1}, 1, others)
        if self.y != 0:
            raise ValueError(f"of='loss' needs y = 0 for a product law, got y={self.y!r}")
        return self._law(self.x**2, {1: 1, 2: self.depth - 1}, 2, {i})

    def hessian_entry_law(self, i: int, j: int) -> LogProductLaw:
        r"""Law of ``H_ij`` of ``ℓ`` when ``y = 0`` [derived].

        ``H_ii = x² P_{-i}²`` (nonnegative); ``H_ij = 2 x² w_i w_j P_{-ij}²`` for ``i ≠ j``
        (``r x P_{-ij} = x² P P_{-ij}`` with ``y = 0``). ReLU: atom ``1 − 2^{-(L-1)}``.
        """
        i = self._check_layer(i, "i")
        j = self._check_layer(j, "j")
        self._need_nonzero_x()
        if self.y != 0:
            raise ValueError(f"hessian_entry_law needs y = 0 for a product law, got y={self.y!r}")
        if i == j:
            return self._law(self.x**2, {2: self.depth - 1}, 2, set())
        return self._law(2.0 * self.x**2, {1: 2, 2: self.depth - 2}, 2, {i, j})

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
        return self.output_law().abs().median()

    def log_median_abs_output(self) -> float:
        r"""``log median |f(x)|`` (no underflow for deep chains; ``-inf`` if the median is 0).

        >>> round(NeuralChain(10000, sigma=1.0).log_median_abs_output() / 10000, 4)
        -0.6352
        """
        self._need_nonzero_x()
        law = self.output_law().abs()
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
        return _uniform_log_abs_cumulants(self.scale)

    def median_gradient_entry(self, of: str = "output") -> float:
        """Exact ``median |∂f/∂w_i|`` (or ``|∂ℓ/∂w_i|`` with ``y = 0``); the same for every i."""
        return self.gradient_law(1, of).abs().median()

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
            return math.sqrt(L) * g.quantile(1.0 - delta / L)
        g = self.gradient_law(1, "output").abs()
        f = self.output_law().abs()
        r = abs(self.y) + f.quantile(1.0 - delta / 2)
        return r * math.sqrt(L) * g.quantile(1.0 - delta / (2 * L))

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
        THEORY.md's ``Q(L, L log a − log ε)`` is the same statement for ``|P|``, see
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
