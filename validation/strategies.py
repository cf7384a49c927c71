"""Hypothesis strategies for researchers' own property-based tests of theorems.

Every strategy draws *bounded* objects (a handful of factors, shallow and narrow networks,
tiny data sets) so that a test with the package's ``ci`` profile (25 derandomized examples)
stays fast. Import them in your own tests::

    from hypothesis import given
    from flatstart.validation.strategies import factor_laws, chain_architectures

    @given(factor_laws())
    def test_second_moment_positive(law):
        assert float(law.moment(2)) > 0

Architectures are plain dicts of keyword arguments of :func:`flatstart.montecarlo.networks.chains` /
:func:`flatstart.montecarlo.networks.mlps` (``chains(count=8, **arch)`` works); with
``with_kind=True`` they also carry ``"kind"`` (``"chain"``/``"mlp"``) and are then valid ``network``
dicts of
:func:`flatstart.validation.toolkit.check_bound`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as hst

from flatstart.theory.confusion import QuadraticFiniteSum
from flatstart.theory.inits import INITS
from flatstart.theory.laws import Beta, ChiSquare, Gamma, Law, Normal, Uniform
from flatstart.theory.products import Product, product

__all__ = [
    "chain_architectures",
    "datasets",
    "factor_laws",
    "init_schemes",
    "mlp_architectures",
    "products",
    "quadratic_finite_sums",
    "seeds",
    "sgd_runs",
]

_ACTIVATIONS = ("linear", "relu", "tanh")


def _pos(lo: float, hi: float) -> hst.SearchStrategy[float]:
    return hst.floats(lo, hi, allow_nan=False, allow_infinity=False)


def factor_laws(
    kinds: tuple[str, ...] = ("normal", "uniform", "gamma", "chisquare", "beta"),
) -> hst.SearchStrategy[Law]:
    """Factor laws of :mod:`flatstart.theory.laws` with sane parameters.

    ``Normal(σ)``, σ ∈ [0.2, 3]; ``Uniform(a, b)`` symmetric ``(−c, c)`` or general with
    ``a ∈ [−3, 1]`` and width ∈ [0.2, 3]; ``Gamma(k, θ)``, k ∈ [0.3, 5], θ ∈ [0.2, 3];
    ``ChiSquare(k, scale)``, k ∈ {1..8}, scale ∈ [0.2, 3]; ``Beta(a, b)``, a, b ∈ [0.3, 5].

    Args:
        kinds: which families to draw from (a subset of the five names above).

    >>> from hypothesis import find
    >>> isinstance(find(factor_laws(("normal",)), lambda law: True), Normal)
    True
    """
    makers: dict[str, hst.SearchStrategy[Law]] = {
        "normal": hst.builds(Normal, _pos(0.2, 3.0)),
        "uniform": hst.one_of(
            _pos(0.2, 3.0).map(lambda c: Uniform(-c, c)),
            hst.tuples(_pos(-3.0, 1.0), _pos(0.2, 3.0)).map(lambda t: Uniform(t[0], t[0] + t[1])),
        ),
        "gamma": hst.builds(Gamma, _pos(0.3, 5.0), _pos(0.2, 3.0)),
        "chisquare": hst.builds(ChiSquare, hst.integers(1, 8), _pos(0.2, 3.0)),
        "beta": hst.builds(Beta, _pos(0.3, 5.0), _pos(0.3, 5.0)),
    }
    bad = [k for k in kinds if k not in makers]
    if bad or not kinds:
        raise ValueError(f"kinds must be a non-empty subset of {sorted(makers)}, got {kinds!r}")
    return hst.one_of(*[makers[k] for k in kinds])


def products(
    max_factors: int = 4, laws: hst.SearchStrategy[Law] | None = None
) -> hst.SearchStrategy[Product]:
    """Products of 1..``max_factors`` independent factors
    (:func:`flatstart.theory.products.product`).

    Half of the draws are iid powers ``product(law, n)``, half products of different laws.

    >>> from hypothesis import find
    >>> p = find(products(3), lambda p: True)
    >>> type(p).__name__
    'Product'
    """
    if not isinstance(max_factors, int) or isinstance(max_factors, bool) or max_factors < 1:
        raise ValueError(f"max_factors must be an int >= 1, got {max_factors!r}")
    base = factor_laws() if laws is None else laws
    iid = hst.tuples(base, hst.integers(1, max_factors)).map(lambda t: product(t[0], t[1]))
    mixed = hst.lists(base, min_size=1, max_size=max_factors).map(product)
    return hst.one_of(iid, mixed)


def init_schemes(include_orthogonal: bool = True) -> hst.SearchStrategy[str]:
    """Names of initialization schemes (:data:`flatstart.theory.inits.INITS`).

    >>> from hypothesis import find
    >>> find(init_schemes(), lambda s: True) in INITS
    True
    """
    names = [s for s in INITS if include_orthogonal or s != "orthogonal"]
    return hst.sampled_from(names)


def chain_architectures(
    max_depth: int = 8, *, activations: tuple[str, ...] = _ACTIVATIONS, with_kind: bool = False
) -> hst.SearchStrategy[dict[str, Any]]:
    """Neural chains (width 1): ``{"depth", "init", "activation", "residual"}``.

    ``residual`` is ``None`` or ``1/√depth`` (VC's residual scaling); inits exclude
    ``orthogonal`` (a width-1 orthogonal matrix is a random sign; use it deliberately).
    ``flatstart.montecarlo.networks.chains(count=n, **arch)`` builds them.

    >>> from hypothesis import find
    >>> from flatstart.montecarlo.networks import chains
    >>> arch = find(chain_architectures(4), lambda a: True)
    >>> chains(count=3, **arch).depth >= 1
    True
    """
    if not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"max_depth must be an int >= 1, got {max_depth!r}")

    @hst.composite
    def build(draw: Any) -> dict[str, Any]:
        depth = draw(hst.integers(1, max_depth))
        arch: dict[str, Any] = {
            "depth": depth,
            "init": draw(init_schemes(include_orthogonal=False)),
            "activation": draw(hst.sampled_from(activations)),
            "residual": draw(hst.sampled_from([None, 1.0 / math.sqrt(depth)])),
        }
        if with_kind:
            arch["kind"] = "chain"
        return arch

    return build()


def mlp_architectures(
    max_depth: int = 4,
    max_width: int = 8,
    *,
    activations: tuple[str, ...] = _ACTIVATIONS,
    norms: tuple[str | None, ...] = (None, "layer"),
    with_kind: bool = False,
) -> hst.SearchStrategy[dict[str, Any]]:
    """Small fully connected nets: ``{"depth", "width", "activation", "init", "input_dim",
    "output_dim", "residual", "norm"}``.

    ``width`` is an int or a list of hidden widths (length ``depth − 1`` with the scalar
    readout ``output_dim = 1``, ``depth`` without one); ``residual`` ``None`` or ``1/√depth``
    (it acts on equal-width layers only); ``norm`` from ``norms`` (add ``"batch"`` only if
    your test evaluates batches of more than one input).
    ``flatstart.montecarlo.networks.mlps(count=n, **arch)`` builds them.

    >>> from hypothesis import find
    >>> from flatstart.montecarlo.networks import mlps
    >>> arch = find(mlp_architectures(), lambda a: True)
    >>> mlps(count=2, **arch).count
    2
    """
    if not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"max_depth must be an int >= 1, got {max_depth!r}")
    if not isinstance(max_width, int) or max_width < 1:
        raise ValueError(f"max_width must be an int >= 1, got {max_width!r}")

    @hst.composite
    def build(draw: Any) -> dict[str, Any]:
        depth = draw(hst.integers(1, max_depth))
        readout = draw(hst.sampled_from([None, 1])) if depth > 1 else None
        n_hidden = depth if readout is None else depth - 1
        if draw(hst.booleans()):
            width: int | list[int] = draw(hst.integers(1, max_width))
        else:
            width = draw(hst.lists(hst.integers(1, max_width), min_size=n_hidden,
                                   max_size=n_hidden))
        arch: dict[str, Any] = {
            "depth": depth,
            "width": width,
            "activation": draw(hst.sampled_from(activations)),
            "init": draw(init_schemes()),
            "input_dim": draw(hst.integers(1, max_width)),
            "output_dim": readout,
            "residual": draw(hst.sampled_from([None, 1.0 / math.sqrt(depth)])),
            "norm": draw(hst.sampled_from(norms)),
        }
        if with_kind:
            arch["kind"] = "mlp"
        return arch

    return build()


def seeds() -> hst.SearchStrategy[int]:
    """Seeds valid for numpy and torch generators: integers in ``[0, 2**31 − 1]``."""
    return hst.integers(0, 2**31 - 1)


def datasets(
    max_n: int = 16, max_dim: int = 4, out_dim: int = 1
) -> hst.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """Small synthetic ``(x, y)`` float64 arrays: ``x`` ``(n, d)``, ``y`` ``(n, out_dim)``.

    ``n ∈ [2, max_n]``, ``d ∈ [1, max_dim]``, entries in ``[−3, 3]`` (finite, no NaN).

    >>> from hypothesis import find
    >>> x, y = find(datasets(), lambda d: True)
    >>> x.ndim, y.shape[0] == x.shape[0]
    (2, True)
    """
    if max_n < 2 or max_dim < 1 or out_dim < 1:
        raise ValueError(
            f"need max_n >= 2, max_dim >= 1, out_dim >= 1, got {max_n}, {max_dim}, {out_dim}"
        )

    @hst.composite
    def build(draw: Any) -> tuple[np.ndarray, np.ndarray]:
        n = draw(hst.integers(2, max_n))
        d = draw(hst.integers(1, max_dim))
        val = _pos(-3.0, 3.0)
        x = np.array(draw(hst.lists(val, min_size=n * d, max_size=n * d)), dtype=np.float64)
        y = np.array(draw(hst.lists(val, min_size=n * out_dim, max_size=n * out_dim)),
                     dtype=np.float64)
        return x.reshape(n, d), y.reshape(n, out_dim)

    return build()


def quadratic_finite_sums(max_n: int = 3, max_d: int = 2) -> hst.SearchStrategy[QuadraticFiniteSum]:
    """Finite sums ``F = (1/N) Σ f_i``, ``f_i(w) = ½ Σ_c a_ic (w_c − b_ic)²`` (GC Thm 3.x).

    ``N ∈ [1, max_n]``, ``d ∈ [1, max_d]``, curvatures ``a ∈ [0.2, 3]``, centres
    ``b ∈ [−2, 2]`` (:class:`flatstart.theory.confusion.QuadraticFiniteSum`): each ``f_i`` is
    L-smooth with ``L = max a`` and F is μ-PL with ``μ = min_c mean_i a_ic``.
    """
    if max_n < 1 or max_d < 1:
        raise ValueError(f"max_n and max_d must be >= 1, got {max_n}, {max_d}")

    @hst.composite
    def build(draw: Any) -> QuadraticFiniteSum:
        n = draw(hst.integers(1, max_n))
        d = draw(hst.integers(1, max_d))
        a = draw(hst.lists(_pos(0.2, 3.0), min_size=n * d, max_size=n * d))
        b = draw(hst.lists(_pos(-2.0, 2.0), min_size=n * d, max_size=n * d))
        return QuadraticFiniteSum(np.reshape(a, (n, d)), np.reshape(b, (n, d)))

    return build()


def sgd_runs(
    max_n: int = 3, max_d: int = 2, max_steps: int = 8
) -> hst.SearchStrategy[dict[str, Any]]:
    """Single-sample SGD settings ``(N, L, α, T, F)`` for searches over GC Theorems 3.1/3.2.

    A dict ``{"problem": QuadraticFiniteSum, "alpha", "T", "w1"}`` with step size
    ``α = frac · 2/(N L)``, ``frac ∈ [0.05, 0.95]`` (the theorems' range ``0 < α < 2/(NL)``),
    ``T ∈ [1, max_steps]`` and start ``w1 ∈ [−3, 3]^d``.

    >>> from hypothesis import find
    >>> run = find(sgd_runs(), lambda r: True)
    >>> 0 < run["alpha"] < 2 / (run["problem"].n * run["problem"].smoothness)
    True
    """

    @hst.composite
    def build(draw: Any) -> dict[str, Any]:
        prob = draw(quadratic_finite_sums(max_n, max_d))
        frac = draw(_pos(0.05, 0.95))
        d = prob.a.shape[1]
        w1 = np.array(draw(hst.lists(_pos(-3.0, 3.0), min_size=d, max_size=d)))
        return {
            "problem": prob,
            "alpha": frac * 2.0 / (prob.n * prob.smoothness),
            "T": draw(hst.integers(1, max_steps)),
            "w1": w1,
        }

    return build()
