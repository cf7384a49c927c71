"""The study's measured quantity, registered with flatstart: the output's mean square.

``output_second_moment`` = ``||f(x)||^2 / (batch * k)``, the mean of ``f(x)^2`` over the ``k``
outputs and the ``batch`` inputs of one network. Importing this module registers it under
:data:`NAME`, so ``check_bound``, ``measure``, bound files and the claim use it by name on any
network (``flatstart.validation.toolkit.register_quantity``).
"""

from __future__ import annotations

from typing import Any

import torch
from flatstart.validation.toolkit import Quantity, get_quantity, register_quantity
from torch.func import functional_call

__all__ = ["NAME", "output_second_moment", "register"]

NAME = "output_second_moment"
"""The name the quantity is registered under."""


def output_second_moment(model: Any, params: dict[str, torch.Tensor],
                         batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """``mean(f(x)^2)`` over the outputs and inputs of one network (a scalar tensor).

    Called by flatstart once per network, batched over the networks with ``torch.func.vmap``:
    ``model`` is the network without its weights, ``params`` one network's weights,
    ``batch = (x, y)`` the inputs ``(batch, *input_shape)`` and the targets (unused).
    """
    x, _ = batch
    out = functional_call(model, params, (x,))
    return (out ** 2).mean()


def register() -> Quantity:
    """Register :func:`output_second_moment` under :data:`NAME` (again, if a bound file's run
    removed it) and return the registered quantity; a no-op when it is registered already."""
    try:
        q = get_quantity(NAME)
    except ValueError:
        q = None
    if q is not None and q.fn is output_second_moment:
        return q
    return register_quantity(NAME, output_second_moment, replace=True, cost="network",
                             description="||f(x)||^2 / (batch k): the output's mean square")


register()
