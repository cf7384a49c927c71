"""Measurements for the vanishing-curvature (VC) claims: chains and wide nets, chunked.

Thin, memory-bounded wrappers around :func:`flatstart.montecarlo.networks.chains`,
:func:`flatstart.montecarlo.networks.mlps` and
:func:`flatstart.montecarlo.derivatives.chain_gradients` that return
plain numpy arrays (what a claim's ``simulate`` caches). No theory is used here.

Chunking: a request whose parameter tensor would exceed ``max_elements`` float64 numbers is
split over networks; chunk ``j`` is built with seed ``chunk_seeds(seed, chunks)[j]``. A request
that fits in one chunk uses ``seed`` itself, so it is the same sample as calling the builder
directly with that seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_choice, check_int, check_real
from flatstart._seeds import derive_seed
from flatstart.montecarlo.derivatives import chain_gradients
from flatstart.montecarlo.networks import chains, mlps

__all__ = [
    "ChainSamples",
    "chain_samples",
    "chunk_seeds",
    "norm_ratios",
]

#: Default cap on the float64 parameter entries held at once (2^24 ≈ 128 MiB).
MAX_ELEMENTS = 1 << 24


def chunk_seeds(seed: int, chunks: int) -> list[int]:
    """Seeds of ``chunks`` independent chunks derived from ``seed``.

    One chunk: ``[seed]``; otherwise ``SeedSequence([seed, j]).generate_state(2)`` folded to a
    nonnegative 63-bit integer for ``j = 0..chunks-1``.

    >>> chunk_seeds(5, 1)
    [5]
    >>> len(set(chunk_seeds(5, 3)))
    3
    """
    seed = check_int("seed", seed, minimum=0)
    chunks = check_int("chunks", chunks)
    if chunks == 1:
        return [seed]
    return [derive_seed([seed & 0xFFFFFFFF, seed >> 32, j]) for j in range(chunks)]


def _splits(count: int, per_net: int, max_elements: int) -> list[int]:
    size = max(1, min(count, max_elements // max(1, per_net)))
    sizes = [size] * (count // size)
    if count % size:
        sizes.append(count % size)
    return sizes


@dataclass(frozen=True)
class ChainSamples:
    """Outputs and selected weight derivatives of independent width-1 chains.

    Attributes:
        output: ``(count,)`` outputs ``f(x)``.
        df_dw: ``(count, len(layers))``: ``∂f/∂w_i`` for the requested 1-based ``layers``.
        dead: ``(count,)`` bool: every ``∂f/∂w_i`` (all layers) is exactly 0 (``∇f ≡ 0``).
        provenance: the builder's arguments and the chunk seeds.
    """

    output: np.ndarray
    df_dw: np.ndarray
    dead: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)


def chain_samples(
    count: int,
    depth: int,
    *,
    init: str | None = None,
    sigma: float | None = None,
    bound: float | None = None,
    activation: str = "linear",
    x: float = 1.0,
    layers: tuple[int, ...] = (),
    seed: int = 0,
    device: str = "cpu",
    max_elements: int = MAX_ELEMENTS,
) -> ChainSamples:
    """Build ``count`` chains (:func:`~flatstart.montecarlo.networks.chains`, float64) and
    differentiate.

    One forward and one backward pass per chunk
    (:func:`~flatstart.montecarlo.derivatives.chain_gradients`
    with target 0); exactly one of ``init``/``sigma``/``bound`` sets the weight law.

    >>> r = chain_samples(4, 3, sigma=1.0, layers=(1,), seed=0)
    >>> r.output.shape, r.df_dw.shape, r.dead.tolist()
    ((4,), (4, 1), [False, False, False, False])
    """
    count = check_int("count", count)
    depth = check_int("depth", depth)
    x = check_real("x", x)
    max_elements = check_int("max_elements", max_elements)
    lay = tuple(check_int("layers", i, minimum=1, maximum=depth) for i in layers)
    sizes = _splits(count, 4 * depth, max_elements)
    seeds = chunk_seeds(seed, len(sizes))
    outs, grads, dead = [], [], []
    for n, s in zip(sizes, seeds, strict=True):
        nets = chains(count=n, depth=depth, init=init, sigma=sigma, bound=bound,
                      activation=activation, dtype=torch.float64, device=device, seed=s)
        g = chain_gradients(nets, x=x, y=0.0)
        outs.append(g.output)
        grads.append(g.df_dw[:, [i - 1 for i in lay]])
        dead.append(np.all(g.df_dw == 0.0, axis=1))
    prov = {"builder": "chains", "count": count, "depth": depth, "init": init, "sigma": sigma,
            "bound": bound, "activation": activation, "x": x, "layers": list(lay),
            "seed": seed, "chunk_seeds": seeds, "device": str(device)}
    return ChainSamples(np.concatenate(outs), np.concatenate(grads), np.concatenate(dead), prov)


def norm_ratios(
    count: int,
    width: int,
    depth: int,
    activation: str = "linear",
    init: str = "lecun_normal",
    *,
    seed: int = 0,
    device: str = "cpu",
    max_elements: int = MAX_ELEMENTS,
) -> np.ndarray:
    r"""``‖x_L‖² / ‖x_0‖²`` of ``count`` independent bias-free width-``n`` networks.

    Networks from :func:`~flatstart.montecarlo.networks.mlps` with ``input_dim = width``, every
    layer ``x_l = φ(W_l x_{l-1})`` (no readout), evaluated on the fixed unit input
    ``x_0 = (1, …, 1)/√n``. Returns float64 ``(count,)`` (exact zeros for dead ReLU nets).

    >>> r = norm_ratios(3, 4, 2, seed=0)
    >>> r.shape, bool((r > 0).all())
    ((3,), True)
    """
    count = check_int("count", count)
    width = check_int("width", width)
    depth = check_int("depth", depth)
    activation = check_choice("activation", activation, ("linear", "relu", "tanh"))
    max_elements = check_int("max_elements", max_elements)
    sizes = _splits(count, depth * width * width, max_elements)
    seeds = chunk_seeds(seed, len(sizes))
    x0 = torch.full((1, width), width**-0.5, dtype=torch.float64, device=device)
    x0_sq = float(x0.square().sum())
    out = []
    for n, s in zip(sizes, seeds, strict=True):
        nets = mlps(count=n, width=width, depth=depth, activation=activation, init=init,
                    input_dim=width, dtype=torch.float64, device=device, seed=s)
        with torch.no_grad():
            xl = nets(x0)  # (n, 1, width)
        out.append((xl.reshape(n, width).square().sum(dim=1) / x0_sq).cpu().numpy())
    return np.concatenate(out).astype(np.float64)
