"""The one vocabulary of losses of ``flatstart.montecarlo``: names, formulas, implementations.

Every function of ``montecarlo`` that takes ``loss=`` takes one of the canonical names of
:data:`LOSSES`. For network ``n`` with outputs ``f_n(x_i) ∈ ℝ^k`` on the samples ``i = 1..N``
of a batch and targets ``y_i`` (same shape as the output; class labels for cross-entropy):

========================  =================================================  ====================
name                      per-sample loss ``ℓ_i``                             network loss ``ℒ``
========================  =================================================  ====================
``"mse"``                 ``(1/k) Σ_c (f_c(x_i) − y_ic)²``                    ``mean_i ℓ_i``
``"half_mse"``            ``(1/(2k)) Σ_c (f_c(x_i) − y_ic)²``                 ``mean_i ℓ_i``
``"half_sq_norm"``        ``½ ‖f(x_i) − y_i‖² = ½ Σ_c (f_c(x_i) − y_ic)²``    ``mean_i ℓ_i``
``"half_sq_norm_sum"``    ``½ ‖f(x_i) − y_i‖²``                               ``Σ_i ℓ_i``
``"logistic"``            ``(1/k) Σ_c log(1 + e^{−y_ic f_c(x_i)})``, ``y = ±1``  ``mean_i ℓ_i``
``"cross_entropy"``       ``−log softmax(f(x_i))_{y_i}``, integer labels      ``mean_i ℓ_i``
========================  =================================================  ====================

``"mse"`` is ``torch.nn.MSELoss()`` (no ½; the mean runs over the batch *and* the outputs);
``"half_sq_norm"`` is the ``ℓ_i = ½‖f(x_i) − y_i‖²`` of the NTK and per-sample-Gram literature
(it equals ``"half_mse"`` for a scalar output, ``k = 1``). [ref: the definitions]

Old spellings: before this vocabulary, ``flatstart.montecarlo.derivatives`` called
``½ mean_i ‖f(x_i) − y_i‖²`` ``"mse"`` and ``½ Σ_i ‖f(x_i) − y_i‖²`` ``"sum"``. A module
whose old ``"mse"`` meant another loss refuses that spelling with a ``ValueError`` naming the
canonical name of its old meaning (:func:`check_loss` with ``refused=``); ``"sum"`` is accepted
there as the old spelling of ``"half_sq_norm_sum"``.

>>> out = torch.tensor([[[1.0, 3.0]]], dtype=torch.float64)   # (count=1, batch=1, k=2)
>>> y = torch.zeros(1, 2, dtype=torch.float64)
>>> [float(network_loss(out, y, name)) for name in ("mse", "half_mse", "half_sq_norm")]
[5.0, 2.5, 5.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "LOSSES",
    "check_loss",
    "network_loss",
    "per_sample_loss",
]

#: Canonical loss names (see the module docstring for their formulas).
LOSSES: tuple[str, ...] = (
    "mse", "half_mse", "half_sq_norm", "half_sq_norm_sum", "logistic", "cross_entropy",
)


def check_loss(
    loss: Any,
    *,
    exclude: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None,
    refused: Mapping[str, str] | None = None,
    where: str = "this function",
) -> str:
    """Return the canonical name of ``loss``, or raise a ``ValueError`` that says what to use.

    Args:
        loss: the name given by the caller.
        exclude: canonical names the caller does not support (e.g. ``"cross_entropy"`` where
            targets must have the shape of the outputs).
        aliases: old spellings that meant the same loss: ``{old: canonical}``.
        refused: old spellings that meant a *different* loss than their canonical meaning:
            ``{old: canonical name of the old meaning}``; they raise instead of changing
            meaning silently.
        where: the caller, named in the error.

    >>> check_loss("sum", aliases={"sum": "half_sq_norm_sum"})
    'half_sq_norm_sum'
    >>> check_loss("mse", refused={"mse": "half_sq_norm"}, where="layer_gradients")
    Traceback (most recent call last):
    ...
    ValueError: loss='mse' is ambiguous in layer_gradients: it used to mean 'half_sq_norm' \
(½ mean_batch ‖f − y‖²), while the canonical 'mse' is mean_batch mean_out (f − y)²; \
pass loss='half_sq_norm' for the old meaning
    """
    skip = set(exclude)
    options = [name for name in LOSSES if name not in skip]
    if refused and isinstance(loss, str) and loss in refused:
        old = refused[loss]
        raise ValueError(
            f"loss={loss!r} is ambiguous in {where}: it used to mean {old!r} ({_FORMULAS[old]}), "
            f"while the canonical {loss!r} is {_FORMULAS[loss]}; pass loss={old!r} for the old "
            "meaning"
        )
    if aliases and isinstance(loss, str) and loss in aliases:
        return aliases[loss]
    if not isinstance(loss, str) or loss not in options:
        extra = f" (or the old spellings {sorted(aliases)})" if aliases else ""
        raise ValueError(f"loss must be one of {options}{extra}, got {loss!r}")
    return loss


_FORMULAS = {
    "mse": "mean_batch mean_out (f − y)²",
    "half_mse": "½ mean_batch mean_out (f − y)²",
    "half_sq_norm": "½ mean_batch ‖f − y‖²",
    "half_sq_norm_sum": "½ Σ_batch ‖f − y‖²",
    "logistic": "mean_batch mean_out log(1 + e^{−y f})",
    "cross_entropy": "mean_batch −log softmax(f)_y",
}


def per_sample_loss(out: Tensor, y: Tensor, loss: str) -> Tensor:
    """Per-sample losses ``ℓ_i`` ``(..., batch)`` of outputs ``(..., batch, k)``.

    ``y`` broadcasts against ``out`` (a ``(batch, k)`` target shared by a ``(count, batch,
    k)`` output is used for every network); for ``"cross_entropy"`` it holds integer class
    labels of shape ``(batch,)`` or ``(..., batch)``. ``loss`` must be canonical
    (:func:`check_loss`).

    >>> per_sample_loss(torch.zeros(1, 2, 1), torch.ones(2, 1), "mse").tolist()
    [[1.0, 1.0]]
    """
    if loss == "cross_entropy":
        labels = y.expand(out.shape[:-1]) if y.dim() < out.dim() - 1 else y
        ce = torch.nn.functional.cross_entropy(
            out.reshape(-1, out.shape[-1]), labels.reshape(-1), reduction="none"
        )
        return ce.reshape(out.shape[:-1])
    if y.dim() == out.dim() - 1:
        y = y.unsqueeze(0)
    if loss == "mse":
        return (out - y).pow(2).mean(dim=-1)
    if loss == "half_mse":
        return 0.5 * (out - y).pow(2).mean(dim=-1)
    if loss in ("half_sq_norm", "half_sq_norm_sum"):
        return 0.5 * (out - y).square().sum(dim=-1)
    if loss == "logistic":
        return torch.nn.functional.softplus(-y * out).mean(dim=-1)
    raise ValueError(f"loss must be one of {list(LOSSES)}, got {loss!r}")


def network_loss(out: Tensor, y: Tensor, loss: str) -> Tensor:
    """Network losses ``ℒ`` ``(...)`` of outputs ``(..., batch, k)``: the batch mean of
    :func:`per_sample_loss` (the batch sum for ``"half_sq_norm_sum"``).

    >>> network_loss(torch.zeros(2, 3, 1), torch.ones(3, 1), "half_sq_norm_sum").tolist()
    [1.5, 1.5]
    """
    per_sample = per_sample_loss(out, y, loss)
    return per_sample.sum(dim=-1) if loss == "half_sq_norm_sum" else per_sample.mean(dim=-1)
