"""Initialization schemes as per-entry weight laws.

Every scheme maps a layer's fan-in ``n_in`` and fan-out ``n_out`` (a weight matrix of shape
``(n_out, n_in)``, torch's convention) to the law of one weight entry [ref: Glorot & Bengio
2010; He et al. 2015; LeCun et al. 1998; the ``torch.nn.init`` source]:

==================  ======================================  =====================
init                law of one entry                        variance
==================  ======================================  =====================
``xavier_normal``   ``N(0, g² 2/(n_in+n_out))``             ``2 g²/(n_in+n_out)``
``xavier_uniform``  ``U(±g √(6/(n_in+n_out)))``             ``2 g²/(n_in+n_out)``
``he_normal``       ``N(0, g² 2/n_in)``                     ``2 g²/n_in``
``he_uniform``      ``U(±g √(6/n_in))``                     ``2 g²/n_in``
``lecun_normal``    ``N(0, g²/n_in)``                       ``g²/n_in``
``lecun_uniform``   ``U(±g √(3/n_in))``                     ``g²/n_in``
``torch_default``   ``U(±g/√n_in)``                         ``g²/(3 n_in)``
``orthogonal``      Haar orthogonal times ``g`` (not iid)   ``g²/max(n_in, n_out)``
==================  ======================================  =====================

``g`` is the ``gain`` argument (default 1). It multiplies the standard deviation of every
scheme; torch's Kaiming functions have no gain argument but build theirs from the
nonlinearity: ``kaiming_normal_(w)`` (``a=0``, ``nonlinearity="leaky_relu"``) has gain √2,
i.e. exactly ``he_normal`` here with ``g = 1``. ``torch_default`` is what ``nn.Linear`` does:
``kaiming_uniform_(w, a=√5)`` gives gain ``√(2/(1+5)) = 1/√3`` and bound
``(1/√3)·√(3/n_in) = 1/√n_in``; ``nn.Linear`` also adds a bias ``U(±1/√n_in)``, which this
module does not model (the chains and wide nets here are bias-free).

``orthogonal`` (``torch.nn.init.orthogonal_``) draws a Haar matrix with orthonormal rows when
``n_out ≤ n_in`` and orthonormal columns otherwise, times the gain: one entry has variance
``g²/max(n_in, n_out)`` (``g²/n`` when square) [derived: a row (or column) is uniform on the
unit sphere of ``R^max``], but the entries are *not* independent, so there is no iid weight
law: :func:`weight_law` raises ``ValueError`` for it. For a width-1 chain an orthogonal
"matrix" is ``±g``: ``|P| = g^L`` is deterministic, so the chain laws are degenerate and
:class:`flatstart.theory.chains.NeuralChain` rejects ``init="orthogonal"`` too.

Width-1 chain values (``n_in = n_out = 1``): Xavier ``N(0, 1)``, He ``N(0, 2)``,
Xavier-uniform ``U(±√3)``, LeCun ``N(0, 1)``, torch default ``U(±1)``.

Derivations (orthogonal entry variance):
docs/theory/vc-signal.md#exact-law-of-the-norm-ratio-r_l-derived.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flatstart._checks import check_choice, check_int, check_positive

__all__ = [
    "INITS",
    "WeightSpec",
    "weight_law",
    "weight_spec",
    "weight_variance",
]

#: Names of the supported schemes.
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


@dataclass(frozen=True)
class WeightSpec:
    """Family and scale of one weight entry.

    Attributes:
        family: ``"normal"`` (``N(0, scale²)``), ``"uniform"`` (``U(-scale, scale)``) or
            ``"orthogonal"`` (Haar, entries dependent; ``scale`` is the gain).
        scale: standard deviation (normal), half-width (uniform) or gain (orthogonal).
        variance: variance of one entry.
    """

    family: str
    scale: float
    variance: float


def _base_variance(init: str, fan_in: int, fan_out: int) -> float:
    if init in ("xavier_normal", "xavier_uniform"):
        return 2.0 / (fan_in + fan_out)
    if init in ("he_normal", "he_uniform"):
        return 2.0 / fan_in
    if init in ("lecun_normal", "lecun_uniform"):
        return 1.0 / fan_in
    if init == "torch_default":
        return 1.0 / (3.0 * fan_in)
    # orthogonal
    return 1.0 / max(fan_in, fan_out)


def weight_spec(init: str, fan_in: int, fan_out: int, gain: float = 1.0) -> WeightSpec:
    """Family, scale and variance of one weight entry under ``init``.

    Formula: see the module table [ref: torch.nn.init; Glorot & Bengio 2010; He et al. 2015].

    Args:
        init: one of :data:`INITS`.
        fan_in: number of inputs of the layer (``>= 1``).
        fan_out: number of outputs of the layer (``>= 1``).
        gain: multiplier of the standard deviation (``> 0``).

    Returns:
        A :class:`WeightSpec`.

    Raises:
        ValueError: unknown ``init``, ``fan_in``/``fan_out`` < 1, ``gain <= 0``.

    >>> weight_spec("xavier_uniform", 1, 1).scale == math.sqrt(3)
    True
    >>> weight_spec("he_normal", 1, 1).variance
    2.0
    """
    init = check_choice("init", init, INITS)
    fan_in = check_int("fan_in", fan_in, minimum=1)
    fan_out = check_int("fan_out", fan_out, minimum=1)
    gain = check_positive("gain", gain)
    var = gain * gain * _base_variance(init, fan_in, fan_out)
    if init == "orthogonal":
        return WeightSpec("orthogonal", gain, var)
    if init.endswith("_normal"):
        return WeightSpec("normal", math.sqrt(var), var)
    # uniform U(-a, a) has variance a²/3
    return WeightSpec("uniform", math.sqrt(3.0 * var), var)


def weight_variance(init: str, fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """Variance of one weight entry under ``init`` (see the module table) [ref].

    >>> weight_variance("torch_default", 3, 7) == 1 / 9
    True
    >>> weight_variance("orthogonal", 4, 8)
    0.125
    """
    return weight_spec(init, fan_in, fan_out, gain).variance


def weight_law(init: str, fan_in: int, fan_out: int, gain: float = 1.0) -> Any:
    """The law of one weight entry as a :mod:`flatstart.theory.laws` object.

    Returns ``Normal(sigma)`` for the ``*_normal`` schemes and ``Uniform(-a, a)`` for the
    ``*_uniform`` schemes and ``torch_default`` (formulas in the module table) [ref].

    Raises:
        ValueError: for ``init="orthogonal"`` (its entries are not independent, so no iid
            weight law exists; use :func:`weight_variance` for the per-entry variance), and
            for the argument errors of :func:`weight_spec`.

    >>> weight_law("he_normal", 1, 1)  # doctest: +SKIP
    Normal(sigma=1.4142135623730951)
    """
    spec = weight_spec(init, fan_in, fan_out, gain)
    if spec.family == "orthogonal":
        raise ValueError(
            "init='orthogonal' has no iid weight law (Haar entries are dependent; for a "
            "width-1 layer the weight is ±gain); use weight_variance() for the per-entry "
            "variance"
        )
    from flatstart.theory import laws  # local import: laws imports this module

    if spec.family == "normal":
        return laws.Normal(spec.scale)
    return laws.Uniform(-spec.scale, spec.scale)
