"""Networks, data and a tolerance shared by the tests of derivatives, Jacobians and
per-sample gradients (every fast path against its slow reference)."""

from __future__ import annotations

from typing import Any

import torch

from flatstart.montecarlo.networks import mlps

F64 = torch.float64


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-12) -> None:
    scale = max(1.0, b.abs().max().item())
    err = (a - b).abs().max().item()
    assert err <= rel * scale, f"max abs err {err:.3g} > {rel:g} * {scale:.3g}"


CASES: list[dict[str, Any]] = [
    dict(width=6, depth=3, input_dim=4),
    dict(width=6, depth=3, input_dim=4, output_dim=2, activation="tanh"),
    dict(width=5, depth=4, input_dim=5, residual=0.5, activation="relu"),
    dict(width=6, depth=3, input_dim=4, bias=True, init="torch_default", output_dim=3),
    dict(width=6, depth=3, input_dim=4, norm="layer", bias=True, activation="tanh"),
    dict(width=6, depth=3, input_dim=4, norm="layer", norm_affine=False, residual=0.4),
    dict(width=[7, 3], depth=3, input_dim=2, output_dim=4, activation="linear"),
    dict(width=1, depth=6, input_dim=1, output_dim=1, activation="relu", init="he_normal"),
]
IDS = ["-".join(f"{k}={v}" for k, v in c.items()) for c in CASES]


def problem(case: dict[str, Any], batch: int = 5, seed: int = 0) -> tuple[Any, Any, Any]:
    nets = mlps(count=3, seed=seed, **case)
    x = rand(batch, nets.input_dim, seed=seed + 1)
    y = rand(batch, nets.output_dim, seed=seed + 2)
    return nets, x, y

