"""Argument checks, seeded probe vectors and result helpers shared by the curvature modules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_int

__all__ = [
    "DISTRIBUTIONS",
    "LossFunction",
    "check_f",
    "check_loss_value",
    "check_seed",
    "check_theta",
    "check_vector",
    "generator",
    "result_meta",
    "random_vectors",
    "scalar",
    "squeeze",
]

LossFunction = Callable[[torch.Tensor], torch.Tensor]

DISTRIBUTIONS = ("rademacher", "gaussian")


def check_f(f: Any) -> LossFunction:
    if not callable(f):
        raise TypeError(f"f must be a callable mapping theta to a loss, got {type(f).__name__}")
    return f  # type: ignore[no-any-return]


def check_theta(theta: Any) -> torch.Tensor:
    if not isinstance(theta, torch.Tensor):
        raise TypeError(f"theta must be a torch.Tensor, got {type(theta).__name__}")
    if theta.ndim not in (1, 2):
        raise ValueError(
            f"theta must be 1-D (P,) or 2-D (count, P), got shape {tuple(theta.shape)}"
        )
    if not theta.is_floating_point():
        raise ValueError(f"theta must have a floating dtype, got {theta.dtype}")
    if theta.numel() == 0:
        raise ValueError(f"theta must be non-empty, got shape {tuple(theta.shape)}")
    if not bool(torch.isfinite(theta).all()):
        raise ValueError("theta must be finite, got NaN or inf entries")
    return theta.detach()


def check_vector(name: str, v: Any, theta: torch.Tensor) -> torch.Tensor:
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(v).__name__}")
    if tuple(v.shape) != tuple(theta.shape):
        raise ValueError(
            f"{name} must have the shape of theta {tuple(theta.shape)}, got {tuple(v.shape)}"
        )
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} must be finite")
    return v.detach().to(theta.device, theta.dtype)


def check_loss_value(loss: Any, theta: torch.Tensor) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor):
        raise ValueError(f"f must return a torch.Tensor, got {type(loss).__name__}")
    if theta.ndim == 1 and loss.numel() != 1:
        raise ValueError(
            f"f must return a scalar loss for 1-D theta, got shape {tuple(loss.shape)}"
        )
    if theta.ndim == 2 and tuple(loss.shape) != (theta.shape[0],):
        raise ValueError(
            f"f must return losses of shape (count,) = ({theta.shape[0]},) for 2-D theta, "
            f"got shape {tuple(loss.shape)}"
        )
    if not bool(torch.isfinite(loss.detach()).all()):
        raise ValueError(f"f returned a non-finite loss at theta: {loss.detach().cpu().tolist()}")
    return loss


def check_seed(seed: Any) -> int:
    return check_int("seed", seed, minimum=0)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_vectors(
    shape: Sequence[int],
    gen: torch.Generator,
    distribution: str,
    like: torch.Tensor,
) -> torch.Tensor:
    """Rademacher (+-1) or standard normal entries, drawn on the CPU, moved to ``like``."""
    if distribution == "rademacher":
        z = torch.randint(0, 2, tuple(shape), generator=gen).to(torch.float64) * 2.0 - 1.0
    else:
        z = torch.randn(tuple(shape), generator=gen, dtype=torch.float64)
    return z.to(like.device, like.dtype)


def result_meta(theta: torch.Tensor, seed: int | None) -> dict[str, Any]:
    return {
        "seed": seed,
        "dtype": str(theta.dtype),
        "device": str(theta.device),
        "torch_version": torch.__version__,
    }



def squeeze(x: np.ndarray, batched: bool) -> Any:
    return x if batched else x[0]


def scalar(x: np.ndarray, batched: bool) -> Any:
    return x if batched else x[0].item()
