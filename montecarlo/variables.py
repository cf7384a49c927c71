"""Monte Carlo samplers of products of independent random variables (torch, seeded).

The measurement side of the ``P`` (products) claims: draw ``count`` independent copies of
``X = X_1 X_2 ⋯ X_m`` for independent factors ``X_k`` given as specs ``(name, params)``:

=========== ====================================== =========================================
name        params                                 law
=========== ====================================== =========================================
``normal``  ``sigma`` (> 0), optional ``mu``        ``N(mu, sigma²)``
``uniform`` ``a < b``                              ``U(a, b)``
``gamma``   ``k`` (shape > 0), ``theta`` (scale)   density ``∝ x^{k−1} e^{−x/θ}``
``chi2``    ``k`` (> 0), optional ``scale``        ``scale · χ²_k`` (= Gamma(k/2, 2·scale))
``beta``    ``a``, ``b`` (> 0)                     ``Beta(a, b)``
=========== ====================================== =========================================

The product is accumulated in log space, ``X = (∏ sign X_k) · exp(Σ log|X_k|)``, so deep
products do not underflow before the end; :func:`sample_log_abs_product` returns the log
directly. Gamma variables with ``k < 1`` use ``G = G' U^{1/k}`` (``G' ~ Gamma(k + 1)``, ``U``
uniform) in log form, Beta variables ``log X − log(X + Y)`` of two log-gammas, so small shapes
never round to zero [ref: Marsaglia & Tsang 2000, boosting identity]. All draws come from one
``torch.Generator`` on ``device`` seeded with ``seed``, factor by factor in list order.
No theory formulas: this module only draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flatstart._checks import check_choice, check_int, check_positive, check_real
from flatstart.montecarlo.networks import check_device, check_dtype
from flatstart.montecarlo.provenance import Samples, make_provenance

__all__ = [
    "FACTORS",
    "sample_factor_log_abs",
    "sample_log_abs_product",
    "sample_product",
    "product_samples",
]

FACTORS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name: (required keys, optional keys)
    "normal": (("sigma",), ("mu",)),
    "uniform": (("a", "b"), ()),
    "gamma": (("k", "theta"), ()),
    "chi2": (("k",), ("scale",)),
    "beta": (("a", "b"), ()),
}

FactorSpec = tuple[str, Mapping[str, Any]]


def _check_spec(index: int, spec: Any) -> tuple[str, dict[str, float]]:
    if not isinstance(spec, Sequence) or isinstance(spec, str) or len(spec) != 2:
        raise ValueError(f"factors[{index}] must be a (name, params) pair, got {spec!r}")
    name, params = spec
    check_choice(f"factors[{index}] name", name, FACTORS)
    if not isinstance(params, Mapping):
        raise ValueError(f"factors[{index}] params must be a dict, got {params!r}")
    required, optional = FACTORS[name]
    unknown = set(params) - set(required) - set(optional)
    missing = set(required) - set(params)
    if unknown or missing:
        raise ValueError(
            f"factors[{index}] ({name}) takes keys {list(required)} (optional {list(optional)}), "
            f"got {sorted(params)}"
        )
    p = {k: check_real(f"factors[{index}].{k}", v) for k, v in params.items()}
    positive = {"normal": ("sigma",), "gamma": ("k", "theta"), "chi2": ("k", "scale"),
                "beta": ("a", "b")}.get(name, ())
    for k in positive:
        if k in p:
            check_positive(f"factors[{index}].{k}", p[k])
    if name == "uniform" and not p["a"] < p["b"]:
        raise ValueError(f"factors[{index}] (uniform) needs a < b, got a={p['a']}, b={p['b']}")
    return name, p


def _log_gamma_variates(k: float, n: int, gen: torch.Generator, dtype: torch.dtype,
                        device: torch.device) -> Tensor:
    """``log G`` for ``G ~ Gamma(k, 1)``, exact in log form also for tiny ``k``."""
    if k >= 1.0:
        alpha = torch.full((n,), k, dtype=dtype, device=device)
        return torch.log(torch._standard_gamma(alpha, generator=gen))
    alpha = torch.full((n,), k + 1.0, dtype=dtype, device=device)
    g = torch._standard_gamma(alpha, generator=gen)
    u = torch.rand((n,), generator=gen, dtype=dtype, device=device)
    u = u.clamp_min(torch.finfo(dtype).tiny)  # torch.rand can return exactly 0
    return torch.log(g) + torch.log(u) / k


def sample_factor_log_abs(
    name: str, params: Mapping[str, float], count: int, gen: torch.Generator,
    dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu",
) -> tuple[Tensor, Tensor]:
    """Draw ``count`` copies of one factor as ``(log|X|, sign X)`` tensors.

    >>> g = torch.Generator().manual_seed(0)
    >>> la, s = sample_factor_log_abs("gamma", {"k": 2.0, "theta": 1.0}, 3, g)
    >>> la.shape, bool((s == 1).all())
    (torch.Size([3]), True)
    """
    name, p = _check_spec(0, (name, params))
    dev = torch.device(device)
    if name == "normal":
        x = torch.randn((count,), generator=gen, dtype=dtype, device=dev) * p["sigma"]
        x = x + p.get("mu", 0.0)
        return torch.log(x.abs()), torch.sign(x)
    if name == "uniform":
        u = torch.rand((count,), generator=gen, dtype=dtype, device=dev)
        x = p["a"] + (p["b"] - p["a"]) * u
        return torch.log(x.abs()), torch.sign(x)
    ones = torch.ones((count,), dtype=dtype, device=dev)
    if name in ("gamma", "chi2"):
        if name == "gamma":
            k, theta = p["k"], p["theta"]
        else:
            k, theta = p["k"] / 2, 2 * p.get("scale", 1.0)
        return _log_gamma_variates(k, count, gen, dtype, dev) + float(np.log(theta)), ones
    lx = _log_gamma_variates(p["a"], count, gen, dtype, dev)
    ly = _log_gamma_variates(p["b"], count, gen, dtype, dev)
    return lx - torch.logaddexp(lx, ly), ones


def _draw(
    factors: Sequence[FactorSpec], count: int, seed: int, dtype: Any, device: Any
) -> tuple[Tensor, Tensor, list[tuple[str, dict[str, float]]]]:
    if isinstance(factors, str | bytes) or not isinstance(factors, Sequence) or not factors:
        raise ValueError(
            f"factors must be a non-empty list of (name, params) specs, got {factors!r}"
        )
    specs = [_check_spec(i, f) for i, f in enumerate(factors)]
    count = check_int("count", count)
    seed = check_int("seed", seed, minimum=0)
    dtype = check_dtype(dtype)
    dev = check_device(device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    log_abs = torch.zeros((count,), dtype=dtype, device=dev)
    sign = torch.ones((count,), dtype=dtype, device=dev)
    for name, p in specs:
        la, s = sample_factor_log_abs(name, p, count, gen, dtype, dev)
        log_abs += la
        sign *= s
    return log_abs, sign, specs


def sample_log_abs_product(
    factors: Sequence[FactorSpec],
    count: int,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """``(log|X|, sign X)`` of ``count`` draws of the product (numpy float64 arrays).

    ``log|X| = Σ_k log|X_k|`` [ref: definition]; a zero factor gives ``-inf`` and sign 0.

    >>> la, s = sample_log_abs_product([("uniform", {"a": 0.0, "b": 1.0})] * 3, 4, seed=0)
    >>> la.shape, bool((la < 0).all())
    ((4,), True)
    """
    log_abs, sign, _ = _draw(factors, count, seed, dtype, device)
    return log_abs.double().cpu().numpy(), sign.double().cpu().numpy()


def sample_product(
    factors: Sequence[FactorSpec],
    count: int,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """``count`` draws of ``X = ∏_k X_k`` for independent factors (numpy float64).

    Computed as ``sign · exp(Σ log|X_k|)``. Products beyond the float64 range come back as 0
    or ±inf; use :func:`sample_log_abs_product` for those.

    Args:
        factors: list of ``(name, params)`` specs (see module docstring).
        count: number of draws (≥ 1).
        seed: generator seed (≥ 0); same seed, device and dtype give identical draws.
        dtype: working floating dtype (the result is float64 numpy either way).
        device: torch device of the generator and the arithmetic.

    >>> x = sample_product([("normal", {"sigma": 1.0}), ("normal", {"sigma": 2.0})], 5, seed=0)
    >>> x.shape, x.dtype
    ((5,), dtype('float64'))
    """
    log_abs, sign, _ = _draw(factors, count, seed, dtype, device)
    return (sign * torch.exp(log_abs)).double().cpu().numpy()


def product_samples(
    factors: Sequence[FactorSpec],
    count: int,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> Samples:
    """:func:`sample_product` with its provenance record (a :class:`Samples`).

    >>> s = product_samples([("beta", {"a": 2.0, "b": 3.0})], 3, seed=1)
    >>> len(s), s.provenance["builder"]
    (3, 'sample_product')
    """
    values = sample_product(factors, count, seed, dtype, device)
    specs = [[name, dict(p)] for name, p in (_check_spec(i, f) for i, f in enumerate(factors))]
    prov = make_provenance(
        "sample_product", {"factors": specs, "count": count}, seed=seed, dtype=dtype, device=device
    )
    return Samples(values=values, provenance=prov)
