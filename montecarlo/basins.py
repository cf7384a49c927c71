"""Loss along straight lines between solutions: barriers, midpoint gaps, same vs other basin.

For two parameter points ``θ₁, θ₂`` (stacked, leading network dimension) the path is
``θ(α) = (1 − α) θ₁ + α θ₂`` on a grid of ``α`` (default 81 points on ``[−0.5, 1.5]``, step
1/40, containing 0, ½ and 1 exactly).  Per network:

* ``barrier = max_{α ∈ [0, 1]} ℒ(θ(α)) − max(ℒ(θ₁), ℒ(θ₂))`` (max over the grid points in
  ``[0, 1]``; ``≥ 0`` by construction since the endpoints are grid points);
* ``midpoint_gap = ℒ(θ_½) − (ℒ(θ₁) + ℒ(θ₂))/2`` (``≤ 0`` for a convex loss).

[ref, qualitative: Goodfellow, Vinyals & Saxe 2015 (linear interpolation); Frankle et al. 2020
(linear mode connectivity of runs forked from a shared checkpoint)]

>>> import torch
>>> f = lambda ps: ((ps[0] ** 2 - 1) ** 2).sum(dim=1)      # double well per network
>>> r = interpolate_fn(f, [torch.tensor([[-1.0]])], [torch.tensor([[1.0]])])
>>> float(r["barrier"][0]), float(r["midpoint_gap"][0])
(1.0, 1.0)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from flatstart._checks import check_int
from flatstart.montecarlo.data import Dataset, as_dataset
from flatstart.montecarlo.losses import network_loss
from flatstart.montecarlo.training import check_training_loss, train

__all__ = [
    "default_alphas",
    "forked_pairs",
    "independent_pairs",
    "interpolate",
    "interpolate_fn",
    "optimizer_solutions",
    "param_distance",
    "param_norm",
]


def default_alphas(points_per_unit: int = 40, dtype: torch.dtype = torch.float64) -> Tensor:
    """Grid ``α = k / points_per_unit`` on ``[−0.5, 1.5]`` (contains 0, ½, 1 exactly for
    even ``points_per_unit``).

    >>> default_alphas(4).tolist()
    [-0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    """
    p = check_int("points_per_unit", points_per_unit, minimum=2)
    if p % 2:
        raise ValueError(f"points_per_unit must be even (so that 1/2 is a grid point), got {p}")
    k = torch.arange(-p // 2, 3 * p // 2 + 1, dtype=dtype)
    return k / p


def _check_pair(params1: Sequence[Tensor], params2: Sequence[Tensor]) -> tuple[list[Tensor],
                                                                               list[Tensor]]:
    a, b = list(params1), list(params2)
    if not a or len(a) != len(b):
        raise ValueError(f"params1 and params2 must be non-empty lists of equal length, got "
                         f"{len(a)} and {len(b)}")
    for i, (u, v) in enumerate(zip(a, b, strict=True)):
        if u.shape != v.shape:
            raise ValueError(f"params1[{i}] and params2[{i}] differ in shape: "
                             f"{tuple(u.shape)} vs {tuple(v.shape)}")
    return [t.detach() for t in a], [t.detach() for t in b]


def _check_alphas(alphas: Any, dtype: torch.dtype) -> Tensor:
    if alphas is None:
        return default_alphas(dtype=dtype)
    al = torch.as_tensor(alphas, dtype=dtype).reshape(-1)
    if al.numel() == 0:
        raise ValueError("alphas must be a non-empty grid of interpolation coefficients, got []")
    if not bool(torch.isfinite(al).all()):
        raise ValueError(f"alphas must be finite, got {alphas!r}")
    return al


def interpolate_fn(
    loss_fn: Callable[[list[Tensor]], Tensor],
    params1: Sequence[Tensor],
    params2: Sequence[Tensor],
    alphas: Any = None,
) -> dict[str, Tensor]:
    """Loss along ``θ(α) = (1 − α)θ₁ + αθ₂`` for any batched loss ``loss_fn(params) → (count,)``.

    Returns:
        dict with ``alphas`` ``(A,)``; ``losses`` ``(count, A)``; ``loss1, loss2, loss_mid``,
        ``barrier``, ``midpoint_gap`` (each ``(count,)``).  The endpoints and the midpoint
        are always evaluated (appended to the grid for the barrier if absent).

    Raises:
        ValueError: empty ``alphas``, mismatched parameter lists.
    """
    p1, p2 = _check_pair(params1, params2)
    al = _check_alphas(alphas, p1[0].dtype if p1[0].is_floating_point() else torch.float64)

    def at(a: float) -> Tensor:
        with torch.no_grad():
            return loss_fn([(1 - a) * u + a * v for u, v in zip(p1, p2, strict=True)])

    losses = torch.stack([at(float(a)) for a in al], dim=1)
    l1, l2, lm = at(0.0), at(1.0), at(0.5)
    inside = (al >= 0) & (al <= 1)
    cand = [l1, l2, lm]
    if bool(inside.any()):
        cand.append(losses[:, inside].max(dim=1).values)
    top = torch.stack(cand, dim=1).max(dim=1).values
    return {
        "alphas": al, "losses": losses, "loss1": l1, "loss2": l2, "loss_mid": lm,
        "barrier": top - torch.maximum(l1, l2), "midpoint_gap": lm - (l1 + l2) / 2,
    }


def interpolate(
    nets: Any,
    params1: Sequence[Tensor],
    params2: Sequence[Tensor],
    data: Dataset | tuple[Tensor, Tensor],
    alphas: Any = None,
    loss: str = "mse",
) -> dict[str, Tensor]:
    """:func:`interpolate_fn` with the full-data loss of a ``NetworkBatch`` (all networks at
    once; ``params`` with the leading network dimension)."""
    ds = as_dataset(data)
    loss = check_training_loss(loss, "interpolate")

    def f(ps: list[Tensor]) -> Tensor:
        return network_loss(nets.forward(ds.x, params=ps), ds.y, loss)

    return interpolate_fn(f, params1, params2, alphas)


def param_distance(params1: Sequence[Tensor], params2: Sequence[Tensor]) -> Tensor:
    """Per-network Euclidean distance ``‖θ₁ − θ₂‖`` ``(count,)``.

    >>> param_distance([torch.zeros(1, 2)], [torch.tensor([[3.0, 4.0]])]).tolist()
    [5.0]
    """
    p1, p2 = _check_pair(params1, params2)
    sq = sum((u - v).reshape(u.shape[0], -1).pow(2).sum(dim=1) for u, v in zip(p1, p2,
                                                                               strict=True))
    assert isinstance(sq, Tensor)
    return sq.sqrt()


def param_norm(params: Sequence[Tensor]) -> Tensor:
    """Per-network Euclidean norm of all parameters ``(count,)``."""
    sq = sum(p.detach().reshape(p.shape[0], -1).pow(2).sum(dim=1) for p in params)
    assert isinstance(sq, Tensor)
    return sq.sqrt()


def forked_pairs(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    optimizer: str = "sgd",
    lr: float | None = None,
    shared_steps: int = 100,
    fork_steps: int = 100,
    batch_size: int | None = None,
    *,
    seed: int = 0,
    fork_seeds: tuple[int, int] = (1, 2),
    loss: str = "mse",
    alphas: Any = None,
    **opt_kwargs: Any,
) -> dict[str, Any]:
    """Train ``shared_steps`` from ``nets``' init (batch order ``seed``), then continue two
    copies for ``fork_steps`` with batch orders ``fork_seeds`` (fresh optimizer state), and
    interpolate between the two end points.

    Returns:
        :func:`interpolate` output plus ``params1, params2, checkpoint, distance``.
    """
    if fork_seeds[0] == fork_seeds[1]:
        raise ValueError(f"fork_seeds must differ, got {fork_seeds}")
    shared = train(nets, data, optimizer, lr, shared_steps, batch_size, loss, seed,
                   record_every=shared_steps, **opt_kwargs)
    ck = shared.final_params
    runs = [train(nets, data, optimizer, lr, fork_steps, batch_size, loss, s,
                  record_every=fork_steps, params=ck, **opt_kwargs).final_params
            for s in fork_seeds]
    out: dict[str, Any] = dict(interpolate(nets, runs[0], runs[1], data, alphas, loss))
    out.update(params1=runs[0], params2=runs[1], checkpoint=ck,
               distance=param_distance(runs[0], runs[1]))
    return out


def independent_pairs(
    nets_a: Any,
    nets_b: Any,
    data: Dataset | tuple[Tensor, Tensor],
    optimizer: str = "sgd",
    lr: float | None = None,
    steps: int = 200,
    batch_size: int | None = None,
    *,
    seed: int = 0,
    loss: str = "mse",
    alphas: Any = None,
    **opt_kwargs: Any,
) -> dict[str, Any]:
    """Train two independently initialized batches (same architecture, e.g. ``mlps(...,
    seed=0)`` and ``seed=1``) with the same batch order; network ``k`` of each forms a pair.

    Returns:
        :func:`interpolate` output plus ``params1, params2, distance``.
    """
    a = train(nets_a, data, optimizer, lr, steps, batch_size, loss, seed, record_every=steps,
              **opt_kwargs).final_params
    b = train(nets_b, data, optimizer, lr, steps, batch_size, loss, seed, record_every=steps,
              **opt_kwargs).final_params
    out: dict[str, Any] = dict(interpolate(nets_a, a, b, data, alphas, loss))
    out.update(params1=a, params2=b, distance=param_distance(a, b))
    return out


def optimizer_solutions(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    optimizers: Sequence[str] | Mapping[str, Mapping[str, Any]],
    steps: int = 200,
    batch_size: int | None = None,
    *,
    seed: int = 0,
    loss: str = "mse",
    alphas: Any = None,
) -> dict[str, Any]:
    """Train the same initialization with several optimizers (same batch order) and compare.

    ``optimizers``: names, or a mapping ``label → {"optimizer": name, "lr": …, **kwargs}``
    (a label that is an optimizer name may omit ``"optimizer"``).

    Returns:
        ``params`` (label → final params), ``final_loss`` and ``weight_norm`` (label →
        ``(count,)``), ``init_norm``, ``distance`` / ``barrier`` / ``midpoint_gap``
        (``(label1, label2)`` → ``(count,)``) and ``distance_from_init`` (label → ``(count,)``).
    """
    specs: dict[str, dict[str, Any]]
    if isinstance(optimizers, Mapping):
        specs = {str(k): dict(v) for k, v in optimizers.items()}
    else:
        specs = {str(k): {} for k in optimizers}
    if len(specs) < 2:
        raise ValueError(f"optimizers must name at least two optimizers, got {list(specs)}")
    params: dict[str, list[Tensor]] = {}
    final_loss: dict[str, Tensor] = {}
    for label, spec in specs.items():
        spec = dict(spec)
        name = spec.pop("optimizer", label)
        lr = spec.pop("lr", None)
        h = train(nets, data, name, lr, steps, batch_size, loss, seed, record_every=steps, **spec)
        params[label] = h.final_params
        final_loss[label] = h.final_loss
    init = [p.detach() for p in nets.parameters()]
    out: dict[str, Any] = {
        "params": params, "final_loss": final_loss,
        "weight_norm": {k: param_norm(v) for k, v in params.items()},
        "init_norm": param_norm(init),
        "distance_from_init": {k: param_distance(v, init) for k, v in params.items()},
        "distance": {}, "barrier": {}, "midpoint_gap": {},
    }
    for a, b in itertools.combinations(list(params), 2):
        r = interpolate(nets, params[a], params[b], data, alphas, loss)
        out["distance"][(a, b)] = param_distance(params[a], params[b])
        out["barrier"][(a, b)] = r["barrier"]
        out["midpoint_gap"][(a, b)] = r["midpoint_gap"]
    return out
