r"""Width-n random networks: exact laws of squared-norm ratios and related moments.

Convention. Widths ``n_0`` (the input dimension), ``n_1, …, n_L``; layer ``l`` has a weight
matrix ``W_l`` of shape ``(n_l, n_{l-1})`` with iid entries of variance
``v_l = weight_variance(init, fan_in=n_{l-1}, fan_out=n_l)``, no bias, and
``x_l = φ(W_l x_{l-1})`` for every layer (the last one included), ``φ`` the identity or ReLU.
``width`` may be an int ``n`` (then ``n_0 = n_1 = … = n_L = n``) or a sequence
``[n_1, …, n_L]`` of length ``depth``; the input dimension ``n_0`` is ``input_dim``
(default ``n_1``).

Exact law [derived]. Given ``x_{l-1}``, the entries of ``W_l x_{l-1}`` are iid
``N(0, v_l ‖x_{l-1}‖²)`` (Gaussian weights, any direction of ``x_{l-1}``), hence
``‖x_l‖² = v_l ‖x_{l-1}‖² χ²_{n_l}`` (linear) and ``v_l ‖x_{l-1}‖² χ²_K`` with
``K ~ Bin(n_l, ½)`` independent of the magnitudes (ReLU; ``χ²_0 = 0``). The conditional law does
not depend on ``x_{l-1}``, so the per-layer ratios are independent and

``R_L = ‖x_L‖²/‖x_0‖² = ∏_l F_l``, ``F_l = v_l χ²_{n_l}`` or ``v_l χ²_{K_l}``.

The factor depends on both widths: ``v_l`` on ``n_{l-1}`` (fan-in; also ``n_l`` for Xavier),
the degrees of freedom on ``n_l``. With LeCun ``v_l = 1/n_{l-1}`` the linear factor is
``χ²_{n_l}/n_{l-1}`` (``χ²_n/n`` at constant width); with He ``v_l = 2/n_{l-1}``. For
``init="orthogonal"`` (Haar, gain ``g``) the same invariance argument gives
``F_l = g² Beta(n_l/2, (n_{l-1}-n_l)/2)`` if ``n_l < n_{l-1}`` and ``g²`` otherwise (linear), and
for ReLU an extra independent ``Beta(K/2, (n_l-K)/2)`` (``= 1`` when ``K = n_l``) [derived].
Uniform inits are not rotationally invariant: no exact law here (``ValueError``).
Limitation: Beta factors ``Beta(a, b)`` with small ``b`` have a singular log-density, whose
characteristic function decays only like ``t^{-b}``; the distribution functions then raise
``ValueError`` (typical for orthogonal ReLU layers) while moments and cumulants stay exact.

Numerics. The laws are evaluated by
:class:`flatstart.theory.products.gil_pelaez.LogProductLaw` (the product engine's
``gil-pelaez`` path): Gil-Pelaez inversion of the
characteristic function of ``log R`` (``E R^{it}``, closed form via log-gamma), discretized
with the midpoint rule (aliasing error ≈ mass farther than ``π/h`` from the point) and truncated
where ``|φ(t)| < 1e-17``; an atom at 0 (dead ReLU networks) is carried separately.

Derivations, step by step: docs/theory/vc-signal.md (exact laws, log-moments, critical width)
and docs/theory/rw.md (dead networks, Hanin, Hanin–Rolnick, Noci, Pennington).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from flatstart._checks import (
    check_choice,
    check_int,
    check_positive,
    check_probability,
    check_real,
)
from flatstart.theory.inits import INITS, weight_spec
from flatstart.theory.products.gil_pelaez import (
    LogFactor,
    LogProductLaw,
    Term,
    TwinProduct,
    twin_product,
)

__all__ = [
    "LogNormalLimit",
    "critical_width",
    "critical_width_asymptotic",
    "critical_width_lower_bound",
    "dead_probability",
    "hanin_jacobian_moments",
    "hanin_rolnick_length_moments",
    "layer_factor",
    "layer_log_moments",
    "lognormal_limit",
    "noci_prior_predictive",
    "norm_ratio_law",
    "pennington_jjt_eigen_variance",
]

FloatArray = NDArray[np.float64]
ACTIVATIONS = ("linear", "relu")

# --------------------------------------------------------------------------- layer factors
def _widths(width: Any, depth: int, input_dim: int | None) -> list[int]:
    depth = check_int("depth", depth, minimum=1)
    if isinstance(width, (int, np.integer)) and not isinstance(width, bool):
        n = check_int("width", width, minimum=1)
        ws = [n] * depth
    else:
        if isinstance(width, (str, bytes)) or not isinstance(width, Sequence | np.ndarray):
            raise ValueError(f"width must be an int >= 1 or a sequence of them, got {width!r}")
        ws = [check_int("width", w, minimum=1) for w in width]
        if len(ws) != depth:
            raise ValueError(
                f"width has {len(ws)} entries but depth={depth}; give widths n_1..n_L"
            )
    n0 = ws[0] if input_dim is None else check_int("input_dim", input_dim, minimum=1)
    return [n0, *ws]


def _binomial_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``k = 1..n`` with Bin(n, ½) weights conditioned on ``k ≥ 1`` (negligible tails cut)."""
    k = np.arange(1, n + 1)
    w = stats.binom.pmf(k, n, 0.5)
    keep = w > 1e-22 * w.max()
    k, w = k[keep], w[keep]
    return k, w / w.sum()


def layer_factor(
    n_in: int, n_out: int, activation: str = "linear", init: str = "lecun_normal",
    gain: float = 1.0,
) -> tuple[LogFactor | None, float]:
    """Law of one layer's ratio ``‖x_l‖²/‖x_{l-1}‖²`` as ``(LogFactor, P(ratio = 0))``.

    Linear Gaussian: ``v χ²_{n_out}``; ReLU Gaussian: ``v χ²_K``, ``K ~ Bin(n_out, ½)``,
    ``P(0) = 2^{-n_out}``; orthogonal: Beta forms of the module docstring [derived].
    Returns ``(None, 0.0)`` for a deterministic ratio 1 (never happens for iid weights).
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    spec = weight_spec(init, n_in, n_out, gain)
    if spec.family == "uniform":
        raise ValueError(
            f"init={init!r}: uniform weights are not rotationally invariant, so the norm "
            "ratio has no exact product law; use a *_normal init or 'orthogonal'"
        )
    if spec.family == "normal":
        lc = math.log(2.0 * spec.variance)
        if activation == "linear":
            return LogFactor(((1.0, (("gpow", lc, n_out / 2.0, 1.0),)),)), 0.0
        ks, ws = _binomial_weights(n_out)
        comps = tuple(
            (float(w), (("gpow", lc, k / 2.0, 1.0),)) for k, w in zip(ks, ws, strict=True)
        )
        return LogFactor(comps), 2.0**-n_out
    # orthogonal with gain g
    lg = 2.0 * math.log(gain)
    base: list[Term] = [("point", lg)]
    if n_out < n_in:
        base.append(("beta", 0.0, n_out / 2.0, (n_in - n_out) / 2.0))
    if activation == "linear":
        return LogFactor(((1.0, tuple(base)),)), 0.0
    ks, ws = _binomial_weights(n_out)
    comps_o: list[tuple[float, tuple[Term, ...]]] = []
    for k, w in zip(ks, ws, strict=True):
        terms = list(base)
        if k < n_out:
            terms.append(("beta", 0.0, k / 2.0, (n_out - k) / 2.0))
        comps_o.append((float(w), tuple(terms)))
    return LogFactor(tuple(comps_o)), 2.0**-n_out


def _default_init(activation: str, init: str | None) -> str:
    if init is None:
        return "he_normal" if activation == "relu" else "lecun_normal"
    return check_choice("init", init, INITS)


def norm_ratio_law(
    width: int | Sequence[int],
    depth: int,
    activation: str = "linear",
    init: str | None = None,
    *,
    input_dim: int | None = None,
    gain: float = 1.0,
) -> TwinProduct:
    r"""Exact law of ``R_L = ‖x_L‖²/‖x_0‖²`` for ``x_l = φ(W_l x_{l-1})``, no bias.

    ``R_L = ∏_l F_l`` with independent ``F_l = v_l χ²_{n_l}`` (linear) or
    ``v_l χ²_{K_l}``, ``K_l ~ Bin(n_l, ½)`` (ReLU), ``v_l`` the init's variance at
    ``fan_in = n_{l-1}``, ``fan_out = n_l`` [derived; VC §4]. ``P(R_L = 0) = 1 − ∏(1 − 2^{-n_l})``
    for ReLU.

    Returned as a :class:`flatstart.theory.products.gil_pelaez.TwinProduct`: the Product of the
    layer factors' laws (``ChiSquare`` mixtures, Beta products), the alive indicator as an atom,
    and its Gil-Pelaez twin (a ``LogProductLaw``) that plain calls use (``log_cdf``,
    ``log_pdf_density``, ``log_mean``, ``log_sd`` included); ``method=`` evaluates the same law
    with the Mellin engine.

    Args:
        width: ``n`` (all layers and the input) or ``[n_1, …, n_L]``.
        depth: ``L >= 1``.
        activation: ``"linear"`` or ``"relu"``.
        init: a Gaussian init or ``"orthogonal"``; default ``"lecun_normal"`` (linear) and
            ``"he_normal"`` (ReLU), the variance-preserving choices.
        input_dim: ``n_0`` (default ``n_1``).
        gain: std multiplier passed to the init.

    >>> law = norm_ratio_law(4, 1)            # χ²_4 / 4
    >>> round(float(law.cdf(1.0)), 10) == round(float(stats.chi2.cdf(4.0, 4)), 10)
    True
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _default_init(activation, init)
    ns = _widths(width, depth, input_dim)
    groups: dict[tuple[int, int], int] = {}
    for a, b in zip(ns[:-1], ns[1:], strict=True):
        groups[(a, b)] = groups.get((a, b), 0) + 1
    factors: list[tuple[LogFactor, int]] = []
    log_alive = 0.0
    for (a, b), count in groups.items():
        f, p0 = layer_factor(a, b, activation, init, gain)
        if f is not None:
            factors.append((f, count))
        log_alive += count * math.log1p(-p0)
    return twin_product(LogProductLaw(factors, atom=-math.expm1(log_alive)))


def dead_probability(widths: int | Sequence[int], depth: int | None = None) -> float:
    """``P(x_L = 0) = 1 − ∏_l (1 − 2^{-n_l})`` for a bias-free ReLU net [derived; VC §4].

    Holds for any weight law that is symmetric with a density (each hidden unit is active with
    probability ½ independently, given a nonzero input); fails e.g. for Rademacher weights.
    ``widths`` are the hidden widths ``n_1..n_L`` (or an int with ``depth``).

    >>> dead_probability([1, 1])
    0.75
    """
    if isinstance(widths, (int, np.integer)) and not isinstance(widths, bool):
        if depth is None:
            raise ValueError("depth is required when widths is an int")
        ws = _widths(int(widths), depth, None)[1:]
    else:
        seq = list(widths)  # type: ignore[arg-type]
        ws = _widths(seq, len(seq) if depth is None else depth, None)[1:]
    s = sum(math.log1p(-(2.0**-n)) for n in ws)
    return float(-math.expm1(s))


def layer_log_moments(
    n_in: int, n_out: int, activation: str = "linear", init: str | None = None,
    gain: float = 1.0,
) -> tuple[float, float, float]:
    r"""Exact ``(P(alive), E[log F | F>0], Var[log F | F>0])`` of one layer's factor.

    Linear ``v χ²_n``: ``m = log(2v) + ψ(n/2)``, ``s² = ψ'(n/2)`` (LeCun, ``n_in = n_out = n``:
    ``ψ(n/2) + log(2/n) ≈ −1/n``, ``ψ'(n/2) ≈ 2/n``); ReLU: mixture over ``K ~ Bin(n, ½) | K ≥ 1``
    of the same with ``n → K`` (He, constant width: ``m → −5/(2n)``, ``s² → 5/n``) [derived].

    >>> from scipy import special
    >>> p, m, v = layer_log_moments(10, 10)
    >>> bool(abs(m - (special.digamma(5) + math.log(0.2))) < 1e-15)
    True
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _default_init(activation, init)
    f, p0 = layer_factor(n_in, n_out, activation, init, gain)
    if f is None:
        return 1.0, 0.0, 0.0
    c = f.cumulants()
    return 1.0 - p0, c[0], c[1]


@dataclass(frozen=True)
class LogNormalLimit:
    """Log-normal description of ``log R_L | R_L > 0``.

    Attributes:
        mean, var: exact ``Σ_l E log F_l`` and ``Σ_l Var log F_l`` (given alive).
        mean_asymptotic, var_asymptotic: the leading-order forms ``−L/n, 2L/n`` (linear, LeCun)
            or ``−5β/2, 5β`` with ``β = Σ 1/n_l`` (ReLU, He); ``nan`` for other inits.
        alive: ``P(R_L > 0)``.
    """

    mean: float
    var: float
    mean_asymptotic: float
    var_asymptotic: float
    alive: float
    extras: dict[str, float] = field(default_factory=dict)


def lognormal_limit(
    width: int | Sequence[int],
    depth: int,
    activation: str = "linear",
    init: str | None = None,
    *,
    input_dim: int | None = None,
) -> LogNormalLimit:
    """Exact log-moments of ``R_L`` and their log-normal (Hanin–Nica regime) leading forms.

    ``log R_L | alive ≈ N(Σ m_l, Σ v_l)`` by the CLT over layers [derived]; leading order
    ``N(−L/n, 2L/n)`` (linear LeCun) and ``N(−5β/2, 5β)``, ``β = Σ 1/n_l`` (ReLU He) [derived;
    cf. Hanin & Nica 2019].
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _default_init(activation, init)
    law = norm_ratio_law(width, depth, activation, init, input_dim=input_dim)
    ns = _widths(width, depth, input_dim)
    beta = sum(1.0 / n for n in ns[1:])
    if activation == "linear" and init in ("lecun_normal", "xavier_normal"):
        ma, va = -beta, 2.0 * beta
    elif activation == "relu" and init == "he_normal":
        ma, va = -2.5 * beta, 5.0 * beta
    else:
        ma, va = math.nan, math.nan
    return LogNormalLimit(
        law.log_mean, law.log_sd**2, ma, va, 1.0 - law.atom, {"beta": beta}
    )


# --------------------------------------------------------------------------- critical width
def _median_ratio(n: int, depth: int, activation: str, init: str) -> float:
    return norm_ratio_law(n, depth, activation, init).median()


def critical_width(
    depth: int,
    activation: str = "relu",
    init: str | None = None,
    level: float = 0.5,
    *,
    max_width: int = 1 << 22,
) -> int:
    r"""Smallest constant width ``n`` with ``median(‖x_L‖²/‖x_0‖²) ≥ level`` (exact median).

    Binary search over integer widths on the exact median of :func:`norm_ratio_law` (all
    widths and the input dimension equal to ``n``), assuming the median is non-decreasing in
    ``n`` (checked by the tests) [derived].

    Raises:
        ValueError: ``level`` not in ``(0, ∞)``; or no width ``≤ max_width`` reaches ``level``
            (the median tends to 1 from below as ``n → ∞`` under LeCun/He, so ``level ≥ 1`` is
            never reached for those inits).

    >>> critical_width(1, "linear", level=0.5)  # median χ²_1 = 0.455, median χ²_2/2 = log 2
    2
    """
    depth = check_int("depth", depth, minimum=1)
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _default_init(activation, init)
    level = check_positive("level", level)
    max_width = check_int("max_width", max_width, minimum=1)

    def ok(n: int) -> bool:
        return _median_ratio(n, depth, activation, init) >= level

    hi = 1
    while not ok(hi):
        if hi >= max_width:
            raise ValueError(
                f"level={level!r} is not reached by the median ratio for any width <= "
                f"max_width={max_width} (depth={depth}, activation={activation!r}, "
                f"init={init!r}); the median stays below 1 for LeCun/He inits"
            )
        hi = min(2 * hi, max_width)
    lo = hi // 2  # ok(lo) is False (or lo == 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def critical_width_asymptotic(depth: int, activation: str = "relu", level: float = 0.5) -> float:
    r"""Leading-order critical width from the log-normal limit [derived].

    ``median R_L ≈ exp(L m_n)`` with ``m_n ≈ −5/(2n)`` (ReLU He) or ``−1/n`` (linear LeCun), so
    ``n ≈ 5L/(2 log(1/level))`` (ReLU) and ``L/log(1/level)`` (linear); ``level ∈ (0, 1)``.

    >>> round(critical_width_asymptotic(100, "relu"), 3)
    360.674
    """
    depth = check_int("depth", depth, minimum=1)
    activation = check_choice("activation", activation, ACTIVATIONS)
    level = check_probability("level", level)
    c = 2.5 if activation == "relu" else 1.0
    return c * depth / math.log(1.0 / level)


def critical_width_lower_bound(
    depth: int, activation: str = "relu", init: str | None = None, level: float = 0.5
) -> int:
    r"""Rigorous lower bound on :func:`critical_width` from the mean–median inequality.

    Given alive, ``median log R ≤ E log R + sd(log R)`` [ref: |mean − median| ≤ sd], and the
    atom only lowers the median, so ``median R_L ≥ level`` needs
    ``L m_n + √(L v_n) ≥ log(level)`` with the exact per-layer log-moments. Returns the
    smallest ``n`` satisfying that necessary condition (≈ 0.77 L for ReLU He at level ½, much
    weaker than the log-normal heuristic 3.6 L) [derived].
    """
    depth = check_int("depth", depth, minimum=1)
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _default_init(activation, init)
    level = check_positive("level", level)

    def ok(n: int) -> bool:
        _, m, v = layer_log_moments(n, n, activation, init)
        return depth * m + math.sqrt(depth * v) >= math.log(level)

    hi = 1
    while not ok(hi):
        if hi > 1 << 24:
            raise ValueError(f"level={level!r} is never reached")
        hi *= 2
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


# --------------------------------------------------------------------------- moments
def _hidden(widths: Any, name: str = "widths") -> list[int]:
    if isinstance(widths, (int, np.integer)) and not isinstance(widths, bool):
        return [check_int(name, widths, minimum=1)]
    ws = [check_int(name, w, minimum=1) for w in widths]  # type: ignore[union-attr]
    if not ws:
        raise ValueError(f"{name} must be non-empty")
    return ws


def hanin_jacobian_moments(widths: Sequence[int], input_dim: int | None = None) -> dict[str, Any]:
    r"""Exact second and fourth moments of an input–output Jacobian entry ``Z``.

    Net: ``x_l = ReLU(W_l x_{l-1})``, ``W_l ~ N(0, 2/n_{l-1})`` for hidden widths
    ``n_1..n_L`` (``widths``), readout ``W_{L+1} ~ N(0, 1/n_L)``, no bias, ``n_0 = input_dim``
    (default ``n_1``).
    Then ``n_0 E Z² = 1`` and ``n_0² E Z⁴ = 3 ∏_{l=1}^{L} (1 + 5/n_l)`` exactly (product over the
    hidden ReLU layers only; ``≈ 3 e^{5β}``, ``β = Σ 1/n_l``) [ref: Hanin 2018, Thm 1; exact
    Gaussian form derived: with ``u_l = D_l W_l u_{l-1}``,
    ``E[‖u_l‖⁴ | past] = n_l (n_l + 5)/n_{l-1}² ‖u_{l-1}‖⁴`` for any angle between ``u`` and ``x``].

    Returns:
        dict with sympy-exact ``"E_Z2"``, ``"E_Z4"`` and floats ``"n0_E_Z2"``,
        ``"n0sq_E_Z4"``, ``"approx_3e5beta"``.

    >>> hanin_jacobian_moments([5], 3)["n0sq_E_Z4"]
    6.0
    """
    ws = _hidden(widths)
    n0 = ws[0] if input_dim is None else check_int("input_dim", input_dim, minimum=1)
    prod = sp.Integer(1)
    for n in ws:
        prod *= 1 + sp.Rational(5, n)
    ez2 = sp.Rational(1, n0)
    ez4 = 3 * prod / n0**2
    beta = sum(1.0 / n for n in ws)
    return {
        "E_Z2": ez2,
        "E_Z4": ez4,
        "n0_E_Z2": 1.0,
        "n0sq_E_Z4": float(3 * prod),
        "approx_3e5beta": 3.0 * math.exp(5.0 * beta),
    }


def hanin_rolnick_length_moments(
    widths: Sequence[int],
    residual_scales: Sequence[float] | None = None,
) -> dict[str, Any]:
    r"""Moments of ``M_l = ‖x_l‖²/n_l`` for He ReLU nets [ref: Hanin & Rolnick 2018].

    Feed-forward (``residual_scales=None``), ``widths`` = the layer widths ``n_1..n_L`` (the
    input dimension ``n_0`` does not enter), ``W_l ~ N(0, 2/n_{l-1})``: ``E M_L = M_0`` and
    ``E M_L²/M_0² = ∏_{l=1}^{L} (1 + 5/n_l)`` exactly [exact form derived: one layer's factor
    ``(2/n_{l-1}) χ²_K`` has ``E[K(K+2)] = n_l(n_l+5)/4``].

    Residual (``residual_scales = [η_1..η_L]``, constant width; ``widths`` is then unused
    beyond validation):
    ``x_l = x_{l-1} + η_l W_2 ReLU(W_1 x_{l-1})`` with ``W_1 ~ N(0, 2/n)`` (``m × n``) and
    ``W_2 ~ N(0, 1/m)`` (``n × m``), ``m`` the inner width: ``E M_L = M_0 ∏(1 + η_l²)``
    [derived; the cross term vanishes since ``E W_2 = 0``]. Only the first moment is returned.

    >>> hanin_rolnick_length_moments([5])["E_M2_ratio"]
    2
    """
    ws = _hidden(widths)
    if residual_scales is None:
        prod = sp.Integer(1)
        for n in ws:
            prod *= 1 + sp.Rational(5, n)
        return {"E_M_ratio": sp.Integer(1), "E_M2_ratio": prod}
    etas = [check_real("residual_scales", e) for e in residual_scales]
    prod = sp.Integer(1)
    for e in etas:
        prod *= 1 + sp.nsimplify(e) ** 2
    return {"E_M_ratio": prod}


# --------------------------------------------------------------------------- Noci
@dataclass
class NociPriorPredictive:
    r"""Law of the scalar output of a bias-free ReLU net at a fixed input [derived, Noci 2021].

    ``f = w·x_L``, ``w ~ N(0, v_{L+1})``; ``|f| = √(v_{L+1}‖x‖²) |N(0,1)| ∏_l √(v_l χ²_{K_l})``
    given ``K_l ≥ 1`` for all ``l``; ``P(f = 0) = 1 − ∏(1 − 2^{-n_l})``; symmetric. Summed over
    ``k``: ``p(f) = Σ_k ∏Bin(k_l; n_l, ½) G^{L+1,0}_{0,L+1}(f²/C | 0, (k_l−1)/2)``
    ``/ (√(πC) ∏Γ(k_l/2))``,
    ``C = 2^{L+1}‖x‖² ∏_{l=1}^{L+1} v_l`` (:meth:`pdf_meijer`, the slow reference).
    """

    widths: list[int]
    variances: list[float]
    x_norm: float
    law: LogProductLaw

    @property
    def atom(self) -> float:
        """``P(f = 0)``."""
        return self.law.atom

    def pdf(self, f: ArrayLike) -> FloatArray:
        """Density of the continuous part."""
        return self.law.pdf(f)

    def cdf(self, f: ArrayLike) -> FloatArray:
        """``P(output ≤ f)``."""
        return self.law.cdf(f)

    def kurtosis(self) -> Any:
        """``E f⁴/(E f²)² = 3 ∏ (1 + 5/n_l)`` (sympy exact) [derived]."""
        prod = sp.Integer(3)
        for n in self.widths:
            prod *= 1 + sp.Rational(5, n)
        return prod

    def pdf_meijer(self, f: ArrayLike, dps: int = 20) -> FloatArray:
        """The Meijer-G sum of the docstring by mpmath (slow; small widths only)."""
        import itertools

        import mpmath as mp

        if math.prod(self.widths) > 20000:
            raise ValueError("pdf_meijer sums ∏ n_l terms; use widths with product <= 20000")
        L = len(self.widths)
        C = 2 ** (L + 1) * self.x_norm**2 * math.prod(self.variances)
        out = []
        with mp.workdps(dps):
            for fv in np.asarray(f, dtype=float).ravel():
                z = mp.mpf(fv) ** 2 / C
                tot = mp.mpf(0)
                for ks in itertools.product(*[range(1, n + 1) for n in self.widths]):
                    w = mp.mpf(1)
                    for k, n in zip(ks, self.widths, strict=True):
                        w *= mp.binomial(n, k) / mp.mpf(2) ** n
                    b = [0] + [mp.mpf(k - 1) / 2 for k in ks]
                    g = mp.meijerg([[], []], [b, []], z)
                    den = mp.sqrt(mp.pi * C) * mp.fprod(mp.gamma(mp.mpf(k) / 2) for k in ks)
                    tot += w * g / den
                out.append(float(tot))
        return np.asarray(out).reshape(np.shape(f))


def noci_prior_predictive(
    widths: Sequence[int], variances: Sequence[float], x_norm: float
) -> NociPriorPredictive:
    """Prior predictive of a bias-free ReLU net with a scalar linear readout [derived, Noci 2021].

    Args:
        widths: hidden widths ``n_1..n_L``.
        variances: weight variances ``v_1..v_{L+1}`` (the last one is the readout's).
        x_norm: ``‖x‖ > 0``.

    >>> p = noci_prior_predictive([3], [1.0, 1.0], 1.0)
    >>> p.atom
    0.125
    """
    ws = _hidden(widths)
    vs = [check_positive("variances", v) for v in variances]
    if len(vs) != len(ws) + 1:
        raise ValueError(
            f"variances must have len(widths)+1 = {len(ws) + 1} entries, got {len(vs)}"
        )
    xn = check_positive("x_norm", x_norm)
    factors: list[tuple[LogFactor, int]] = []
    # readout: sqrt(v_{L+1}) |N(0,1)| = sqrt(2 v) Gamma(1/2)^{1/2}
    factors.append(
        (LogFactor(((1.0, (("gpow", 0.5 * math.log(2 * vs[-1] * xn**2), 0.5, 0.5),)),)), 1)
    )
    log_alive = 0.0
    for n, v in zip(ws, vs[:-1], strict=True):
        ks, wk = _binomial_weights(n)
        comps = tuple(
            (float(w), (("gpow", 0.5 * math.log(2 * v), k / 2.0, 0.5),))
            for k, w in zip(ks, wk, strict=True)
        )
        factors.append((LogFactor(comps), 1))
        log_alive += math.log1p(-(2.0**-n))
    law = LogProductLaw(factors, atom=-math.expm1(log_alive), sign="symmetric")
    return NociPriorPredictive(ws, vs, xn, law)


# --------------------------------------------------------------------------- Pennington
def pennington_jjt_eigen_variance(
    depth: int, activation: str = "linear", init: str = "gaussian"
) -> Any:
    r"""Variance of the eigenvalue distribution of ``JJᵀ`` at criticality (large width).

    ``σ²_{JJᵀ} = L (μ₂/μ₁² − 1 − s₁)`` with ``μ_k`` the moments of ``φ'(h)²`` and ``s₁ = −1``
    (Gaussian weights) or ``0`` (orthogonal): linear-Gaussian ``L``, linear-orthogonal ``0``,
    ReLU-Gaussian ``2L``, ReLU-orthogonal ``L`` [recalled: Pennington, Schoenholz & Ganguli 2017,
    checked by simulation only]. Returns a sympy Integer.

    >>> pennington_jjt_eigen_variance(10, "relu", "gaussian")
    20
    """
    depth = check_int("depth", depth, minimum=1)
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = check_choice("init", init, ("gaussian", "orthogonal"))
    mu1, mu2 = (sp.Integer(1), sp.Integer(1)) if activation == "linear" else (
        sp.Rational(1, 2), sp.Rational(1, 2))
    s1 = sp.Integer(-1) if init == "gaussian" else sp.Integer(0)
    return sp.Integer(depth) * (mu2 / mu1**2 - 1 - s1)
