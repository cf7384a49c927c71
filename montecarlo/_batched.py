"""Helpers shared by :mod:`~flatstart.montecarlo.derivatives`,
:mod:`~flatstart.montecarlo.jacobians` and :mod:`~flatstart.montecarlo.per_sample`.

Argument checks of a :class:`~flatstart.montecarlo.networks.NetworkBatch`, inputs and targets
in the batched layout, and the split of a large request over sub-batches of networks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from flatstart.montecarlo.networks import NetworkBatch

__all__ = [
    "check_nets",
    "chunked",
    "inputs",
    "leaf_params",
    "require_per_sample",
    "targets",
]


def check_nets(nets: Any) -> NetworkBatch:
    """``nets`` itself if it is a :class:`NetworkBatch`, else a ``TypeError``."""
    if not isinstance(nets, NetworkBatch):
        raise TypeError(
            f"nets must be a NetworkBatch (from mlps or chains), got {type(nets).__name__}"
        )
    return nets


def require_per_sample(nets: NetworkBatch, what: str) -> None:
    """Refuse ``norm="batch"``: its per-sample quantities are not defined."""
    if nets.norm == "batch":
        raise ValueError(
            f"{what} is not defined per sample for norm='batch' (batch statistics couple the "
            "samples); use norm=None or norm='layer'"
        )


def targets(nets: NetworkBatch, y: Any, batch: int) -> Tensor:
    """Targets as a ``(1 or count, batch, n_L)`` tensor."""
    t = torch.as_tensor(y, dtype=nets.dtype, device=nets.device)
    n_out = nets.output_dim
    if t.ndim == 0:
        return t.reshape(1, 1, 1).expand(1, batch, n_out)
    if t.ndim == 1:
        if n_out == 1 and t.shape[0] == batch:
            t = t.reshape(1, batch, 1)
        elif t.shape[0] == n_out:
            t = t.reshape(1, 1, n_out).expand(1, batch, n_out)
        else:
            raise ValueError(f"y of shape {tuple(t.shape)} does not fit batch={batch}, out={n_out}")
    elif t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3 or t.shape[1:] != (batch, n_out) or t.shape[0] not in (1, nets.count):
        raise ValueError(
            f"y must be a scalar or have shape ({batch}, {n_out}) or "
            f"({nets.count}, {batch}, {n_out}), got {tuple(torch.as_tensor(y).shape)}"
        )
    return t


def inputs(nets: NetworkBatch, x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """``(x, y)`` as ``(batch, n_0)`` / ``(count, batch, n_0)`` inputs and :func:`targets`."""
    xt = nets.prepare_input(x)
    return xt, targets(nets, y, xt.shape[-2])


def _slice_lead(t: Tensor, sl: slice, count: int) -> Tensor:
    return t[sl] if t.ndim == 3 and t.shape[0] == count and count > 1 else t


def chunked(
    nets: NetworkBatch,
    xt: Tensor,
    yt: Tensor | None,
    max_bytes: int,
    factor: float,
    fn: Callable[[NetworkBatch, Tensor, Tensor | None], list[Tensor]],
) -> list[Tensor]:
    """Apply ``fn`` to sub-batches of networks fitting ``max_bytes``, results stacked along dim 0.

    Every result of ``fn`` must have the sub-batch's network count as its leading dimension.
    Each chunk's results are written into outputs preallocated after the first chunk (no
    ``torch.cat``: the stacked result is held once, not twice, and never copied as a whole).
    """
    batch = xt.shape[-2]
    pieces = list(nets.chunks(batch=batch, max_bytes=max_bytes, factor=factor))
    if len(pieces) == 1:
        return fn(nets, xt, yt)
    n = nets.count
    out: list[Tensor] = []
    for sl, sub in pieces:
        res = fn(sub, _slice_lead(xt, sl, n), None if yt is None else _slice_lead(yt, sl, n))
        if not out:
            out = [torch.empty((n, *r.shape[1:]), dtype=r.dtype, device=r.device) for r in res]
        for o, r in zip(out, res, strict=True):
            assert r.shape[0] == sl.stop - sl.start, (r.shape, sl)
            o[sl].copy_(r)
    return out


def leaf_params(nets: NetworkBatch, params: Sequence[Tensor] | None = None) -> list[Tensor]:
    """Detached copies of the parameters (or of ``params``) that require gradients."""
    ps = nets.parameters() if params is None else list(params)
    return [p.detach().requires_grad_(True) for p in ps]
