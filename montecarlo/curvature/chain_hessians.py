"""Dense Hessians of the loss of many random width-1 chains at initialization.

:func:`chain_hessian_samples` builds ``count`` chains
(:func:`flatstart.montecarlo.networks.chains`), takes the dense Hessian of
``ℓ = ½(f(x) − y)²`` of every chain at once (batched HVPs on the cached double-backward graph
of :func:`~flatstart.montecarlo.curvature.operator.dense_hessian`) and returns its eigenvalues,
its trace, the gradient norm and the output as numpy arrays;
:func:`chain_hessian_samples_reference` is the slow loop over ``nn.Module`` chains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_int, check_positive, check_real
from flatstart.montecarlo.curvature.flat import flat_function_batch
from flatstart.montecarlo.curvature.operator import dense_hessian
from flatstart.montecarlo.networks import chains

__all__ = [
    "ChainHessianSamples",
    "chain_hessian_samples",
    "chain_hessian_samples_reference",
]


@dataclass(frozen=True)
class ChainHessianSamples:
    """Hessian and gradient of ``ℓ = ½(f(x) − y)²`` at init, one row per chain (float64).

    Attributes:
        eigenvalues: ``(count, L)`` ascending eigenvalues of the dense Hessian.
        trace: ``(count,)`` ``tr H``.
        grad_norm: ``(count,)`` ``‖∇ℓ‖``.
        output: ``(count,)`` ``f(x)``.
        provenance: builder arguments.
    """

    eigenvalues: np.ndarray
    trace: np.ndarray
    grad_norm: np.ndarray
    output: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)


def chain_hessian_samples(
    count: int,
    depth: int,
    *,
    sigma: float = 1.0,
    x: float = 1.0,
    y: float = 0.0,
    seed: int = 0,
    device: str = "cpu",
) -> ChainHessianSamples:
    """Dense Hessians of ``count`` linear chains with ``N(0, σ²)`` weights (real torch nets).

    The chains come from :func:`~flatstart.montecarlo.networks.chains` (float64); the Hessian of
    ``ℓ = ½(f(x) − y)²`` (loss ``"half_sq_norm_sum"``) is
    :func:`~flatstart.montecarlo.curvature.operator.dense_hessian` (``L`` batched HVPs, autograd
    double backward), symmetrized and diagonalized with ``torch.linalg.eigvalsh``;
    the gradient by autograd. [derived: definitions]

    >>> r = chain_hessian_samples(3, 2, seed=0)
    >>> r.eigenvalues.shape, bool(np.allclose(r.trace, r.eigenvalues.sum(1)))
    ((3, 2), True)
    """
    count = check_int("count", count)
    depth = check_int("depth", depth)
    sigma = check_positive("sigma", sigma)
    xv = check_real("x", x)
    yv = check_real("y", y)
    nets = chains(count=count, depth=depth, sigma=sigma, dtype=torch.float64, device=device,
                  seed=seed)
    xt = torch.full((1, 1), xv, dtype=torch.float64, device=nets.device)
    yt = torch.full((1, 1), yv, dtype=torch.float64, device=nets.device)
    f, theta = flat_function_batch(nets, xt, yt, loss="half_sq_norm_sum")
    h = dense_hessian(f, theta, method="hvp")
    h = 0.5 * (h + h.transpose(-1, -2))
    ev = torch.linalg.eigvalsh(h)
    th = theta.clone().requires_grad_(True)
    with torch.enable_grad():
        g = torch.autograd.grad(f(th).sum(), th)[0]
    with torch.no_grad():
        out = nets(xt).reshape(count)
    prov = {"builder": "chains", "count": count, "depth": depth, "sigma": sigma, "x": xv,
            "y": yv, "seed": seed, "device": str(device), "hessian": "dense_hessian(hvp)"}
    return ChainHessianSamples(
        eigenvalues=ev.cpu().numpy(),
        trace=torch.diagonal(h, dim1=-2, dim2=-1).sum(-1).cpu().numpy(),
        grad_norm=g.norm(dim=1).cpu().numpy(),
        output=out.cpu().numpy(),
        provenance=prov,
    )


def chain_hessian_samples_reference(
    count: int, depth: int, *, sigma: float = 1.0, x: float = 1.0, y: float = 0.0,
    seed: int = 0,
) -> ChainHessianSamples:
    """Slow reference: one ``nn.Module`` per chain and ``torch.autograd.functional.hessian``."""
    nets = chains(count=count, depth=depth, sigma=sigma, dtype=torch.float64, seed=seed)
    xt = torch.full((1, 1), float(x), dtype=torch.float64)
    yt = torch.full((1, 1), float(y), dtype=torch.float64)
    evs, trs, gns, outs = [], [], [], []
    for k in range(count):
        mod = nets.to_module(k)
        names = [n for n, _ in mod.named_parameters()]
        theta = torch.cat([p.detach().reshape(-1) for p in mod.parameters()])

        def loss(t: torch.Tensor, mod: Any = mod, names: list[str] = names) -> torch.Tensor:
            params = {n: t[i].reshape(1, 1) for i, n in enumerate(names)}
            out = torch.func.functional_call(mod, params, (xt,))
            return 0.5 * ((out - yt) ** 2).sum()

        h = torch.autograd.functional.hessian(loss, theta)
        th = theta.clone().requires_grad_(True)
        g = torch.autograd.grad(loss(th), th)[0]
        evs.append(torch.linalg.eigvalsh(h).numpy())
        trs.append(float(torch.trace(h)))
        gns.append(float(g.norm()))
        with torch.no_grad():
            outs.append(float(mod(xt).reshape(())))
    return ChainHessianSamples(np.stack(evs), np.array(trs), np.array(gns), np.array(outs),
                               {"reference": True})
