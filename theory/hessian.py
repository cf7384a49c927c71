r"""Hessian of the loss of a neural chain at init: moments, exact entry laws and tail bounds.

Chain, loss and notation as in :mod:`flatstart.theory.chains`. With ``v_i = 1/w_i`` [derived, VC §3]

``H = x² P² v vᵀ + r x P (v vᵀ − diag(v²))``, ``tr H = x² Σ_i P_{-i}² ≥ 0``.

Structure at ``y = 0`` [derived]: ``r = xP`` so ``H = x² P² (2 v vᵀ − diag(v²))``. Hence

* ``‖H‖₂ ≤ ‖H‖_F ≤ 2 tr H`` surely (``‖2vvᵀ − D‖_F² = 4‖v‖⁴ − 3Σv_i⁴``);
* for ``L ≥ 2``, ``H`` has exactly one positive and ``L − 1`` negative eigenvalues almost surely
  (``−D`` is negative definite and a rank-one PSD update moves at most one eigenvalue past 0,
  while ``tr H > 0``): the init is a saddle, ``λ_min < 0`` with probability 1 (linear chain;
  ReLU: on the alive event, ``H = 0`` when dead).

General ``y`` [derived]: ``H = x² u uᵀ + r x M`` with ``u_i = P_{-i}``, ``M_ij = P_{-ij}``
(``i ≠ j``), ``M_ii = 0``: ``‖H‖₂ ≤ ‖H‖_F ≤ tr H + |r| |x| √(L(L−1)) max_{i≠j}|P_{-ij}|`` and
``|r| ≤ |y| + |x||P|``.

Every bound below is rigorous: ``P(quantity > bound(δ)) ≤ δ`` by union bounds over the exact
quantiles of the product laws of single entries. Medians: ``δ = ½``. The bounds decay
exponentially in ``L`` whenever ``E log|w| < 0`` (e.g. Xavier), because the product-law
quantiles do, while the means (:meth:`NeuralChain.hessian_moments`) grow like ``3^L``.

Derivations, step by step: docs/theory/vc-curvature.md.
"""

from __future__ import annotations

import math
from typing import Any

from flatstart._checks import check_choice, check_positive, check_probability
from flatstart.theory.chains import ChainMoments, NeuralChain

__all__ = [
    "entry_tail_probability",
    "hessian_moments",
    "max_entry_bound",
    "median_bounds",
    "norm_bound",
    "trace_bound",
]


def _y0(chain: NeuralChain) -> NeuralChain:
    """The same chain with ``y = 0`` (laws of quantities that do not involve ``y``)."""
    c = NeuralChain.__new__(NeuralChain)
    c.__dict__.update(chain.__dict__)
    c.y = 0.0
    return c


def _check_chain(chain: Any) -> NeuralChain:
    if not isinstance(chain, NeuralChain):
        raise TypeError(f"chain must be a flatstart.theory.chains.NeuralChain, got "
                        f"{type(chain).__name__}")
    if chain.x == 0:
        raise ValueError("chain.x must be nonzero (x = 0 gives H = 0)")
    return chain


def hessian_moments(chain: NeuralChain) -> ChainMoments:
    """Exact ``E tr H``, ``E H_ij²``, ``E‖∇ℓ‖²`` (delegates to the chain) [derived]."""
    return _check_chain(chain).hessian_moments()


def entry_tail_probability(chain: NeuralChain, i: int, j: int, t: float) -> float:
    r"""Exact ``P(|H_ij| > t)`` for ``y = 0`` from the product law of the entry [derived].

    >>> c = NeuralChain(3, sigma=1.0)
    >>> 0.0 < entry_tail_probability(c, 1, 1, 0.5) < 1.0
    True
    """
    _check_chain(chain)
    t = check_positive("t", t)
    return float(chain.hessian_entry_law(i, j).abs().sf(t))


def trace_bound(chain: NeuralChain, delta: float = 0.5) -> float:
    r"""``B`` with ``P(tr H > B) ≤ δ`` [derived].

    ``tr H = Σ_i H_ii ≤ L max_i H_ii`` and ``H_ii = x² P_{-i}²`` (any ``y``), so
    ``B = L · q_{H_11}(1 − δ/L)`` by a union bound over the ``L`` diagonal entries.
    """
    _check_chain(chain)
    delta = check_probability("delta", delta)
    L = chain.depth
    if L == 1:
        return chain.x**2
    law = _y0(chain).hessian_entry_law(1, 1)
    return float(L * law.quantile(1.0 - delta / L))


def norm_bound(chain: NeuralChain, delta: float = 0.5, norm: str = "spectral") -> float:
    r"""``B`` with ``P(‖H‖ > B) ≤ δ`` for the spectral or Frobenius norm [derived].

    ``y = 0``: ``‖H‖₂ ≤ ‖H‖_F ≤ 2 tr H``, so ``B = 2 · trace_bound(δ)``.
    ``y ≠ 0``: ``δ`` split in thirds: ``B = T + (|y| + q_{|f|}(1 − δ/3)) |x| √(L(L−1)) Q`` with
    ``T = trace_bound(δ/3)`` and ``Q = q_{|P_{L-2}|}(1 − δ/(3·C(L,2)))`` (unconditioned weight
    law, an upper bound for ReLU chains too). The same ``B`` serves both norms.
    """
    _check_chain(chain)
    delta = check_probability("delta", delta)
    check_choice("norm", norm, ("spectral", "frobenius"))
    L = chain.depth
    if L == 1:
        return chain.x**2
    if chain.y == 0:
        return 2.0 * trace_bound(chain, delta)
    T = trace_bound(chain, delta / 3)
    r = abs(chain.y) + chain.output_law().abs().quantile(1.0 - delta / 3)
    pairs = L * (L - 1) // 2
    Q = chain.product_law(L - 2).quantile(1.0 - delta / (3 * pairs))
    return float(T + r * abs(chain.x) * math.sqrt(L * (L - 1)) * Q)


def max_entry_bound(chain: NeuralChain, delta: float = 0.5) -> float:
    r"""``B`` with ``P(max_{i,j} |H_ij| > B) ≤ δ`` for ``y = 0`` [derived].

    Union bound over the ``L`` diagonal and ``L(L−1)/2`` off-diagonal entries with equal
    shares of ``δ``; all diagonal (off-diagonal) entries share one law.
    """
    _check_chain(chain)
    delta = check_probability("delta", delta)
    L = chain.depth
    if L == 1:
        return chain.x**2
    n = L + L * (L - 1) // 2
    d = chain.hessian_entry_law(1, 1).abs().quantile(1.0 - delta / n)
    o = chain.hessian_entry_law(1, 2).abs().quantile(1.0 - delta / n)
    return float(max(d, o))


def median_bounds(chain: NeuralChain) -> dict[str, float]:
    r"""Upper bounds on the medians of ``tr H``, ``‖H‖₂`` and ``‖H‖_F`` (``δ = ½``) [derived].

    >>> b = median_bounds(NeuralChain(30, init="xavier_normal"))
    >>> b["trace"] < 1e-3
    True
    """
    _check_chain(chain)
    s = norm_bound(chain, 0.5)
    return {"trace": trace_bound(chain, 0.5), "spectral": s, "frobenius": s}
