"""The study's network: a small ReLU CNN with He's initialization, built from a seed.

``cnn(seed, ...) -> nn.Module`` is a *factory* in the sense of
``flatstart.validation.toolkit.check_bound(network={"factory": cnn, "input_shape": ...})``:
flatstart calls it once per network copy with that copy's seed and batches the copies with
``torch.func``. Its keyword parameters (``depth``, ``gain``, ``channels``, ...) may be set by
the ``network`` dict (``kwargs``) or varied by a grid.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["cnn"]


def _check_int(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def cnn(seed: int, depth: int = 3, gain: float = 1.0, channels: int = 16,
        in_channels: int = 1, image: int = 6, classes: int = 10) -> nn.Module:
    """A ReLU CNN at He initialization: ``depth`` x (3 x 3 conv, ReLU), then a linear readout.

    Layer ``l`` has weights ``w ~ N(0, 2 gain / n_l)`` with ``n_l`` its fan-in (``9 c_in`` for
    a convolution, ``channels * image^2`` for the readout) -- He et al. (2015), "Delving deep
    into rectifiers", eq. (10) with ``gain = 1`` -- and no biases. The convolutions pad
    circularly (stride 1), so the image keeps its size and every pixel lies in nine patches.

    Args:
        seed: seed of the weights (a ``torch.Generator``; the same seed gives the same network).
        depth: number of convolutions (>= 0).
        gain: variance multiplier of every layer (> 0).
        channels: channels of every convolution (>= 1).
        in_channels: channels of the input image (>= 1).
        image: height and width of the (square) input image (>= 3).
        classes: outputs of the readout (>= 1).

    Returns:
        ``nn.Sequential`` mapping ``(batch, in_channels, image, image)`` to ``(batch, classes)``.

    >>> net = cnn(0, depth=2)
    >>> tuple(net(torch.zeros(5, 1, 6, 6)).shape)
    (5, 10)
    """
    _check_int("seed", seed, 0)
    _check_int("depth", depth, 0)
    for name, value, low in (("channels", channels, 1), ("in_channels", in_channels, 1),
                             ("image", image, 3), ("classes", classes, 1)):
        _check_int(name, value, low)
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not (
            math.isfinite(gain) and gain > 0):
        raise ValueError(f"gain must be a finite number > 0, got {gain!r}")
    g = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    c = in_channels
    for _ in range(depth):
        conv = nn.Conv2d(c, channels, 3, padding=1, padding_mode="circular", bias=False)
        with torch.no_grad():
            conv.weight.normal_(0.0, math.sqrt(2.0 * gain / (9 * c)), generator=g)
        layers += [conv, nn.ReLU()]
        c = channels
    fan_in = c * image * image
    readout = nn.Linear(fan_in, classes, bias=False)
    with torch.no_grad():
        readout.weight.normal_(0.0, math.sqrt(2.0 * gain / fan_in), generator=g)
    return nn.Sequential(*layers, nn.Flatten(), readout)
