"""Measurements on random wide networks for the ``RW`` claims (torch; no theory formulas).

Small, fast measurements that the ``RW`` catalogue claims need and that are not generic enough
for :mod:`flatstart.montecarlo.derivatives`:

* :func:`readout_to_lecun` rescales the readout of He-initialized nets so that it is
  ``N(0, 1/n_L)`` (Hanin's setting: He hidden layers, LeCun readout);
* :func:`scalar_input_gradients`: ``∂f/∂x`` of every network with a scalar output;
* :func:`mask_jacobians`: input–output Jacobians ``J = D_L W_L ⋯ D_1 W_1`` of bias-free, plain
  (no norm, no residual) linear/ReLU MLPs by batched matrix products of the activation masks
  and weights;
* :func:`residual_block_stack`: ``x_l = x_{l-1} + η_l W_2 ReLU(W_1 x_{l-1})`` built from real
  :func:`flatstart.montecarlo.networks.mlps` two-layer blocks, returning the layer norms.

The two Jacobian helpers are thin wrappers of the public fast path
:func:`flatstart.montecarlo.derivatives.input_jacobian` (``method="product"``, the same batched mask
products, as fast as the former hand-written versions); its tests compare it with the slow
module reference :func:`flatstart.montecarlo.derivatives.input_jacobian_reference`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flatstart._checks import check_int, check_positive
from flatstart.montecarlo.derivatives import input_jacobian
from flatstart.montecarlo.networks import NetworkBatch, check_device, mlps

__all__ = [
    "mask_jacobians",
    "readout_to_lecun",
    "residual_block_stack",
    "scalar_input_gradients",
]


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


def scalar_input_gradients(nets: NetworkBatch, x: Any) -> Tensor:
    r"""Gradients ``∂f_k(x)/∂x`` of every network's scalar output at one input ``x``.

    Row ``0`` of :func:`flatstart.montecarlo.derivatives.input_jacobian` (cotangent products
    ``e_1ᵀ ∏ J_l``, one batched pass for all networks) [derived: chain rule]. Returns a
    ``(count, n_0)`` tensor; ``x`` has shape ``(n_0,)`` or ``(1, n_0)``.

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=3, depth=2, sigma=1.0, seed=0)
    >>> g = scalar_input_gradients(c, torch.ones(1))
    >>> p = c.parameters()
    >>> bool(torch.allclose(g.reshape(3), (p[0] * p[1]).reshape(3)))
    True
    """
    if nets.output_dim != 1:
        raise ValueError(f"nets must have a scalar output, got output_dim={nets.output_dim}")
    xt = torch.as_tensor(x, dtype=nets.dtype, device=nets.device).reshape(1, 1, -1)
    if xt.shape[-1] != nets.input_dim:
        raise ValueError(f"x must have {nets.input_dim} entries, got {xt.shape[-1]}")
    return input_jacobian(nets, xt[0], method="product")[:, 0, 0, :]


def mask_jacobians(nets: NetworkBatch, x: Any) -> Tensor:
    r"""Input–output Jacobians ``J = D_L W_L ⋯ D_1 W_1`` at one input, ``(count, n_L, n_0)``.

    For a bias-free plain MLP ``x_l = φ(W_l x_{l-1})`` (``φ`` linear or ReLU, no norm, no
    residual) the chain rule gives ``J = ∏ D_l W_l`` with ``D_l = diag(φ'(W_l x_{l-1}))``
    (``1[h > 0]`` for ReLU; the identity for a linear readout) [derived: chain rule], evaluated
    by :func:`flatstart.montecarlo.derivatives.input_jacobian` (``method="product"``), which is
    tested against the module reference ``input_jacobian_reference``.

    >>> nets = mlps(count=2, width=3, depth=2, seed=0)
    >>> mask_jacobians(nets, torch.ones(3)).shape
    torch.Size([2, 3, 3])
    """
    if not isinstance(nets, NetworkBatch):
        raise TypeError(f"nets must be a NetworkBatch, got {type(nets).__name__}")
    if nets.bias or nets.norm is not None or any(s.residual for s in nets.layers):
        raise ValueError("mask_jacobians needs bias-free plain MLPs (no norm, no residual)")
    if nets.activation not in ("linear", "relu"):
        raise ValueError(f"activation must be 'linear' or 'relu', got {nets.activation!r}")
    xt = torch.as_tensor(x, dtype=nets.dtype, device=nets.device).reshape(1, -1)
    return input_jacobian(nets, xt, method="product")[:, 0]


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
