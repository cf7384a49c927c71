"""The theory side of the study: the second moment of a ReLU CNN's output at initialization.

He, Zhang, Ren & Sun (2015), "Delving deep into rectifiers: surpassing human-level
performance on ImageNet classification", ICCV, Sec. 2.2, eq. (10): for a network of ``L``
layers ``y_l = W_l x_l``, ``x_{l+1} = ReLU(y_l)``, with iid weights of zero mean and variance
``Var[w_l]``, symmetric around zero, independent of the signal, and zero biases,

    Var[y_L] = Var[y_1] * prod_{l=2}^{L} (1/2 n_l Var[w_l]),

where ``n_l`` is the fan-in of layer ``l`` (``k^2 c`` for a ``k x k`` convolution with ``c``
input channels, the width for a fully connected layer) and ``Var[y_1] = n_1 Var[w_1] E[x_1^2]``.

The derivation is exact at every finite width, not only in a wide limit: given the signal
``x_l``, each coordinate of ``y_l`` is a sum of independent symmetric terms, so
``E[y_l^2 | x_l] = Var[w_l] |patch|^2`` and ``E[ReLU(y_l)^2 | x_l] = 1/2 E[y_l^2 | x_l]``. For a
convolution the average over positions of ``|patch|^2`` is ``n_l`` times the average of
``x_l^2`` when every input position lies in exactly ``k^2`` patches (circular padding, stride
1), so the statement holds for the average over the coordinates of a layer.

This module is pure arithmetic: it imports neither torch nor flatstart's Monte Carlo, and the
claim's ``simulate`` must not use it (``THEORY_MODULES`` in :mod:`cnnstudy.claims`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["he_gain_product", "output_second_moment"]


def _positive(name: str, value: float) -> float:
    """``value`` as a float when it is a finite positive real number, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def he_gain_product(x: float, gains: Sequence[float]) -> float:
    """``E[y_L^2]`` of He et al. (2015) eq. (10) for the layer gains ``a_l = n_l Var[w_l]``.

    ``E[y_L^2] = a_1 E[x_1^2] prod_{l=2}^{L} a_l / 2``: the first layer sees the input
    itself, every later one a ReLU of a symmetric signal, which halves its second moment.

    Args:
        x: root mean square of the input coordinates (``E[x_1^2] = x^2``), > 0.
        gains: ``a_1, ..., a_L`` (He's initialization: ``a_l = 2``), each > 0, at least one.

    Returns:
        The second moment of a coordinate of the last layer's pre-activation ``y_L``,
        averaged over its coordinates.

    >>> he_gain_product(1.0, [2.0, 2.0, 2.0])      # He's init keeps E[y^2] = 2 E[x^2]
    2.0
    >>> he_gain_product(1.0, [1.0, 1.0])           # Xavier/LeCun variance 1/n halves it
    0.5
    """
    xx = _positive("x", x)
    a = [_positive(f"gains[{i}]", g) for i, g in enumerate(gains)]
    if not a:
        raise ValueError("gains must hold at least one layer gain, got []")
    return xx * xx * a[0] * math.prod(g / 2.0 for g in a[1:])


def output_second_moment(depth: int, gain: float = 1.0, x: float = 1.0) -> float:
    """``E ||f(x)||^2 / k`` of :func:`cnnstudy.networks.cnn` at initialization.

    The network has ``depth`` circular 3 x 3 convolutions with ReLU and a linear readout of
    ``k`` outputs, ``L = depth + 1`` weight layers, every one initialized with
    ``Var[w_l] = 2 gain / n_l`` (He et al. 2015 for ``gain = 1``), no biases. Each layer gain
    is ``a_l = 2 gain``, so by eq. (10) (:func:`he_gain_product`)

        E ||f(x)||^2 / k = x^2 * 2 gain * gain^depth = 2 x^2 gain^(depth + 1).

    Args:
        depth: number of convolutions (an integer >= 0).
        gain: variance multiplier of every layer (> 0; 1 is He's initialization).
        x: root mean square of the input coordinates (> 0).

    >>> output_second_moment(4)                    # preserved through depth
    2.0
    >>> round(output_second_moment(2, gain=1.25), 6)
    3.90625
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
    g = _positive("gain", gain)
    return he_gain_product(x, [2.0 * g] * (depth + 1))
