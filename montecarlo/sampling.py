"""Samples of random networks' forward quantities: outputs, derivatives and norms, chunked.

Thin, memory-bounded wrappers around :func:`flatstart.montecarlo.networks.chains`,
:func:`flatstart.montecarlo.networks.mlps` and
:func:`flatstart.montecarlo.derivatives.chain_gradients` that return plain numpy arrays (what
a claim's ``simulate`` caches). No theory is used here.

* :func:`chain_samples`: outputs and weight derivatives ``∂f/∂w_i`` of width-1 chains;
* :func:`norm_ratios`: ``‖x_L‖² / ‖x_0‖²`` of bias-free wide networks;
* :func:`residual_chain_outputs`: ``f(x)`` of residual chains ``x_{l+1} = (1 + α w_l) x_l``;
* :func:`normalized_sq_norms`: ``‖x_L‖²/n_L`` of ReLU MLPs with or without normalization;
* :func:`residual_block_stack`: ``‖x_l‖²`` along ``x_l = x_{l-1} + η_l W_2 ReLU(W_1 x_{l-1})``
  built from real two-layer :func:`~flatstart.montecarlo.networks.mlps` blocks, whose readout
  :func:`readout_to_lecun` rescales from He to LeCun (Hanin's setting).

Chunking (:func:`chain_samples`, :func:`norm_ratios`): a request whose parameter tensor would
exceed ``max_elements`` float64 numbers is split over networks; chunk ``j`` is built with seed
``chunk_seeds(seed, chunks)[j]``. A request that fits in one chunk uses ``seed`` itself, so it
is the same sample as calling the builder directly with that seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_choice, check_int, check_positive, check_real
from flatstart._seeds import derive_seed
from flatstart.montecarlo.derivatives import chain_gradients
from flatstart.montecarlo.networks import NetworkBatch, chains, check_device, mlps

__all__ = [
    "MAX_ELEMENTS",
    "ChainSamples",
    "chain_samples",
    "chunk_seeds",
    "norm_ratios",
    "normalized_sq_norms",
    "readout_to_lecun",
    "residual_block_stack",
    "residual_chain_outputs",
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


def residual_chain_outputs(
    count: int,
    depth: int,
    alpha: float,
    *,
    sigma: float | None = None,
    bound: float | None = None,
    x: float = 1.0,
    seed: int = 0,
    device: str = "cpu",
) -> np.ndarray:
    """``f(x) = ∏_l (1 + α w_l) x`` of ``count`` linear residual chains (real torch nets).

    Built by :func:`~flatstart.montecarlo.networks.chains` with ``residual=α`` (every layer
    ``x_l = x_{l-1} + α w_l x_{l-1}``); ``N(0, σ²)`` (``sigma``) or ``U(−a, a)`` (``bound``)
    weights. Returns float64 ``(count,)``.

    >>> residual_chain_outputs(2, 3, 0.5, sigma=1.0, seed=0).shape
    (2,)
    """
    count = check_int("count", count)
    depth = check_int("depth", depth)
    alpha = check_positive("alpha", alpha)
    xv = check_real("x", x)
    nets = chains(count=count, depth=depth, sigma=sigma, bound=bound, residual=alpha,
                  dtype=torch.float64, device=device, seed=seed)
    with torch.no_grad():
        out = nets(torch.full((1, 1), xv, dtype=torch.float64, device=nets.device))
    return out.reshape(count).cpu().numpy().astype(np.float64)


def normalized_sq_norms(
    count: int,
    width: int,
    depth: int,
    norm: str | None = "layer",
    *,
    init: str = "he_normal",
    seed: int = 0,
    device: str = "cpu",
) -> np.ndarray:
    """``‖x_L‖²/n`` of ``count`` bias-free ReLU MLPs of width ``n`` (real torch nets).

    :func:`~flatstart.montecarlo.networks.mlps` with ``input_dim = width``, every layer hidden
    (``x_l = relu(norm(W_l x_{l-1}))``, ``norm`` = ``"layer"``, ``"batch"`` or ``None``; the
    affine map of the norm at its init ``γ = 1, β = 0``), evaluated on the input
    ``x_0 = (1, …, 1)`` (``‖x_0‖²/n = 1``). Batch norm needs a batch: ``x_0`` and ``width − 1``
    further inputs ``e_1, …`` scaled to norm ``√n``; the value of ``x_0`` is returned.

    >>> normalized_sq_norms(2, 4, 3, seed=0).shape
    (2,)
    """
    count = check_int("count", count)
    width = check_int("width", width)
    depth = check_int("depth", depth)
    if norm is not None:
        norm = check_choice("norm", norm, ("layer", "batch"))
    nets = mlps(count=count, width=width, depth=depth, activation="relu", init=init,
                input_dim=width, norm=norm, dtype=torch.float64, device=device, seed=seed)
    x0 = torch.ones((1, width), dtype=torch.float64, device=nets.device)
    if norm == "batch":
        extra = torch.eye(width, dtype=torch.float64, device=nets.device)[: width - 1]
        x0 = torch.cat([x0, extra * width**0.5], dim=0)
    with torch.no_grad():
        xl = nets(x0)[:, 0, :]  # (count, width)
    return (xl.square().sum(dim=1) / width).cpu().numpy().astype(np.float64)


def readout_to_lecun(nets: NetworkBatch) -> NetworkBatch:
    r"""Rescale (in place) the readout weights of He-initialized nets to ``N(0, 1/n_L)``.

    ``he_normal`` draws ``N(0, 2/n_L)`` for the readout as well; multiplying it by ``1/√2``
    gives exactly ``N(0, 1/n_L)`` (a Gaussian scaled by a constant) [derived]. Returns ``nets``.

    >>> nets = readout_to_lecun(mlps(count=2, width=4, depth=2, output_dim=1, seed=0))
    >>> nets.parameters()[-1].shape
    torch.Size([2, 1, 4])
    """
    if not isinstance(nets, NetworkBatch):
        raise TypeError(f"nets must be a NetworkBatch, got {type(nets).__name__}")
    if nets.init != "he_normal" or nets.layers[-1].activation:
        raise ValueError(
            "readout_to_lecun needs he_normal nets with a linear readout (output_dim set), got "
            f"init={nets.init!r}, readout={'no' if nets.layers[-1].activation else 'yes'}"
        )
    with torch.no_grad():
        nets.parameters()[nets.depth - 1].mul_(1.0 / math.sqrt(2.0))
    return nets


def residual_block_stack(
    count: int,
    width: int,
    inner: int,
    etas: Sequence[float],
    x: Any = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    r"""Squared norms ``‖x_l‖²`` of ``x_l = x_{l-1} + η_l W_2^{(l)} ReLU(W_1^{(l)} x_{l-1})``.

    Each block is a real two-layer :func:`flatstart.montecarlo.networks.mlps` batch (``count`` nets,
    input ``width``, hidden ``inner``, linear readout ``width``) with ``W_1 ~ N(0, 2/width)``
    (He) and ``W_2 ~ N(0, 1/inner)`` (He readout rescaled by :func:`readout_to_lecun`); block
    ``l`` uses seed ``seed + l`` and its own generator, so blocks are independent
    (Hanin & Rolnick 2018's residual architecture, bias-free).

    Args:
        count: number of independent networks.
        width: ``n`` (input and residual stream width).
        inner: ``m`` (hidden width of each block).
        etas: ``[η_1, …, η_L]``.
        x: input ``(n,)`` (default all ones).
        seed: base seed.
        device: torch device.

    Returns:
        ``(count, L + 1)`` float64 numpy array of ``‖x_l‖²``, ``l = 0..L``.

    >>> residual_block_stack(3, 4, 5, [0.5, 0.5]).shape
    (3, 3)
    """
    count = check_int("count", count)
    width = check_int("width", width)
    inner = check_int("inner", inner)
    seed = check_int("seed", seed, minimum=0)
    dev = check_device(device)
    es = [check_positive("etas", e) for e in etas]
    if not es:
        raise ValueError("etas must be non-empty")
    x0 = torch.ones(width, dtype=torch.float64) if x is None else torch.as_tensor(
        x, dtype=torch.float64).reshape(-1)
    if x0.numel() != width:
        raise ValueError(f"x must have width={width} entries, got {x0.numel()}")
    h = x0.to(dev).reshape(1, 1, width).expand(count, 1, width).contiguous()
    norms = [h.square().sum(-1)[:, 0]]
    for i, eta in enumerate(es):
        block = readout_to_lecun(mlps(
            count=count, width=[inner], depth=2, activation="relu", init="he_normal",
            input_dim=width, output_dim=width, device=dev, seed=seed + i,
        ))
        with torch.no_grad():
            h = h + eta * block(h)
        norms.append(h.square().sum(-1)[:, 0])
    return torch.stack(norms, dim=1).double().cpu().numpy()
