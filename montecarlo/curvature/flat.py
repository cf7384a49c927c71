"""Losses as functions of flat parameters: the one adapter between networks and curvature tools.

:func:`flat_function` turns an ``nn.Module`` + loss + data into ``f(theta)`` of a flat
``(P,)`` vector; :func:`flat_function_batch` turns a network batch (``nets.parameters()`` a list
of tensors with leading dimension ``count`` and ``nets.forward(x, params=...)`` returning
``(count, batch, out)``) into ``f: (count, P) -> (count,)``. Losses by name come from
:mod:`flatstart.montecarlo.losses`; :func:`flatstart.montecarlo.derivatives.flat_loss` is built
on :class:`BatchFlatFunction`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from flatstart.montecarlo.losses import check_loss, network_loss

__all__ = [
    "BatchFlatFunction",
    "FlatFunction",
    "flat_function",
    "flat_function_batch",
]


class FlatFunction:
    """``f(theta) = loss_fn(module(x; theta), y)`` with the module's parameters flattened.

    ``theta`` is the concatenation of ``p.reshape(-1)`` over ``module.named_parameters()``;
    calling evaluates the module functionally (``torch.func.functional_call``), so the module's
    parameters are never modified (buffers are used as they are: put modules with batch norm in
    ``eval()`` mode, or their running statistics change at every call). Unpacks as
    ``f, theta = flat_function(...)``.

    Attributes:
        theta: the module's current parameters, flattened (detached copy).
        names, shapes: parameter names and shapes, in order.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        x: torch.Tensor,
        y: torch.Tensor,
    ) -> None:
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        named = [(n, p) for n, p in module.named_parameters()]
        if not named:
            raise ValueError("module has no parameters")
        dtypes = {p.dtype for _, p in named}
        if len(dtypes) != 1:
            raise ValueError(
                f"module parameters must share one dtype, got {sorted(map(str, dtypes))}"
            )
        self.module = module
        self.loss_fn = loss_fn
        self.x = x
        self.y = y
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.numels = [p.numel() for _, p in named]
        self.buffers = dict(module.named_buffers())
        self.theta = torch.cat([p.detach().reshape(-1) for _, p in named]).clone()

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``{name: tensor}`` views of the flat ``theta``."""
        if theta.ndim != 1 or theta.shape[0] != self.theta.shape[0]:
            raise ValueError(
                f"theta must have shape ({self.theta.shape[0]},), got {tuple(theta.shape)}"
            )
        parts = torch.split(theta, self.numels)
        return {n: t.reshape(s) for n, t, s in zip(self.names, parts, self.shapes, strict=True)}

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        params: dict[str, torch.Tensor] = dict(self.unflatten(theta))
        params.update(self.buffers)
        out = torch.func.functional_call(self.module, params, (self.x,))
        return self.loss_fn(out, self.y)

    def __iter__(self) -> Iterator[Any]:
        yield self
        yield self.theta


def flat_function(
    module: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
) -> FlatFunction:
    """Return the loss of ``module`` on ``(x, y)`` as a function of its flat parameters.

    Args:
        module: any ``torch.nn.Module`` (parameters of one dtype).
        loss_fn: ``loss_fn(module(x), y) -> scalar``, e.g. ``torch.nn.functional.mse_loss``.
        x, y: data.

    Returns:
        A :class:`FlatFunction` ``f`` with ``f.theta`` the current parameters; use
        ``f, theta = flat_function(...)``.

    >>> from flatstart.montecarlo.curvature.operator import dense_hessian
    >>> net = torch.nn.Linear(2, 1).double()
    >>> f, theta = flat_function(net, torch.nn.functional.mse_loss,
    ...                          torch.ones(4, 2, dtype=torch.float64),
    ...                          torch.zeros(4, 1, dtype=torch.float64))
    >>> tuple(theta.shape), tuple(dense_hessian(f, theta).shape)
    ((3,), (3, 3))
    """
    return FlatFunction(module, loss_fn, x, y)


class BatchFlatFunction:
    """Per-network losses of a network batch as a function of ``(count, P)`` parameters.

    ``theta[i]`` is the concatenation of ``p[i].reshape(-1)`` over ``nets.parameters()``; the
    call splits ``theta`` back into ``(count, *shape)`` tensors and evaluates
    ``nets.forward(x, params=...)`` -> ``(count, batch, out)``. Losses per network: a name of
    :data:`flatstart.montecarlo.losses.LOSSES` (``"mse"``: ``mean_{batch, out} (out - y)^2``,
    ``torch.nn.functional.mse_loss`` per network; ``"cross_entropy"``: mean over the batch of
    the softmax cross-entropy with integer labels ``y``; ...) evaluated by
    :func:`flatstart.montecarlo.losses.network_loss`, or a callable ``loss(out, y) ->
    (count,)``. ``y`` is shared ``(batch, ...)`` or per network ``(count, batch, ...)``.
    Unpacks as ``f, theta = flat_function_batch(...)``.
    """

    def __init__(self, nets: Any, x: torch.Tensor, y: torch.Tensor, loss: Any = "mse") -> None:
        if not hasattr(nets, "parameters") or not hasattr(nets, "forward"):
            raise TypeError("nets must provide parameters() and forward(x, params=...)")
        params = list(nets.parameters())
        if not params or not all(isinstance(p, torch.Tensor) and p.ndim >= 1 for p in params):
            raise ValueError("nets.parameters() must be a non-empty list of tensors (count, ...)")
        count = int(params[0].shape[0])
        if any(int(p.shape[0]) != count for p in params):
            raise ValueError(
                f"every parameter tensor needs the leading network dim {count}, got "
                f"{[tuple(p.shape) for p in params]}"
            )
        if not callable(loss):
            loss = check_loss(loss, where="flat_function_batch")
        self.nets = nets
        self.x = x
        self.y = y
        self.loss = loss
        self.count = count
        self.shapes = [tuple(p.shape[1:]) for p in params]
        self.numels = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        self.theta = torch.cat([p.detach().reshape(count, -1) for p in params], dim=1).clone()

    def unflatten(self, theta: torch.Tensor) -> list[torch.Tensor]:
        """Return the list of ``(count, *shape)`` parameter tensors of ``theta``."""
        if theta.ndim != 2 or tuple(theta.shape) != tuple(self.theta.shape):
            raise ValueError(
                f"theta must have shape {tuple(self.theta.shape)}, got {tuple(theta.shape)}"
            )
        parts = torch.split(theta, self.numels, dim=1)
        return [t.reshape((self.count, *s)) for t, s in zip(parts, self.shapes, strict=True)]

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        out = self.nets.forward(self.x, params=self.unflatten(theta))
        if callable(self.loss):
            return self.loss(out, self.y)  # type: ignore[no-any-return]
        return network_loss(out, self.y, self.loss)

    def __iter__(self) -> Iterator[Any]:
        yield self
        yield self.theta


def flat_function_batch(nets: Any, x: torch.Tensor, y: torch.Tensor, loss: Any = "mse") -> Any:
    """Return ``f: (count, P) -> (count,)``, the per-network loss of a network batch.

    Args:
        nets: network batch with ``parameters()`` (list of ``(count, ...)`` tensors) and
            ``forward(x, params=list) -> (count, batch, out)``.
        x: inputs passed to ``nets.forward``.
        y: targets (``(batch, out)`` shared or ``(count, batch, out)``; integer labels for
            cross-entropy).
        loss: a name of :data:`flatstart.montecarlo.losses.LOSSES` (default ``"mse"``) or a
            callable ``(out, y) -> (count,)``.

    Returns:
        A :class:`BatchFlatFunction`; ``f, theta = flat_function_batch(...)``.
    """
    return BatchFlatFunction(nets, x, y, loss)
