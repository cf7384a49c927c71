"""Gradient confusion (GC: Sankararaman, De, Xu, Huang, Goldstein, ICML 2020).

Definition [paper]: ``{f_i}`` has confusion bound ``η ≥ 0`` at ``w`` if
``⟨∇f_i(w), ∇f_j(w)⟩ ≥ −η`` for all ``i ≠ j``.

Contents:

* :func:`confusion_bound_holds`, :func:`confusion_eta` — the definition on a Gram matrix.
* Linear model at ``w = 0`` with inputs uniform on ``S^{d−1}`` and labels independent of the
  inputs: the cosine of two per-sample gradients has ``(1 + cos)/2 ~ Beta((d−1)/2, (d−1)/2)``
  (:func:`linear_cosine_law`) and the union bound on the probability of η-confusion for N
  samples (:func:`linear_confusion_probability_bound`) [derived].
* Deep linear nets with an isometric first layer and orthogonal square layers:
  ``cos(∇ℓ_i, ∇ℓ_j) = sign(r_i r_j)⟨x̂_i, x̂_j⟩`` at every depth, for the full parameter gradient
  and for every layer's block (:func:`orthogonal_linear_cosine`) [derived]; slow reference
  :func:`deep_linear_per_sample_gradients`.
* SGD bounds under confusion: Theorem 3.1 [paper], Theorem 3.2 as printed (refutable) and in
  corrected form [derived], with exact left-hand sides for finite sums of diagonal quadratics
  (:class:`QuadraticFiniteSum`).

Setting of the SGD theorems (reconstructed and re-derived here): ``F = (1/N) Σ_i f_i``, each
``f_i`` L-smooth, single-sample SGD ``w_{k+1} = w_k − α∇f_{i_k}(w_k)`` with ``i_k`` uniform
on ``{1..N}``, confusion bound η at every iterate. Key step (descent lemma for the L-smooth F and
``⟨∇F, ∇f_i⟩ = ‖∇f_i‖²/N + (1/N)Σ_{j≠i}⟨∇f_j, ∇f_i⟩ ≥ ‖∇f_i‖²/N − (N−1)η/N``):

``E_i F(w_{k+1}) ≤ F(w_k) − (1/N)(α − NLα²/2) E_i‖∇f_i(w_k)‖² + αη(N−1)/N``,

and ``E_i‖∇f_i‖² ≥ ‖∇F‖²`` (Jensen) [derived]. With μ-PL (``‖∇F‖² ≥ 2μ(F − F*)``) this is
Theorem 3.1 (whose additive ``αη`` is ≥ the derived ``αη(N−1)/N``); telescoping without PL
gives the corrected Theorem 3.2.

Derivations, step by step: docs/theory/gc.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.stats as st
from numpy.typing import ArrayLike, NDArray

from flatstart._checks import check_int, check_positive

__all__ = [
    "QuadraticFiniteSum",
    "confusion_bound_holds",
    "confusion_eta",
    "deep_linear_per_sample_gradients",
    "gradient_cosines",
    "linear_confusion_failure_probability",
    "linear_confusion_probability_bound",
    "linear_cosine_law",
    "orthogonal_linear_cosine",
    "sgd_bound_thm31",
    "thm31_lhs",
    "thm32_corrected_bound",
    "thm32_lhs",
    "thm32_printed_bound",
]


# ---------------------------------------------------------------------------------------------
# Definition
# ---------------------------------------------------------------------------------------------


def _gram(gradients_gram: ArrayLike) -> NDArray[np.float64]:
    g = np.asarray(gradients_gram, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != g.shape[1] or g.shape[0] < 2:
        raise ValueError(
            f"gradients_gram must be a square (N, N) matrix with N >= 2, got shape {g.shape}"
        )
    if not np.all(np.isfinite(g)):
        raise ValueError("gradients_gram must be finite (no NaN/inf)")
    return g


def confusion_eta(gradients_gram: ArrayLike) -> float:
    """Smallest confusion bound of a Gram matrix: ``max(0, −min_{i≠j} G_ij)`` [paper def.].

    >>> confusion_eta([[1.0, -0.3], [-0.3, 2.0]])
    0.3
    """
    g = _gram(gradients_gram)
    off = g[~np.eye(g.shape[0], dtype=bool)]
    return float(max(0.0, -off.min()))


def confusion_bound_holds(gradients_gram: ArrayLike, eta: float) -> bool:
    """True iff ``⟨g_i, g_j⟩ ≥ −η`` for all ``i ≠ j`` (``G_ij`` the Gram matrix) [paper].

    Args:
        gradients_gram: ``(N, N)`` matrix of per-sample gradient inner products.
        eta: confusion bound η ≥ 0.

    >>> confusion_bound_holds([[1.0, -0.3], [-0.3, 2.0]], 0.2)
    False
    """
    e = check_positive("eta", eta, allow_zero=True)
    return confusion_eta(gradients_gram) <= e


def gradient_cosines(gradients: ArrayLike) -> NDArray[np.float64]:
    """Matrix of cosines ``⟨g_i, g_j⟩/(‖g_i‖‖g_j‖)`` of the rows of ``gradients`` (N, P).

    >>> gradient_cosines([[1.0, 0.0], [1.0, 1.0]]).round(6).tolist()
    [[1.0, 0.707107], [0.707107, 1.0]]
    """
    g = np.asarray(gradients, dtype=np.float64)
    if g.ndim != 2:
        raise ValueError(f"gradients must be a 2-D (N, P) array, got shape {g.shape}")
    norms = np.linalg.norm(g, axis=1)
    if np.any(norms == 0) or not np.all(np.isfinite(g)):
        raise ValueError("gradients must be finite with nonzero rows (cosine undefined)")
    u = g / norms[:, None]
    return np.asarray(np.clip(u @ u.T, -1.0, 1.0), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Linear model at w = 0
# ---------------------------------------------------------------------------------------------


def linear_cosine_law(d: int) -> Any:
    """Law of ``cos(∇ℓ_i, ∇ℓ_j)`` for a linear model at ``w = 0``, inputs uniform on S^{d−1}.

    Model: ``f(x) = ⟨w, x⟩``, ``ℓ_i = ½(f(x_i) − y_i)²``, so ``∇ℓ_i(0) = −y_i x_i`` and
    ``cos = sign(y_i y_j)⟨x_i, x_j⟩`` (labels nonzero, independent of the inputs). For
    independent uniform unit vectors ``t = ⟨x_i, x_j⟩`` has density ``∝ (1 − t²)^{(d−3)/2}``,
    symmetric, so the random sign does not change the law and
    ``(1 + cos)/2 ~ Beta((d−1)/2, (d−1)/2)``; ``E cos = 0``, ``Var cos = 1/d`` [derived].

    Returns:
        a frozen ``scipy.stats`` distribution of ``cos`` itself (Beta on ``[−1, 1]``).

    >>> law = linear_cosine_law(10)
    >>> round(float(law.var()), 12), float(law.mean())
    (0.1, 0.0)
    """
    dd = check_int("d", d, minimum=2)
    a = (dd - 1) / 2.0
    return st.beta(a, a, loc=-1.0, scale=2.0)


def linear_confusion_failure_probability(d: int, eta: float) -> float:
    """``P(⟨∇ℓ_i, ∇ℓ_j⟩ < −η) = I_{(1−η)/2}((d−1)/2, (d−1)/2)`` for one pair [derived].

    Model: linear model at ``w = 0``, inputs iid uniform on ``S^{d−1}``, labels in ``{−1, +1}``
    independent of the inputs, so ``⟨∇ℓ_i, ∇ℓ_j⟩ = y_i y_j⟨x_i, x_j⟩`` equals the cosine.
    It is 0 for ``η ≥ 1``.

    >>> linear_confusion_failure_probability(5, 0.0)
    0.5
    """
    law = linear_cosine_law(d)
    e = check_positive("eta", eta, allow_zero=True)
    if e >= 1.0:
        return 0.0
    return float(law.cdf(-e))


def linear_confusion_probability_bound(n_samples: int, d: int, eta: float) -> float:
    """Union bound ``P(min_{i≠j}⟨∇ℓ_i, ∇ℓ_j⟩ ≥ −η) ≥ 1 − C(N, 2) P(⟨∇ℓ_1, ∇ℓ_2⟩ < −η)``.

    Same model as :func:`linear_confusion_failure_probability`; the pairwise events are
    dependent but the union bound needs no independence [derived]. Clipped at 0.

    >>> round(linear_confusion_probability_bound(3, 200, 0.3), 6)
    0.999977
    """
    n = check_int("n_samples", n_samples, minimum=2)
    p = linear_confusion_failure_probability(d, eta)
    return float(max(0.0, 1.0 - math.comb(n, 2) * p))


# ---------------------------------------------------------------------------------------------
# Deep linear nets, orthogonal init
# ---------------------------------------------------------------------------------------------


def orthogonal_linear_cosine(x_i: ArrayLike, x_j: ArrayLike, r_i: ArrayLike, r_j: ArrayLike) -> Any:
    """``cos(∇ℓ_i, ∇ℓ_j) = sign(r_i r_j)⟨x̂_i, x̂_j⟩`` for isometric/orthogonal deep linear nets.

    Net ``f(x) = w_Lᵀ W_{L−1} ⋯ W_1 x`` with ``W_1ᵀW_1 = I_d`` (n × d, n ≥ d), ``W_2..W_{L−1}``
    orthogonal n × n, any readout ``w_L``; loss ``ℓ_i = ½(f(x_i) − y_i)²``, residual
    ``r_i = f(x_i) − y_i``. Layer k's gradient is the rank-one ``r_i a_k b_{k,i}ᵀ`` with
    ``a_k`` independent of the sample and ``b_{k,i} = W_{k−1} ⋯ W_1 x_i``, so
    ``⟨∂_kℓ_i, ∂_kℓ_j⟩ = r_i r_j ‖a_k‖² ⟨b_{k,i}, b_{k,j}⟩ = r_i r_j ‖a_k‖² ⟨x_i, x_j⟩``
    (isometries preserve inner products). Summing over layers,
    ``⟨∇ℓ_i, ∇ℓ_j⟩ = r_i r_j⟨x_i, x_j⟩ (1 + (L−1)‖w_L‖²)`` and the cosine is the stated one,
    identical for the full gradient and for every layer's block, at every depth [derived].
    Vectorized over leading axes; the last axis of ``x_i``, ``x_j`` is the input dimension.

    >>> orthogonal_linear_cosine([1.0, 0.0], [1.0, 1.0], 0.5, -2.0)
    -0.7071067811865475
    """
    xi = np.asarray(x_i, dtype=np.float64)
    xj = np.asarray(x_j, dtype=np.float64)
    ri = np.asarray(r_i, dtype=np.float64)
    rj = np.asarray(r_j, dtype=np.float64)
    for name, arr in (("x_i", xi), ("x_j", xj), ("r_i", ri), ("r_j", rj)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (no NaN/inf)")
    if xi.ndim < 1 or xj.ndim < 1:
        raise ValueError("x_i and x_j must be vectors (last axis = input dimension)")
    ni = np.linalg.norm(xi, axis=-1)
    nj = np.linalg.norm(xj, axis=-1)
    if np.any(ni == 0) or np.any(nj == 0):
        raise ValueError("x_i and x_j must be nonzero (the cosine is undefined)")
    if np.any(ri == 0) or np.any(rj == 0):
        raise ValueError("r_i and r_j must be nonzero (a zero residual has a zero gradient)")
    cos = np.sum(xi * xj, axis=-1) / (ni * nj)
    out = np.sign(ri * rj) * np.clip(cos, -1.0, 1.0)
    return float(out) if np.ndim(out) == 0 else out


def deep_linear_per_sample_gradients(
    weights: Sequence[ArrayLike], inputs: ArrayLike, targets: ArrayLike, *, per_layer: bool = False
) -> Any:
    """Per-sample gradients of ``ℓ_i = ½(W_L ⋯ W_1 x_i − y_i)²`` by explicit backprop.

    Slow reference (numpy). ``weights[k]`` has shape ``(n_{k+1}, n_k)`` with final output
    dimension 1; ``inputs`` is ``(N, d)``, ``targets`` ``(N,)``. Gradient of layer k:
    ``r_i (W_L ⋯ W_{k+1})ᵀ (W_{k−1} ⋯ W_1 x_i)ᵀ`` [ref: chain rule].

    Returns:
        ``(N, P)`` flattened full gradients, or a list of ``(N, n_{k+1} n_k)`` blocks if
        ``per_layer``.

    >>> g = deep_linear_per_sample_gradients([np.eye(2), np.ones((1, 2))], [[1.0, 0.0]], [0.0])
    >>> g.tolist()
    [[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]]
    """
    ws = [np.asarray(w, dtype=np.float64) for w in weights]
    if not ws:
        raise ValueError("weights must be a non-empty list of 2-D arrays")
    x = np.atleast_2d(np.asarray(inputs, dtype=np.float64))
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    if ws[-1].shape[0] != 1:
        raise ValueError(f"the last weight must have one output row, got shape {ws[-1].shape}")
    acts = [x]  # acts[k] = input of layer k, shape (N, n_k)
    for w in ws:
        acts.append(acts[-1] @ w.T)
    r = acts[-1][:, 0] - y
    delta = r[:, None]  # dℓ/d(output of layer k), shape (N, n_{k+1})
    blocks: list[NDArray[np.float64]] = [np.empty(0)] * len(ws)
    for k in range(len(ws) - 1, -1, -1):
        blocks[k] = (delta[:, :, None] * acts[k][:, None, :]).reshape(x.shape[0], -1)
        delta = delta @ ws[k]
    if per_layer:
        return blocks
    return np.concatenate(blocks, axis=1)


# ---------------------------------------------------------------------------------------------
# SGD bounds under confusion
# ---------------------------------------------------------------------------------------------


def _check_alpha(alpha: float, n: int, smooth: float) -> float:
    a = check_positive("alpha", alpha)
    limit = 2.0 / (n * smooth)
    if a >= limit:
        raise ValueError(f"alpha must satisfy 0 < alpha < 2/(N L) = {limit!r}, got {alpha!r}")
    return a


def sgd_bound_thm31(
    T: int, alpha: float, N: int, L: float, mu: float, eta: float, F0_gap: float
) -> float:
    """GC Theorem 3.1: ``E[F(w_T) − F*] ≤ ρ^T (F(w_0) − F*) + αη/(1 − ρ)`` [paper].

    ``ρ = 1 − (2μ/N)(α − NLα²/2)``, valid for ``0 < α < 2/(NL)``; F μ-PL, each ``f_i``
    L-smooth, confusion bound η along the iterates. Re-derived in the module docstring, where
    the additive term comes out as ``αη(N−1)/N ≤ αη`` per step [derived]. PL and smoothness
    force ``μ ≤ L``.

    >>> round(sgd_bound_thm31(10, 0.1, 2, 1.0, 0.5, 0.0, 1.0), 6)
    0.631006
    """
    t = check_int("T", T, minimum=0)
    n = check_int("N", N, minimum=1)
    smooth = check_positive("L", L)
    m = check_positive("mu", mu)
    if m > smooth:
        raise ValueError(f"mu must satisfy 0 < mu <= L = {smooth!r} (PL + smoothness), got {mu!r}")
    e = check_positive("eta", eta, allow_zero=True)
    gap = check_positive("F0_gap", F0_gap, allow_zero=True)
    a = _check_alpha(alpha, n, smooth)
    rho = 1.0 - (2.0 * m / n) * (a - n * smooth * a * a / 2.0)
    return rho**t * gap + a * e / (1.0 - rho)


def _thm32_rho(alpha: float, N: int, L: float) -> tuple[float, int, float]:
    n = check_int("N", N, minimum=1)
    smooth = check_positive("L", L)
    a = _check_alpha(alpha, n, smooth)
    return 2.0 * n / (2.0 - n * smooth * a), n, a


def thm32_printed_bound(T: int, alpha: float, N: int, L: float, eta: float, F1_gap: float) -> float:
    """GC Theorem 3.2 as printed (ICLR-2020 text): ``ρ(F(w_1) − F*)/T + ρη`` [paper].

    ``ρ = 2N/(2 − NLα)``. Not scale-consistent (the first term lacks ``1/α``): with ``N = 1``,
    ``F = w²/2``, ``L = 1``, ``α = 0.1``, ``w_1 = 1``, ``T = 1`` the left side
    ``min_k E‖∇F(w_k)‖² = 1`` exceeds the printed value 0.526 [derived].

    >>> round(thm32_printed_bound(1, 0.1, 1, 1.0, 0.0, 0.5), 6)
    0.526316
    """
    t = check_int("T", T, minimum=1)
    rho, _, _ = _thm32_rho(alpha, N, L)
    e = check_positive("eta", eta, allow_zero=True)
    gap = check_positive("F1_gap", F1_gap, allow_zero=True)
    return rho * gap / t + rho * e


def thm32_corrected_bound(
    T: int, alpha: float, N: int, L: float, eta: float, F1_gap: float
) -> float:
    """Corrected Theorem 3.2: ``min_{1≤k≤T} E‖∇F(w_k)‖² ≤ ρ(F(w_1) − F*)/(αT) + ρη(N−1)/N``.

    ``ρ = 2N/(2 − NLα)``, ``0 < α < 2/(NL)`` [derived]: summing the one-step inequality of
    the module docstring with ``E_i‖∇f_i‖² ≥ ‖∇F‖²`` over ``k = 1..T`` gives
    ``(α(2 − NLα)/(2N)) Σ_k E‖∇F(w_k)‖² ≤ F(w_1) − E F(w_{T+1}) + Tαη(N−1)/N`` and
    ``F(w_{T+1}) ≥ F*``; divide by T and bound the minimum by the mean.

    >>> round(thm32_corrected_bound(1, 0.1, 1, 1.0, 0.0, 0.5), 6)
    5.263158
    """
    t = check_int("T", T, minimum=1)
    rho, n, a = _thm32_rho(alpha, N, L)
    e = check_positive("eta", eta, allow_zero=True)
    gap = check_positive("F1_gap", F1_gap, allow_zero=True)
    return rho * gap / (a * t) + rho * e * (n - 1) / n


@dataclass(frozen=True)
class QuadraticFiniteSum:
    """``F(w) = (1/N) Σ_i f_i(w)``, ``f_i(w) = ½ Σ_c a_ic (w_c − b_ic)²`` (diagonal quadratics).

    A concrete finite-sum problem on which single-sample SGD has exactly computable moments
    [derived]: per coordinate ``u_c = w_c − w*_c`` evolves as ``u_c ← p_i u_c + c_i`` with
    ``p_i = 1 − α a_ic``, ``c_i = α a_ic (b_ic − w*_c)`` and ``i`` uniform and independent of
    ``u``, so ``m' = p̄ m + c̄`` and ``s' = mean(p²) s + 2 mean(pc) m + mean(c²)`` for
    ``m = E u_c``, ``s = E u_c²``; ``E F − F* = Σ_c ½ā_c s_c`` and
    ``E‖∇F‖² = Σ_c ā_c² s_c``.

    Attributes:
        a: curvatures, shape ``(N, d)``, all > 0.
        b: centres, shape ``(N, d)``.
    """

    a: NDArray[np.float64]
    b: NDArray[np.float64]
    _abar: NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        a = np.atleast_2d(np.asarray(self.a, dtype=np.float64))
        b = np.atleast_2d(np.asarray(self.b, dtype=np.float64))
        if a.ndim != 2 or a.shape != b.shape:
            raise ValueError(f"a and b must both have shape (N, d), got {a.shape} and {b.shape}")
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            raise ValueError("a and b must be finite")
        if np.any(a <= 0):
            raise ValueError("a must be > 0 elementwise (each f_i strongly convex per coordinate)")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "_abar", a.mean(axis=0))

    @property
    def n(self) -> int:
        """Number of summands N."""
        return int(self.a.shape[0])

    @property
    def smoothness(self) -> float:
        """``L = max a_ic``: every ``f_i`` (hence F) is L-smooth."""
        return float(self.a.max())

    @property
    def pl_constant(self) -> float:
        """``μ = min_c ā_c``: ``‖∇F‖² = Σ ā_c²(w_c − w*_c)² ≥ 2μ(F − F*)``."""
        # min of means <= max: clip the round-off of the mean
        return float(min(self._abar.min(), self.a.max()))

    @property
    def minimizer(self) -> NDArray[np.float64]:
        """``w*_c = mean_i(a_ic b_ic)/ā_c``."""
        return np.asarray((self.a * self.b).mean(axis=0) / self._abar, dtype=np.float64)

    @property
    def confusion_eta_global(self) -> float:
        """``sup_w max_{i≠j} −⟨∇f_i, ∇f_j⟩ = max_{i≠j} Σ_c a_ic a_jc (b_ic − b_jc)²/4``.

        Each coordinate term ``a_ic a_jc (w_c − b_ic)(w_c − b_jc)`` is minimised at the midpoint
        independently [derived]. 0 when N = 1.
        """
        if self.n < 2:
            return 0.0
        best = 0.0
        for i in range(self.n):
            for j in range(i + 1, self.n):
                v = float(np.sum(self.a[i] * self.a[j] * (self.b[i] - self.b[j]) ** 2) / 4.0)
                best = max(best, v)
        return best

    def _w(self, w: ArrayLike) -> NDArray[np.float64]:
        arr = np.asarray(w, dtype=np.float64).reshape(-1)
        if arr.shape[0] == 1 and self.a.shape[1] > 1:
            arr = np.full(self.a.shape[1], arr[0])
        if arr.shape != (self.a.shape[1],) or not np.all(np.isfinite(arr)):
            raise ValueError(f"w must be a finite vector of length d={self.a.shape[1]}")
        return arr

    def value(self, w: ArrayLike) -> float:
        """``F(w)``."""
        ww = self._w(w)
        return float(np.mean(0.5 * np.sum(self.a * (ww - self.b) ** 2, axis=1)))

    @property
    def f_star(self) -> float:
        """``F* = F(w*)``."""
        return self.value(self.minimizer)

    def gap(self, w: ArrayLike) -> float:
        """``F(w) − F* = Σ_c ½ ā_c (w_c − w*_c)²`` (exact, never negative)."""
        ww = self._w(w)
        return float(np.sum(0.5 * self._abar * (ww - self.minimizer) ** 2))

    def grads(self, w: ArrayLike) -> NDArray[np.float64]:
        """Per-sample gradients ``∇f_i(w) = a_i ⊙ (w − b_i)``, shape ``(N, d)``."""
        ww = self._w(w)
        return np.asarray(self.a * (ww - self.b), dtype=np.float64)

    def grad(self, w: ArrayLike) -> NDArray[np.float64]:
        """``∇F(w)``."""
        return np.asarray(self.grads(w).mean(axis=0), dtype=np.float64)

    def sgd_moments(
        self, w_start: ArrayLike, alpha: float, steps: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Exact ``(E u_k, E u_k²)`` per coordinate for ``u = w − w*``, k = 0..steps.

        ``u ← p_i u + c_i`` with ``p_i = 1 − α a_ic``, ``c_i = α a_ic (b_ic − w*_c)``
        (``c̄ = 0`` by the definition of ``w*``); centring at ``w*`` avoids cancellation.
        Arrays of shape ``(steps+1, d)``.
        """
        a_ = check_positive("alpha", alpha)
        t = check_int("steps", steps, minimum=0)
        u0 = self._w(w_start) - self.minimizer
        p = 1.0 - a_ * self.a
        c = a_ * self.a * (self.b - self.minimizer)
        pbar, cbar = p.mean(axis=0), c.mean(axis=0)
        p2, pc, c2 = (p * p).mean(axis=0), (p * c).mean(axis=0), (c * c).mean(axis=0)
        m = np.empty((t + 1, u0.size))
        s = np.empty((t + 1, u0.size))
        m[0], s[0] = u0, u0 * u0
        for k in range(t):
            m[k + 1] = pbar * m[k] + cbar
            s[k + 1] = p2 * s[k] + 2.0 * pc * m[k] + c2
        return m, s

    def expected_gap(self, w_start: ArrayLike, alpha: float, steps: int) -> NDArray[np.float64]:
        """Exact ``E[F(w_k)] − F* = Σ_c ½ ā_c E u_c²`` for k = 0..steps [derived]."""
        _, s = self.sgd_moments(w_start, alpha, steps)
        return np.asarray(np.sum(0.5 * self._abar * s, axis=1), dtype=np.float64)

    def expected_grad_norm_sq(
        self, w_start: ArrayLike, alpha: float, steps: int
    ) -> NDArray[np.float64]:
        """Exact ``E‖∇F(w_k)‖² = Σ_c ā_c² E u_c²`` for k = 0..steps [derived]."""
        _, s = self.sgd_moments(w_start, alpha, steps)
        return np.asarray(np.sum(self._abar**2 * s, axis=1), dtype=np.float64)

    def enumerate_paths(self, w_start: ArrayLike, alpha: float, steps: int) -> NDArray[Any]:
        """Slow reference: all ``N^steps`` SGD paths, shape ``(N^steps, steps+1, d)``.

        Each path has probability ``N^{−steps}``. Refuses more than 200 000 paths.
        """
        a_ = check_positive("alpha", alpha)
        t = check_int("steps", steps, minimum=0)
        if self.n**t > 200_000:
            raise ValueError(f"N^steps = {self.n**t} paths is too many to enumerate (<= 200000)")
        w0 = self._w(w_start)
        paths = np.empty((self.n**t, t + 1, w0.size))
        for row, seq in enumerate(itertools.product(range(self.n), repeat=t)):
            w = w0.copy()
            paths[row, 0] = w
            for k, i in enumerate(seq):
                w = w - a_ * self.a[i] * (w - self.b[i])
                paths[row, k + 1] = w
        return paths

    def confusion_eta_along_paths(self, w_start: ArrayLike, alpha: float, steps: int) -> float:
        """Smallest η valid at every iterate ``w_0..w_{steps}`` of every path (enumeration)."""
        if self.n < 2:
            return 0.0
        paths = self.enumerate_paths(w_start, alpha, steps)
        w = paths.reshape(-1, paths.shape[-1])
        g = self.a[None, :, :] * (w[:, None, :] - self.b[None, :, :])  # (M, N, d)
        gram = np.einsum("mic,mjc->mij", g, g)
        off = gram[:, ~np.eye(self.n, dtype=bool)]
        return float(max(0.0, -off.min()))


def thm31_lhs(problem: QuadraticFiniteSum, w0: ArrayLike, alpha: float, T: int) -> float:
    """Exact ``E[F(w_T)] − F*`` of single-sample SGD from ``w_0`` on ``problem`` [derived].

    >>> p = QuadraticFiniteSum(np.array([[1.0]]), np.array([[0.0]]))
    >>> thm31_lhs(p, [1.0], 0.1, 1)  # w_1 = 0.9, F = 0.405
    0.405
    """
    return float(problem.expected_gap(w0, alpha, check_int("T", T, minimum=0))[-1])


def thm32_lhs(problem: QuadraticFiniteSum, w1: ArrayLike, alpha: float, T: int) -> float:
    """Exact ``min_{1≤k≤T} E‖∇F(w_k)‖²`` of single-sample SGD started at ``w_1`` [derived].

    >>> p = QuadraticFiniteSum(np.array([[1.0]]), np.array([[0.0]]))
    >>> thm32_lhs(p, [1.0], 0.1, 1)  # the GC counterexample: 1 > 0.526
    1.0
    """
    t = check_int("T", T, minimum=1)
    return float(problem.expected_grad_norm_sq(w1, alpha, t - 1).min())
