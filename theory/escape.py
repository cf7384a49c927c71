"""Saddle-escape times of gradient descent versus sign-like adaptive steps.

Model problem (VC, Orvieto et al. 2021, §"escape"): the 1-D concave quadratic
``f(θ) = −(λ/2) θ²`` with curvature ``−λ < 0`` at the saddle ``θ = 0``. A trajectory
*escapes* at the first step ``t`` with ``|θ_t| ≥ R`` (it leaves the open ball ``|θ| < R``).

* GD: ``θ_{t+1} = θ_t − η f'(θ_t) = (1 + ηλ) θ_t``, so ``|θ_t| = (1 + ηλ)^t |θ₀|`` and the
  escape time is ``⌈log(R/|θ₀|) / log(1 + ηλ)⌉`` (0 when ``|θ₀| ≥ R``, ∞ when ``θ₀ = 0``)
  [derived]; for ``ηλ → 0`` it is ``≈ log(R/|θ₀|) / (ηλ)``, inversely proportional to the
  curvature.
* sign step (signSGD, Adam with ``β₁ = β₂ = 0``, ``ε = 0``, Adam's first step):
  ``θ_{t+1} = θ_t − η sign f'(θ_t) = θ_t + η sign θ_t``, so ``|θ_t| = |θ₀| + tη`` and the
  escape time is ``⌈(R − |θ₀|)/η⌉``, independent of λ [derived].
* Adam (``ε = 0``, bias-corrected): steps in ``[η(1−β₁), η/√(1−β₂)]``, so its escape time is
  bracketed by λ-free counts as well [derived] (:func:`adam_escape_bounds`).
* RMSprop (``ε = 0``, ``v₀ = 0``, with or without bias correction): the step magnitude lies in
  ``[η, η/√(1−β)]`` on this problem, so its escape time lies between
  ``⌈√(1−β)(R − |θ₀|)/η⌉`` and ``⌈(R − |θ₀|)/η⌉``, again independent of λ [derived].

Depth-L chains (docs/theory/vc-signal.md, docs/theory/vc-curvature.md): at a random init of a
width-1 chain with ``y ≠ 0`` the loss
Hessian is dominated by ``H_ij ≈ r x P_{−ij}`` (``|P| ≪ 1``), so the plateau curvature scales
like ``|P_{−ij}|`` and GD's escape time like ``1/|P_{−ij}|``. The log-median of
``|P_{−ij}|`` (a product of ``L − 2`` iid ``|w|``) is ``(L − 2) E log|w| + O(1)``, so
``log median(escape time)`` grows linearly in L with slope ``−E log|w|`` [derived]:
``−(log σ − (γ + log 2)/2)`` for ``N(0, σ²)`` weights and ``1 − log a`` for ``U(−a, a)``.

Refinement [derived here, see :func:`chain_curvature_log_median`]: with ``v_i = 1/w_i`` the
plateau Hessian is ``H ≈ −rxP(diag v² − vvᵀ)``; its most negative eigenvalue solves the secular
equation ``Σ v_i²/(μ + v_i²) = 1`` and is ``|λ_min| ≈ |P|/(|w|₍₁₎|w|₍₂₎) ·
√(1 + Σ_{k≥3}(|w|₍₂₎/|w|₍ₖ₎)²)`` — ``max_{i≠j}|P_{−ij}|`` times an ``O(1)`` factor, for either
sign of ``P``. The two smallest ``|w|`` are ``O(1/L)``, so
``log median |λ_min| = κ₁L + 2 log L + O(1)`` and ``log median T = −κ₁L − 2 log L + O(1)``.

Every fast function has a slow reference (direct iteration or direct products) beside it.

Its length: the escape-time theory of the plateau (GD, RMSprop and Adam bounds, the chain
Hessian and the log-median laws) shares one model, and each fast formula has its slow iteration
or Monte Carlo-free reference beside it.

Derivations, step by step: docs/theory/vc-curvature.md#escape-times.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.integrate as si
import scipy.special as sc
import scipy.stats as st
from numpy.typing import ArrayLike, NDArray

from flatstart._checks import check_choice, check_int, check_positive, check_probability
from flatstart.theory.log_moments import gaussian_log_abs_moments, uniform_log_abs_moments

__all__ = [
    "EULER_GAMMA",
    "adam_escape_bounds",
    "adam_escape_steps_reference",
    "PLATEAU_SPREAD_CONSTANT",
    "chain_curvature_log_median",
    "chain_escape_log_median",
    "chain_escape_log_slope",
    "chain_hessian",
    "chain_hessian_reference",
    "chain_plateau_curvature",
    "escape_log_slope",
    "gd_escape_steps",
    "gd_escape_steps_asymptotic",
    "gd_escape_steps_reference",
    "log_abs_weight_cumulants",
    "log_median_pair_product",
    "plateau_spread_constant",
    "plateau_spread_constant_reference",
    "smallest_abs_weight_log_mean",
    "rmsprop_escape_bounds",
    "rmsprop_escape_steps_reference",
    "sgd_median_escape_growth",
    "sign_escape_steps",
    "sign_escape_steps_reference",
]

EULER_GAMMA = float(np.euler_gamma)
_MAX_REFERENCE_STEPS = 10_000_000


def _as_finite_array(name: str, value: ArrayLike) -> NDArray[np.float64]:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number or array of reals, got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN/inf), got {value!r}")
    return arr


def _as_positive_array(name: str, value: ArrayLike) -> NDArray[np.float64]:
    arr = _as_finite_array(name, value)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return arr


def _scalar_or_array(arr: NDArray[Any]) -> Any:
    return float(arr) if arr.ndim == 0 else arr


# ---------------------------------------------------------------------------------------------
# 1-D saddle: GD, sign, RMSprop
# ---------------------------------------------------------------------------------------------


def gd_escape_steps(lam: ArrayLike, eta: ArrayLike, theta0: ArrayLike, radius: ArrayLike) -> Any:
    """Exact number of GD steps to leave ``|θ| < R`` on ``f(θ) = −(λ/2)θ²``.

    ``θ_t = (1 + ηλ)^t θ₀``, hence ``T = min{t ≥ 0 : (1+ηλ)^t |θ₀| ≥ R}
    = ⌈log(R/|θ₀|) / log(1 + ηλ)⌉`` for ``0 < |θ₀| < R``; ``T = 0`` if ``|θ₀| ≥ R`` and
    ``T = ∞`` if ``θ₀ = 0`` (GD never leaves the saddle) [derived]. The ceiling is corrected by
    one explicit power evaluation so that ties (``R/|θ₀|`` an exact power) are not lost to
    rounding of the logarithms. Vectorized by broadcasting; returns float (``inf`` possible).

    Args:
        lam: negative curvature magnitude λ > 0.
        eta: step size η > 0.
        theta0: starting point (any finite real).
        radius: escape radius R > 0.

    >>> int(gd_escape_steps(1.0, 0.1, 1e-3, 1.0))
    73
    >>> float(gd_escape_steps(1.0, 1.0, 0.25, 1.0))  # 0.25 -> 0.5 -> 1.0
    2.0
    """
    lam_a = _as_positive_array("lam", lam)
    eta_a = _as_positive_array("eta", eta)
    th = np.abs(_as_finite_array("theta0", theta0))
    r_a = _as_positive_array("radius", radius)
    lam_a, eta_a, th, r_a = np.broadcast_arrays(lam_a, eta_a, th, r_a)
    growth = np.log1p(eta_a * lam_a)
    out = np.zeros(th.shape, dtype=np.float64)
    inside = (th < r_a) & (th > 0)
    out[th == 0] = np.inf
    if np.any(inside):
        g = growth[inside]
        ratio = np.log(r_a[inside]) - np.log(th[inside])
        t = np.ceil(ratio / g)
        t = np.maximum(t, 1.0)
        # tie correction: check (1+ηλ)^{t-1}|θ0| >= R (then t-1 suffices) and (1+ηλ)^t|θ0| < R
        base = 1.0 + eta_a[inside] * lam_a[inside]
        with np.errstate(over="ignore"):
            prev = th[inside] * base ** (t - 1.0)
            cur = th[inside] * base**t
        t = np.where((t > 1) & (prev >= r_a[inside]), t - 1.0, t)
        t = np.where(cur < r_a[inside], t + 1.0, t)
        out[inside] = t
    return _scalar_or_array(out)


def gd_escape_steps_asymptotic(
    lam: ArrayLike, eta: ArrayLike, theta0: ArrayLike, radius: ArrayLike
) -> Any:
    """Small-step approximation ``log(R/|θ₀|)/(ηλ)`` of :func:`gd_escape_steps`.

    From ``log(1 + ηλ) = ηλ − (ηλ)²/2 + …``; the relative error is ``ηλ/2 + O((ηλ)²)``
    and the approximation is a lower bound of the un-ceiled exact value for ``ηλ > 0``
    (``log(1+x) < x``) [derived]. Returns 0 when ``|θ₀| ≥ R`` and ∞ when ``θ₀ = 0``.

    >>> round(float(gd_escape_steps_asymptotic(1.0, 0.01, 1e-3, 1.0)), 3)
    690.776
    """
    lam_a = _as_positive_array("lam", lam)
    eta_a = _as_positive_array("eta", eta)
    th = np.abs(_as_finite_array("theta0", theta0))
    r_a = _as_positive_array("radius", radius)
    lam_a, eta_a, th, r_a = np.broadcast_arrays(lam_a, eta_a, th, r_a)
    out = np.zeros(th.shape, dtype=np.float64)
    out[th == 0] = np.inf
    inside = (th < r_a) & (th > 0)
    out[inside] = (np.log(r_a[inside]) - np.log(th[inside])) / (eta_a[inside] * lam_a[inside])
    return _scalar_or_array(out)


def gd_escape_steps_reference(
    lam: float, eta: float, theta0: float, radius: float, *, max_steps: int = _MAX_REFERENCE_STEPS
) -> float:
    """Slow reference: iterate ``θ ← θ − η f'(θ) = θ + ηλθ`` until ``|θ| ≥ R``.

    Returns the step count (float), ``inf`` if ``θ₀ = 0``; raises if ``max_steps`` is exceeded.

    >>> gd_escape_steps_reference(1.0, 1.0, 0.25, 1.0)
    2.0
    """
    lam_f = check_positive("lam", lam)
    eta_f = check_positive("eta", eta)
    th = abs(float(_as_finite_array("theta0", theta0)))
    r = check_positive("radius", radius)
    if th == 0.0:
        return math.inf
    t = 0
    while th < r:
        grad = -lam_f * th  # f'(θ) = −λθ
        th = th - eta_f * grad
        t += 1
        if t > max_steps:
            raise ValueError(f"max_steps={max_steps} exceeded; raise max_steps")
    return float(t)


def sign_escape_steps(eta: ArrayLike, theta0: ArrayLike, radius: ArrayLike) -> Any:
    """Exact steps of the sign step ``θ ← θ + η sign θ`` to leave ``|θ| < R``.

    ``|θ_t| = |θ₀| + tη`` (the step is ``−η sign f'(θ) = η sign θ``), so
    ``T = ⌈(R − |θ₀|)/η⌉`` for ``0 < |θ₀| < R``, 0 if ``|θ₀| ≥ R`` and ∞ if ``θ₀ = 0``;
    λ does not enter [derived]. This is signSGD, Adam with ``β₁ = β₂ = 0, ε = 0`` and the
    ``ε → 0`` limit of Adam's first step. A tie correction makes the count agree with
    floating-point iteration when ``(R − |θ₀|)/η`` is (close to) an integer.

    >>> float(sign_escape_steps(0.1, 1e-3, 1.0))
    10.0
    """
    eta_a = _as_positive_array("eta", eta)
    th = np.abs(_as_finite_array("theta0", theta0))
    r_a = _as_positive_array("radius", radius)
    eta_a, th, r_a = np.broadcast_arrays(eta_a, th, r_a)
    out = np.zeros(th.shape, dtype=np.float64)
    out[th == 0] = np.inf
    inside = (th < r_a) & (th > 0)
    if np.any(inside):
        e, t0, r = eta_a[inside], th[inside], r_a[inside]
        t = np.maximum(np.ceil((r - t0) / e), 1.0)
        t = np.where((t > 1) & (t0 + (t - 1.0) * e >= r), t - 1.0, t)
        t = np.where(t0 + t * e < r, t + 1.0, t)
        out[inside] = t
    return _scalar_or_array(out)


def sign_escape_steps_reference(
    eta: float, theta0: float, radius: float, *, max_steps: int = _MAX_REFERENCE_STEPS
) -> float:
    """Slow reference: iterate ``θ ← θ − η sign f'(θ)`` (``f' = −λθ``, any λ > 0).

    >>> sign_escape_steps_reference(0.1, 1e-3, 1.0)
    10.0
    """
    eta_f = check_positive("eta", eta)
    th = float(_as_finite_array("theta0", theta0))
    r = check_positive("radius", radius)
    if th == 0.0:
        return math.inf
    t = 0
    while abs(th) < r:
        th = th - eta_f * math.copysign(1.0, -th)
        t += 1
        if t > max_steps:
            raise ValueError(f"max_steps={max_steps} exceeded; raise max_steps")
    return float(t)


def rmsprop_escape_bounds(
    eta: ArrayLike, theta0: ArrayLike, radius: ArrayLike, beta: float
) -> tuple[Any, Any]:
    """λ-free bounds ``(lower, upper)`` on RMSprop's escape time from ``f = −(λ/2)θ²``.

    RMSprop with ``ε = 0`` and ``v₀ = 0``: ``v_t = βv_{t−1} + (1−β)g_t²``,
    ``θ_{t+1} = θ_t − η g_t/√v̂_t`` with ``v̂_t = v_t`` or the bias-corrected
    ``v_t/(1−β^t)``. Here ``g_t = −λθ_t`` keeps one sign and ``|g_t|`` increases, so
    ``(1−β)g_t² ≤ v_t ≤ (1−β^t) g_t² ≤ g_t²`` and the same for ``v̂_t``; hence every step
    has magnitude in ``[η, η/√(1−β)]`` and ``|θ_t| − |θ₀| ∈ [tη, tη/√(1−β)]`` [derived]:
    ``⌈√(1−β)(R−|θ₀|)/η⌉ ≤ T ≤ ⌈(R−|θ₀|)/η⌉`` — the upper bound is the sign step's count.

    Args:
        eta: step size η > 0.
        theta0: starting point.
        radius: R > 0.
        beta: second-moment decay β ∈ [0, 1).

    >>> rmsprop_escape_bounds(0.1, 1e-3, 1.0, 0.99)
    (1.0, 10.0)
    """
    b = check_probability("beta", beta, open_interval=False)
    if b >= 1.0:
        raise ValueError(f"beta must lie in [0, 1), got {beta!r}")
    upper = np.asarray(sign_escape_steps(eta, theta0, radius), dtype=np.float64)
    lower = np.asarray(
        sign_escape_steps(np.asarray(eta, dtype=np.float64) / math.sqrt(1.0 - b), theta0, radius),
        dtype=np.float64,
    )
    return _scalar_or_array(lower), _scalar_or_array(upper)


def rmsprop_escape_steps_reference(
    lam: float,
    eta: float,
    theta0: float,
    radius: float,
    beta: float,
    *,
    eps: float = 0.0,
    bias_correction: bool = False,
    max_steps: int = _MAX_REFERENCE_STEPS,
) -> float:
    """Slow reference: iterate RMSprop on ``f = −(λ/2)θ²`` until ``|θ| ≥ R``.

    ``v ← βv + (1−β)g²``, ``θ ← θ − η g/(√v̂ + ε)`` with ``g = −λθ``, ``v₀ = 0`` (torch's
    RMSprop has no bias correction; ``bias_correction=True`` divides v by ``1 − β^t``).

    >>> rmsprop_escape_steps_reference(1.0, 0.1, 1e-3, 1.0, 0.0)
    10.0
    """
    lam_f = check_positive("lam", lam)
    eta_f = check_positive("eta", eta)
    th = float(_as_finite_array("theta0", theta0))
    r = check_positive("radius", radius)
    b = check_probability("beta", beta, open_interval=False)
    if b >= 1.0:
        raise ValueError(f"beta must lie in [0, 1), got {beta!r}")
    e = check_positive("eps", eps, allow_zero=True)
    if th == 0.0:
        return math.inf
    v = 0.0
    t = 0
    while abs(th) < r:
        g = -lam_f * th
        v = b * v + (1.0 - b) * g * g
        vhat = v / (1.0 - b ** (t + 1)) if bias_correction else v
        th = th - eta_f * g / (math.sqrt(vhat) + e)
        t += 1
        if t > max_steps:
            raise ValueError(f"max_steps={max_steps} exceeded; raise max_steps")
    return float(t)


def adam_escape_bounds(
    eta: ArrayLike, theta0: ArrayLike, radius: ArrayLike, beta1: float, beta2: float
) -> tuple[Any, Any]:
    """λ-free bounds ``(lower, upper)`` on Adam's escape time from ``f = −(λ/2)θ²``.

    Adam with ``ε = 0``, bias correction, ``m₀ = v₀ = 0``: ``m̂_t = Σ_k w_k g_k``,
    ``v̂_t = Σ_k u_k g_k²`` with normalised weights ``w_t = (1−β₁)/(1−β₁^t) ≥ 1−β₁`` and
    ``u_t = (1−β₂)/(1−β₂^t) ≥ 1−β₂`` on the newest gradient. Every step points outwards, so the
    ``g_k = −λθ_k`` share one sign and ``|g_k|`` increases: ``w_t|g_t| ≤ |m̂_t| ≤ |g_t|`` and
    ``u_t g_t² ≤ v̂_t ≤ g_t²``. Hence the step magnitude lies in
    ``[η(1−β₁), η/√(1−β₂)]`` and ``⌈√(1−β₂)(R−|θ₀|)/η⌉ ≤ T ≤ ⌈(R−|θ₀|)/(η(1−β₁))⌉``
    [derived].

    >>> adam_escape_bounds(0.01, 1.5e-3, 1.0, 0.9, 0.999)
    (4.0, 999.0)
    """
    b1 = check_probability("beta1", beta1, open_interval=False)
    b2 = check_probability("beta2", beta2, open_interval=False)
    if b1 >= 1.0:
        raise ValueError(f"beta1 must lie in [0, 1), got {beta1!r}")
    if b2 >= 1.0:
        raise ValueError(f"beta2 must lie in [0, 1), got {beta2!r}")
    eta_a = _as_positive_array("eta", eta)
    upper = np.asarray(sign_escape_steps(eta_a * (1.0 - b1), theta0, radius), dtype=np.float64)
    lower = np.asarray(
        sign_escape_steps(eta_a / math.sqrt(1.0 - b2), theta0, radius), dtype=np.float64
    )
    return _scalar_or_array(lower), _scalar_or_array(upper)


def adam_escape_steps_reference(
    lam: float,
    eta: float,
    theta0: float,
    radius: float,
    beta1: float,
    beta2: float,
    *,
    eps: float = 0.0,
    max_steps: int = _MAX_REFERENCE_STEPS,
) -> float:
    """Slow reference: iterate Adam (bias-corrected, as in torch) on ``f = −(λ/2)θ²``.

    >>> adam_escape_steps_reference(1.0, 0.1, 1e-3, 1.0, 0.0, 0.0)
    10.0
    """
    lam_f = check_positive("lam", lam)
    eta_f = check_positive("eta", eta)
    th = float(_as_finite_array("theta0", theta0))
    r = check_positive("radius", radius)
    b1 = check_probability("beta1", beta1, open_interval=False)
    b2 = check_probability("beta2", beta2, open_interval=False)
    if b1 >= 1.0 or b2 >= 1.0:
        raise ValueError(f"beta1 and beta2 must lie in [0, 1), got {beta1!r}, {beta2!r}")
    e = check_positive("eps", eps, allow_zero=True)
    if th == 0.0:
        return math.inf
    m = v = 0.0
    t = 0
    while abs(th) < r:
        g = -lam_f * th
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * g * g
        mhat = m / (1.0 - b1 ** (t + 1))
        vhat = v / (1.0 - b2 ** (t + 1))
        th = th - eta_f * mhat / (math.sqrt(vhat) + e)
        t += 1
        if t > max_steps:
            raise ValueError(f"max_steps={max_steps} exceeded; raise max_steps")
    return float(t)


# ---------------------------------------------------------------------------------------------
# Depth-L chains
# ---------------------------------------------------------------------------------------------


def _prefix_suffix(w: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """pre[..., k] = prod_{m<k} w_m, suf[..., k] = prod_{m>=k} w_m (length L+1 each)."""
    shape = w.shape[:-1] + (1,)
    ones = np.ones(shape)
    pre = np.concatenate([ones, np.cumprod(w, axis=-1)], axis=-1)
    suf = np.concatenate([np.cumprod(w[..., ::-1], axis=-1)[..., ::-1], ones], axis=-1)
    return pre, suf


def chain_hessian(weights: ArrayLike, x: float = 1.0, y: float = 1.0) -> NDArray[np.float64]:
    """Exact Hessian of ``ℓ = ½(P x − y)²`` for a linear chain, ``P = w_L ⋯ w_1``.

    ``H_ii = x² P_{−i}²``, ``H_ij = x² P_{−i} P_{−j} + r x P_{−ij}`` (i ≠ j), ``r = Px − y``
    (docs/theory/vc-signal.md#chain-derivatives-derived) [derived]. Products without the
    excluded factors are formed from prefix, middle and suffix products, so zero weights are
    handled exactly (no ``1/w``).

    Args:
        weights: array of shape ``(..., L)``, ``L ≥ 2``; leading axes are independent chains.
        x: input, y: target.

    Returns:
        array of shape ``(..., L, L)``.

    >>> chain_hessian([2.0, 3.0], x=1.0, y=1.0).tolist()  # r = 5
    [[9.0, 11.0], [11.0, 4.0]]
    """
    w = _as_finite_array("weights", weights)
    if w.ndim < 1 or w.shape[-1] < 2:
        raise ValueError(f"weights must have shape (..., L) with L >= 2, got shape {w.shape}")
    xf = float(_as_finite_array("x", x))
    yf = float(_as_finite_array("y", y))
    L = w.shape[-1]
    pre, suf = _prefix_suffix(w)
    p = pre[..., L]
    r = p * xf - yf
    p_minus = pre[..., :L] * suf[..., 1:]  # P_{-i}
    # P_{-ij} for i<j: pre[i] * prod_{i<m<j} w_m * suf[j+1]
    # middle products via cumprod over the strict interior, built per i (O(L^2) memory).
    h = np.empty(w.shape + (L,), dtype=np.float64)
    outer = xf * xf * p_minus[..., :, None] * p_minus[..., None, :]
    h[...] = outer
    for i in range(L):
        mid = np.ones(w.shape[:-1])
        for j in range(i + 1, L):
            pij = pre[..., i] * mid * suf[..., j + 1]
            val = outer[..., i, j] + r * xf * pij
            h[..., i, j] = val
            h[..., j, i] = val
            mid = mid * w[..., j]
    return h


def chain_hessian_reference(weights: ArrayLike, x: float = 1.0, y: float = 1.0) -> NDArray[Any]:
    """Slow reference for :func:`chain_hessian` (one chain): direct products per entry.

    >>> chain_hessian_reference([2.0, 3.0]).tolist()
    [[9.0, 11.0], [11.0, 4.0]]
    """
    w = [float(v) for v in np.asarray(weights, dtype=np.float64).ravel()]
    L = len(w)
    if L < 2:
        raise ValueError(f"weights must have length >= 2, got {L}")
    p = math.prod(w)
    r = p * x - y
    h = np.zeros((L, L))
    for i in range(L):
        for j in range(L):
            pi = math.prod(w[k] for k in range(L) if k != i)
            pj = math.prod(w[k] for k in range(L) if k != j)
            if i == j:
                h[i, i] = x * x * pi * pi
            else:
                pij = math.prod(w[k] for k in range(L) if k not in (i, j))
                h[i, j] = x * x * pi * pj + r * x * pij
    return h


def chain_plateau_curvature(weights: ArrayLike, x: float = 1.0, y: float = 1.0) -> Any:
    """Plateau curvature ``max(0, −λ_min(H))`` of the chain loss at ``weights``.

    The most negative Hessian eigenvalue is the rate of GD's escape from the flat saddle
    (linearised dynamics ``δ ← (I − ηH)δ`` grow like ``(1 + η|λ_min|)^t``), so GD's escape time
    ``≈ log(R/|δ₀|)/(η |λ_min|)`` by :func:`gd_escape_steps_asymptotic` [derived, leading order].
    At init ``|P| ≪ 1``, ``r ≈ −y`` and ``|λ_min|`` is of the order of the largest
    ``|x y P_{−ij}|`` [derived, heuristic scale].

    >>> round(float(chain_plateau_curvature([0.1, 0.1, 0.1])), 6)  # H ≈ −0.0999 (J − I)
    0.1995
    """
    h = chain_hessian(weights, x, y)
    lam_min = np.linalg.eigvalsh(h)[..., 0]
    return _scalar_or_array(np.maximum(0.0, -lam_min))


def log_abs_weight_cumulants(sigma: float, law: str = "normal") -> tuple[float, float, float]:
    """First three cumulants ``(κ₁, κ₂, κ₃)`` of ``log|w|``.

    * ``w ~ N(0, σ²)``: ``κ₁ = log σ − (γ + log 2)/2``, ``κ_r = ψ^{(r−1)}(½)/2^r`` (r ≥ 2):
      ``κ₂ = π²/8``, ``κ₃ = −14ζ(3)/8`` [derived: ``log|w| = log σ + ½ log(2G)``,
      ``G ~ Gamma(½, 1)``, whose log has cumulants ``ψ^{(r−1)}(½)``].
    * ``w ~ U(−a, a)`` (``sigma`` is ``a``): ``−log(|w|/a) ~ Exp(1)``:
      ``κ₁ = log a − 1``, ``κ₂ = 1``, ``κ₃ = −2`` [ref].

    Both from :mod:`flatstart.theory.log_moments` (i.e. ``Law.log_cumulant``).

    >>> [round(v, 6) for v in log_abs_weight_cumulants(1.0)]
    [-0.635181, 1.233701, -2.1036]
    """
    s = check_positive("sigma", sigma)
    check_choice("law", law, ["normal", "uniform"])
    m = gaussian_log_abs_moments(s) if law == "normal" else uniform_log_abs_moments(s)
    return m.mean, m.variance, m.kappa3


def escape_log_slope(sigma: float, law: str = "normal") -> float:
    """Predicted ``d log(median GD escape time)/dL`` in a depth-L chain: ``−E log|w|``.

    ``= −(log σ − (γ + log 2)/2)`` for ``N(0, σ²)`` and ``1 − log a`` for ``U(−a, a)``
    (``sigma`` is ``a``) [derived]. Exact as the limit ``L → ∞`` of the increments of
    ``−log median|P_{−ij}|`` (the median of a sum of iid terms is ``Lκ₁ + c + o(1)``); the link
    escape time ∝ ``1/|P_{−ij}|`` is the leading-order plateau model.

    >>> round(escape_log_slope(1.0), 6)
    0.635181
    >>> round(escape_log_slope(1.0, "uniform"), 6)
    1.0
    """
    return -log_abs_weight_cumulants(sigma, law)[0]


def log_median_pair_product(
    depth: int, sigma: float, law: str = "normal", method: str = "auto"
) -> float:
    """``log median |P_{−ij}|``: log-median of a product of ``n = L − 2`` iid ``|w|``.

    * ``law="uniform"`` (``w ~ U(−a, a)``, ``sigma`` is ``a``): exact,
      ``n log a − ν(n)``, ``ν(n)`` the median of Gamma(n, 1)
      [derived; docs/theory/vc-signal.md#medians-of-chains-derived].
    * ``law="normal"``: ``method="leading"`` gives ``n κ₁``; ``"cornish_fisher"`` (default for
      ``auto``) adds the one-term Cornish–Fisher shift ``−κ₃/(6κ₂)`` of the median of a sum
      of iid terms (error ``O(1/n)``) [derived].

    ``depth = 2`` gives 0 (empty product).

    >>> log_median_pair_product(2, 1.0)
    0.0
    >>> round(log_median_pair_product(12, 1.0, "uniform"), 6)  # −ν(10)
    -9.668715
    """
    L = check_int("depth", depth, minimum=2)
    check_choice("law", law, ["normal", "uniform"])
    check_choice("method", method, ["auto", "leading", "cornish_fisher", "exact"])
    n = L - 2
    if n == 0:
        return 0.0
    k1, k2, k3 = log_abs_weight_cumulants(sigma, law)
    if law == "uniform":
        if method in ("auto", "exact"):
            return n * (k1 + 1.0) - float(st.gamma.ppf(0.5, n))
        if method == "leading":
            return n * k1
        return n * k1 - k3 / (6.0 * k2)
    if method == "exact":
        raise ValueError(
            "method='exact' is not implemented for law='normal' here (use "
            "flatstart.theory.products for "
            "the Meijer-G median); choose 'leading' or 'cornish_fisher'"
        )
    if method == "leading":
        return n * k1
    return n * k1 - k3 / (6.0 * k2)


def sgd_median_escape_growth(depth: int, sigma: float, law: str = "normal") -> float:
    """Predicted ``log median(GD escape time)`` at depth L, up to an L-independent constant.

    ``= −log median |P_{−ij}| = −(L−2) E log|w| + O(1)`` (see
    :func:`log_median_pair_product`); differences between depths give the exponential growth
    rate :func:`escape_log_slope` [derived, leading order in the plateau model].

    >>> round(sgd_median_escape_growth(12, 1.0) - sgd_median_escape_growth(11, 1.0), 6)
    0.635181
    """
    return -log_median_pair_product(depth, sigma, law)


# ---------------------------------------------------------------------------------------------
# Plateau curvature and escape time: the -2 log L correction
# ---------------------------------------------------------------------------------------------


def _abs_weight_scale(sigma: float, law: str) -> float:
    """``s = 1/f_{|w|}(0)``: ``P(|w| < t) = t/s + O(t³)`` (``σ√(π/2)`` normal, ``a`` uniform)."""
    return sigma * math.sqrt(math.pi / 2.0) if law == "normal" else sigma


def smallest_abs_weight_log_mean(
    depth: int, sigma: float = 1.0, law: str = "normal", k: int = 1, method: str = "exact"
) -> float:
    """``E log |w|₍ₖ₎``: log-mean of the k-th smallest of ``L`` iid ``|w|``.

    ``F(|w|₍ₖ₎) ~ Beta(k, L + 1 − k)`` (uniform order statistics, [ref] David & Nagaraja,
    *Order Statistics*, §2.1), with ``F`` the cdf of ``|w|``; hence
    ``E log|w|₍ₖ₎ = ∫₀¹ log F⁻¹(u) Beta(u; k, L+1−k) du``:

    * ``law="uniform"`` (``w ~ U(−a, a)``, ``sigma`` is ``a``): ``F⁻¹(u) = a u``, exactly
      ``log a + ψ(k) − ψ(L + 1)``.
    * ``law="normal"``: ``F⁻¹(u) = σ√2 erfinv(u)``; ``method="exact"`` integrates numerically,
      ``method="asymptotic"`` uses ``F⁻¹(u) = s u (1 + O(u²))``, ``s = σ√(π/2)``:
      ``log s + ψ(k) − ψ(L+1) + O(k²/L²)`` [derived].

    As ``L → ∞``, ``ψ(L+1) = log L + O(1/L)``: the two smallest weights together contribute
    ``−2 log L + 2 log s + ψ(1) + ψ(2)`` (``ψ(1) + ψ(2) = 1 − 2γ``).

    Args:
        depth: number of weights L ≥ 1.
        sigma: σ (normal) or the half-width a (uniform), > 0.
        law: ``"normal"`` or ``"uniform"``.
        k: order 1 ≤ k ≤ L.
        method: ``"exact"`` or ``"asymptotic"``.

    >>> round(smallest_abs_weight_log_mean(10, 2.0, "uniform", 1), 6)  # log 2 − γ − ψ(11)
    -2.235821
    >>> round(smallest_abs_weight_log_mean(1, 1.0), 6)  # E log|w| = −(γ + log 2)/2
    -0.635181
    """
    L = check_int("depth", depth, minimum=1)
    s = check_positive("sigma", sigma)
    check_choice("law", law, ["normal", "uniform"])
    kk = check_int("k", k, minimum=1, maximum=L)
    check_choice("method", method, ["exact", "asymptotic"])
    base = float(sc.digamma(kk) - sc.digamma(L + 1))
    if law == "uniform" or method == "asymptotic":
        return math.log(_abs_weight_scale(s, law)) + base
    a_, b_ = float(kk), float(L + 1 - kk)
    # E log F^{-1}(U) = E log(s U) + E log(F^{-1}(U)/(s U)); the second factor is smooth,
    # bounded and -> 1 as U -> 0, so only it is integrated numerically.
    scale = _abs_weight_scale(s, law)

    def integrand(u: float) -> float:
        if u <= 0.0:
            return 0.0
        if u >= 1.0:
            return 0.0
        ratio = math.sqrt(2.0) * s * float(sc.erfinv(u)) / (scale * u)
        return math.log(ratio) * float(st.beta.pdf(u, a_, b_))

    mode = (a_ - 1.0) / (a_ + b_ - 2.0) if a_ + b_ > 2.0 else 0.5
    pts = sorted({min(max(mode, 1e-12), 1.0 - 1e-12), a_ / (a_ + b_)})
    corr, _ = si.quad(integrand, 0.0, 1.0, points=pts, limit=400, epsabs=1e-13, epsrel=1e-11)
    return math.log(scale) + base + float(corr)


def plateau_spread_constant(method: str = "secular") -> float:
    """``L → ∞`` log-mean of the factor by which ``|λ_min|`` exceeds ``max_{i≠j}|P_{−ij}|``.

    [derived] Rescale the smallest weights, ``L|w|₍ₖ₎/s → Γ_k`` (points of a rate-1 Poisson
    process; any law with a positive density at 0). In the plateau approximation
    ``H ≈ P(diag v² − vvᵀ)`` (:func:`chain_curvature_log_median`),
    ``|λ_min| = |P|(L/s)² M`` where ``M`` is the root of the secular equation
    ``Σ_k 1/(1 + MΓ_k²) = 1`` when ``P > 0`` (``M₊ ∈ (0, ∞)``) and of
    ``Σ_k 1/(1 − MΓ_k²) = 1`` on ``(1/Γ₂², 1/Γ₁²)`` when ``P < 0`` (``M₋``); keeping only
    ``k ≤ 2`` gives ``M = 1/(Γ₁Γ₂)`` in both cases (``max|P_{−ij}|``), and the other terms only
    increase ``M`` (Cauchy interlacing). The sign of ``P`` is a fair coin independent of
    ``|w|``, so the constant is ``c = ½(E log(M₊Γ₁Γ₂) + E log(M₋Γ₁Γ₂))``.

    * ``method="secular"``: ``c = 0.4985 ± 0.0004`` (``E R₊ = 0.7944``, ``E R₋ = 0.2026``):
      numerical evaluation of this expectation (4·10⁵ draws of the Poisson process, 300 points
      plus the integral tail; :func:`plateau_spread_constant_reference` recomputes it). No
      closed form is known here.
    * ``method="closed_form"``: the approximation ``ρ₁ ≫ ρ₂`` of both roots,
      ``M ≈ √(ρ₁Σ_{k≥2}ρ_k)`` (``ρ_k = Γ_k^{−2}``), whose log-mean is exactly
      ``c_R = ½ ∫₀^∞ (1 − (1 + Λ(t))^{−2}) e^{−t}/t dt = 0.483447…`` with
      ``Λ(t) = √(πt) erf(√t) − 1 + e^{−t}`` (Laplace functional of the Poisson process given
      ``Γ₂ ~ Gamma(2, 1)`` and Frullani's ``log(1 + X) = ∫(1 − e^{−tX})e^{−t}/t dt``);
      about 0.015 below the secular value.

    >>> plateau_spread_constant()
    0.4985
    >>> round(plateau_spread_constant("closed_form"), 6)
    0.483447
    """
    check_choice("method", method, ["secular", "closed_form"])
    return PLATEAU_SPREAD_CONSTANT if method == "secular" else _CLOSED_FORM_SPREAD


def _plateau_spread_constant_quad() -> float:
    def lam(t: float) -> float:
        if t < 1e-6:  # series: Λ(t) = t − t²/6 + O(t³)
            return t - t * t / 6.0
        return math.sqrt(math.pi * t) * math.erf(math.sqrt(t)) - 1.0 + math.exp(-t)

    def f(t: float) -> float:
        if t == 0.0:
            return 2.0  # limit: (1 − (1 + Λ)^{−2})/t → 2Λ'(0) = 2
        return (1.0 - (1.0 + lam(t)) ** -2) * math.exp(-t) / t

    v1, _ = si.quad(f, 0.0, 1.0, epsabs=1e-14, epsrel=1e-12, limit=200)
    v2, _ = si.quad(f, 1.0, np.inf, epsabs=1e-14, epsrel=1e-12, limit=200)
    return 0.5 * (v1 + v2)


_CLOSED_FORM_SPREAD: float = _plateau_spread_constant_quad()
#: ½(E log M₊Γ₁Γ₂ + E log M₋Γ₁Γ₂), numerical (standard error 4e-4); see plateau_spread_constant.
PLATEAU_SPREAD_CONSTANT: float = 0.4985


def plateau_spread_constant_reference(
    samples: int = 20_000, points: int = 300, seed: int = 0
) -> tuple[float, float]:
    """Slow reference: ``(estimate, standard error)`` of :func:`plateau_spread_constant`.

    Draws ``samples`` Poisson processes (``points`` points each, the rest of the sums replaced
    by their integrals ``∫_{Γ_K}^∞ dx/(1 ± Mx²)``), solves both secular equations by bisection
    and averages ``½(log M₊Γ₁Γ₂ + log M₋Γ₁Γ₂)`` [derived; numerical].

    >>> est, se = plateau_spread_constant_reference(2_000, 100, seed=1)
    >>> abs(est - 0.4985) < 5 * se
    True
    """
    m = check_int("samples", samples, minimum=10)
    k = check_int("points", points, minimum=10)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    g = np.cumsum(rng.exponential(size=(m, k)), axis=1)
    g2 = g * g
    gk = g[:, -1]

    def f_plus(mm: NDArray[np.float64]) -> NDArray[np.float64]:
        sm = np.sqrt(mm)
        tail = (0.5 * math.pi - np.arctan(sm * gk)) / sm
        out: NDArray[np.float64] = np.sum(1.0 / (1.0 + mm[:, None] * g2), axis=1) + tail - 1.0
        return out

    def f_minus(mm: NDArray[np.float64]) -> NDArray[np.float64]:
        sm = np.sqrt(mm)
        tail = -np.log((sm * gk + 1.0) / (sm * gk - 1.0)) / (2.0 * sm)
        out: NDArray[np.float64] = np.sum(1.0 / (1.0 - mm[:, None] * g2), axis=1) + tail - 1.0
        return out

    lo, hi = np.full(m, -60.0), np.full(m, 30.0)  # log M₊; f_plus decreases in M
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        pos = f_plus(np.exp(mid)) > 0
        lo, hi = np.where(pos, mid, lo), np.where(pos, hi, mid)
    m_plus = np.exp(0.5 * (lo + hi))
    a, b = 1.0 / g2[:, 1], 1.0 / g2[:, 0]  # M₋ ∈ (a, b); f_minus increases in M there
    lo, hi = np.zeros(m), np.ones(m)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        neg = f_minus(a + (b - a) * mid) < 0
        lo, hi = np.where(neg, mid, lo), np.where(neg, hi, mid)
    m_minus = a + (b - a) * 0.5 * (lo + hi)
    base = np.log(g[:, 0] * g[:, 1])
    r = 0.5 * (np.log(m_plus) + base) + 0.5 * (np.log(m_minus) + base)
    return float(np.mean(r)), float(np.std(r, ddof=1) / math.sqrt(m))


def chain_curvature_log_median(
    depth: int, sigma: float = 1.0, law: str = "normal", method: str = "asymptotic"
) -> float:
    """``log median |λ_min(H)|`` of a depth-L chain's loss Hessian at a random init (x = y = 1).

    [derived] At init ``|P| ≪ 1`` and ``r = P − 1 ≈ −1``, so with ``v_i = 1/w_i``
    ``H = P²vvᵀ + rP(vvᵀ − diag v²) ≈ P(diag v² − vvᵀ)``
    (docs/theory/vc-curvature.md#hessian-structure-derived); ``diag v² − vvᵀ`` has
    zero diagonal and off-diagonal ``−v_iv_j`` (so ``|P v_i v_j| = |P_{−ij}|``). Its eigenvalues
    ``μ`` solve ``Σ v_i²/(v_i² − μ) = 1``; with ``ρ_k = 1/|w|₍ₖ₎²`` and ``ρ₁ ≫ ρ₂ ≫ …`` the
    extreme roots are ``±√(ρ₁ Σ_{k≥2} ρ_k)``, so for either sign of ``P``

    ``|λ_min| ≈ |P|/(|w|₍₁₎|w|₍₂₎) · √(1 + Σ_{k≥3} (|w|₍₂₎/|w|₍ₖ₎)²)``; in general
    ``|λ_min| = |P|/(|w|₍₁₎|w|₍₂₎) · e^R`` with ``R ≥ 0`` the log of the secular root of
    :func:`plateau_spread_constant` (``R ≥ 0`` exactly: Cauchy interlacing with the 2×2 block
    on the two smallest weights, whose eigenvalues are ``≈ ±|P_{−(1)(2)}|``).

    ``log|P|`` has spread ``√(Lκ₂)`` and ``− log|w|₍₁₎|w|₍₂₎ + R`` is ``O(1)``, so
    the median is ``median log|P| − E log|w|₍₁₎|w|₍₂₎ + E R + O(L^{−1/2})``:

    ``κ₁L − κ₃/(6κ₂) − 2 log s − ψ(1) − ψ(2) + ψ(L+1)·2 + c``

    (normal: Cornish–Fisher median of ``log|P|``; uniform: the exact ``L log a − ν(L)``;
    ``s = σ√(π/2)`` normal, ``a`` uniform; ``c`` = :func:`plateau_spread_constant` (0.4985); with
    ``ψ(L+1) ≈ log L`` this is ``κ₁L + 2 log L + O(1)``). ``method="exact_order"`` uses the
    exact finite-L order-statistic log-means (:func:`smallest_abs_weight_log_mean`) instead.
    Checked against numpy eigenvalues of closed-form chain Hessians: error ``O(L^{−1/2})``,
    ≈ 0.20 at L = 14, 0.13 at L = 30, within the Monte Carlo noise (±0.1) at L = 60, 100.

    >>> round(chain_curvature_log_median(60), 2)
    -29.42
    """
    L = check_int("depth", depth, minimum=3)
    s = check_positive("sigma", sigma)
    check_choice("law", law, ["normal", "uniform"])
    check_choice("method", method, ["asymptotic", "exact_order"])
    k1, k2, k3 = log_abs_weight_cumulants(s, law)
    if law == "uniform":
        med_log_p = L * math.log(s) - float(st.gamma.ppf(0.5, L))
    else:
        med_log_p = L * k1 - k3 / (6.0 * k2)
    m = "exact" if method == "exact_order" else "asymptotic"
    two_smallest = smallest_abs_weight_log_mean(L, s, law, 1, m) + smallest_abs_weight_log_mean(
        L, s, law, 2, m
    )
    return med_log_p - two_smallest + PLATEAU_SPREAD_CONSTANT


def chain_escape_log_median(
    depth: int, sigma: float = 1.0, law: str = "normal", lr: float = 1.0,
    method: str = "asymptotic",
) -> float:
    """``log median`` of GD's escape time from a chain's plateau, up to an L-free constant.

    ``= −log η − log median|λ_min|`` (:func:`chain_curvature_log_median`)
    ``= −κ₁L − 2 log L + const + o(1)`` [derived, plateau model]. Gradient flow conserves
    ``w_i² − w_j²``; with ``w_i(t)² = w_i(0)² + c(t)`` and ``ċ = −2rP ≈ 2P`` the time to leave
    the plateau is ``J/(2|P_{−(1)(2)}|)`` with ``J`` an ``O(1)`` random factor whose law depends
    on the ratios ``|w|₍ₖ₎/|w|₍₂₎`` and the loss threshold but not on L as ``L → ∞``; so
    ``log median T = log(1/(η median|λ_min|)) + c_J + o(1)``. The additive ``c_J`` is *not*
    derived (a numpy GD simulation gives ``c_J ≈ 0.5`` for threshold ½(f−y)² < 0.4, η = 0.2,
    stable over L = 6…14); only differences between depths are predictions.

    >>> d = chain_escape_log_median(14) - chain_escape_log_median(6)
    >>> round(d, 4)  # = 8·0.635181 − 2(ψ(15) − ψ(7))
    3.4783
    """
    eta = check_positive("lr", lr)
    return -math.log(eta) - chain_curvature_log_median(depth, sigma, law, method)


def chain_escape_log_slope(sigma: float = 1.0, law: str = "normal") -> float:
    """Slope in L of ``log median T + 2 log L`` as ``L → ∞``: ``−κ₁ = −E log|w|`` [derived].

    Equal to :func:`escape_log_slope`; the ``−2 log L`` comes from the two smallest ``|w|``
    (:func:`chain_curvature_log_median`), so the raw slope of ``log median T`` over a finite
    depth range is smaller by ``2 Δlog L/ΔL``.

    >>> round(chain_escape_log_slope(1.0), 6)
    0.635181
    """
    return escape_log_slope(sigma, law)
