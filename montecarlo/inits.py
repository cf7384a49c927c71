"""Batched weight initializers with the semantics of ``torch.nn.init``.

A weight matrix ``W`` of shape ``(n_out, n_in)`` has ``fan_in = n_in`` and
``fan_out = n_out`` (torch's convention for ``nn.Linear.weight``). The schemes [ref: Glorot &
Bengio 2010; He et al. 2015; LeCun et al. 1998; Saxe et al. 2014; torch.nn.init]:

============== ================================================ =================
init           law of each entry                                default ``gain``
============== ================================================ =================
xavier_normal  ``N(0, gain² · 2/(fan_in + fan_out))``            1
xavier_uniform ``U(±gain · √(6/(fan_in + fan_out)))``            1
he_normal      ``N(0, gain² / fan_in)``                          √2
he_uniform     ``U(±gain · √(3/fan_in))``                        √2
lecun_normal   ``N(0, gain² / fan_in)``                          1
lecun_uniform  ``U(±gain · √(3/fan_in))``                        1
torch_default  ``U(±1/√fan_in)`` (``kaiming_uniform_(a=√5)``)    (fixed)
orthogonal     Haar-orthogonal rows/columns times ``gain``       1
============== ================================================ =================

``he_*`` equal ``kaiming_*_(mode="fan_in", nonlinearity="relu")`` and ``lecun_*`` equal
``kaiming_*_(mode="fan_in", nonlinearity="linear")``. ``orthogonal`` follows
``torch.nn.init.orthogonal_``: QR of a Gaussian matrix (transposed when ``n_out < n_in``)
with the sign fix ``Q · diag(sign(diag R))``, which makes ``Q`` Haar distributed
[ref: Mezzadri 2007]. ``torch_default`` biases are ``U(±1/√fan_in)`` (``nn.Linear``); every
other init gives zero biases.

All samplers here draw ``count`` independent matrices at once, from a CPU
``torch.Generator``, in float64; :func:`torch_reference_weight` is the slow reference that
calls ``torch.nn.init`` on a single tensor.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from flatstart._checks import check_choice, check_int, check_positive

__all__ = [
    "INITS",
    "DEFAULT_GAINS",
    "init_scale",
    "sample_weights",
    "sample_biases",
    "sample_normal",
    "sample_uniform",
    "torch_reference_weight",
]

INITS: tuple[str, ...] = (
    "xavier_normal",
    "xavier_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "torch_default",
    "orthogonal",
)

DEFAULT_GAINS: dict[str, float] = {
    "xavier_normal": 1.0,
    "xavier_uniform": 1.0,
    "he_normal": math.sqrt(2.0),
    "he_uniform": math.sqrt(2.0),
    "lecun_normal": 1.0,
    "lecun_uniform": 1.0,
    "orthogonal": 1.0,
}


def init_scale(init: str, n_in: int, n_out: int, gain: float | None = None) -> tuple[str, float]:
    """Return ``(law, scale)`` of one weight entry: ``("normal", std)`` or ``("uniform", a)``.

    ``("uniform", a)`` means ``U(-a, a)``. Orthogonal returns ``("orthogonal", gain)``.
    [ref: torch.nn.init, see module docstring]

    >>> init_scale("xavier_normal", 1, 1)
    ('normal', 1.0)
    >>> law, a = init_scale("xavier_uniform", 1, 1); law, round(a ** 2, 12)
    ('uniform', 3.0)
    >>> init_scale("he_normal", 2, 7)
    ('normal', 1.0)
    """
    check_choice("init", init, INITS)
    n_in = check_int("n_in", n_in)
    n_out = check_int("n_out", n_out)
    if init == "torch_default":
        if gain is not None:
            raise ValueError(f"gain is not allowed with init='torch_default', got {gain!r}")
        return "uniform", 1.0 / math.sqrt(n_in)
    g = DEFAULT_GAINS[init] if gain is None else check_positive("gain", gain)
    if init == "orthogonal":
        return "orthogonal", g
    if init.startswith("xavier"):
        std = g * math.sqrt(2.0 / (n_in + n_out))
    else:  # he_*, lecun_*: fan_in mode
        std = g / math.sqrt(n_in)
    if init.endswith("_uniform"):
        return "uniform", math.sqrt(3.0) * std
    return "normal", std


def sample_normal(
    shape: tuple[int, ...], std: float, generator: torch.Generator
) -> torch.Tensor:
    """Return a float64 CPU tensor of iid ``N(0, std²)`` entries drawn from ``generator``.

    >>> g = torch.Generator().manual_seed(0)
    >>> sample_normal((2, 3), 1.0, g).shape
    torch.Size([2, 3])
    """
    return torch.randn(shape, generator=generator, dtype=torch.float64).mul_(std)


def sample_uniform(
    shape: tuple[int, ...], bound: float, generator: torch.Generator
) -> torch.Tensor:
    """Return a float64 CPU tensor of iid ``U(-bound, bound)`` entries drawn from ``generator``.

    Drawn as ``bound · (2U − 1)`` with ``U = torch.rand``, as ``torch.nn.init.uniform_`` does.

    >>> g = torch.Generator().manual_seed(0)
    >>> bool(sample_uniform((1000,), 2.0, g).abs().max() <= 2.0)
    True
    """
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return u.mul_(2.0 * bound).sub_(bound)


def _batched_orthogonal(
    count: int, n_out: int, n_in: int, gain: float, generator: torch.Generator
) -> torch.Tensor:
    rows, cols = n_out, n_in
    transpose = rows < cols
    a = torch.randn((count, rows, cols), generator=generator, dtype=torch.float64)
    if transpose:
        a = a.transpose(1, 2)
    q, r = torch.linalg.qr(a)  # reduced QR, batched
    d = torch.diagonal(r, dim1=-2, dim2=-1).sign()
    q = q * d.unsqueeze(-2)
    if transpose:
        q = q.transpose(1, 2)
    return (q * gain).contiguous()


def sample_weights(
    init: str,
    count: int,
    n_out: int,
    n_in: int,
    generator: torch.Generator,
    gain: float | None = None,
) -> torch.Tensor:
    """Draw ``count`` independent ``(n_out, n_in)`` weight matrices (float64, CPU).

    Consumes the generator in row-major order of the ``(count, n_out, n_in)`` result (for
    ``orthogonal``: one Gaussian ``(count, n_out, n_in)`` block, transposed per matrix when
    ``n_out < n_in``). Laws: see the module docstring. [ref: torch.nn.init]

    >>> g = torch.Generator().manual_seed(0)
    >>> w = sample_weights("orthogonal", 4, 3, 3, g)
    >>> bool(torch.allclose(w @ w.transpose(1, 2), torch.eye(3, dtype=w.dtype).expand(4, 3, 3)))
    True
    """
    law, scale = init_scale(init, n_in, n_out, gain)
    count = check_int("count", count)
    if law == "orthogonal":
        return _batched_orthogonal(count, n_out, n_in, scale, generator)
    if law == "uniform":
        return sample_uniform((count, n_out, n_in), scale, generator)
    return sample_normal((count, n_out, n_in), scale, generator)


def sample_biases(
    init: str, count: int, n_out: int, n_in: int, generator: torch.Generator
) -> torch.Tensor:
    """Draw ``count`` bias vectors of length ``n_out`` (float64, CPU).

    ``torch_default``: ``U(±1/√fan_in)`` like ``nn.Linear.reset_parameters``; every other init:
    zeros (no random numbers consumed). [ref: torch.nn.Linear]

    >>> g = torch.Generator().manual_seed(0)
    >>> sample_biases("he_normal", 2, 3, 4, g).abs().sum().item()
    0.0
    """
    if init == "torch_default":
        return sample_uniform((count, n_out), 1.0 / math.sqrt(n_in), generator)
    return torch.zeros((count, n_out), dtype=torch.float64)


def torch_reference_weight(
    init: str,
    n_out: int,
    n_in: int,
    generator: torch.Generator,
    gain: float | None = None,
) -> torch.Tensor:
    """Slow reference: one ``(n_out, n_in)`` float64 weight drawn by ``torch.nn.init`` itself.

    Used to test :func:`sample_weights` distributionally (not bitwise: torch's own
    initializers consume the generator differently).

    >>> g = torch.Generator().manual_seed(0)
    >>> torch_reference_weight("he_normal", 3, 5, g).shape
    torch.Size([3, 5])
    """
    check_choice("init", init, INITS)
    w = torch.empty((n_out, n_in), dtype=torch.float64)
    nn = torch.nn.init
    if init == "torch_default":
        if gain is not None:
            raise ValueError(f"gain is not allowed with init='torch_default', got {gain!r}")
        return nn.kaiming_uniform_(w, a=math.sqrt(5.0), generator=generator)
    g = DEFAULT_GAINS[init] if gain is None else check_positive("gain", gain)
    if init == "xavier_normal":
        return nn.xavier_normal_(w, gain=g, generator=generator)
    if init == "xavier_uniform":
        return nn.xavier_uniform_(w, gain=g, generator=generator)
    if init == "orthogonal":
        return nn.orthogonal_(w, gain=g, generator=generator)
    # he/lecun: kaiming in fan_in mode; with the default gain torch's own nonlinearity is used,
    # otherwise nonlinearity 'linear' (gain 1) rescaled by the requested gain.
    default = gain is None
    nonlinearity: Any = "relu" if init.startswith("he") and default else "linear"
    scale = 1.0 if default else g
    kaiming = nn.kaiming_normal_ if init.endswith("_normal") else nn.kaiming_uniform_
    out = kaiming(w, mode="fan_in", nonlinearity=nonlinearity, generator=generator)
    return out.mul_(scale)
