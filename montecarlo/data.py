"""Seeded synthetic data sets, generated in code (no downloads), and a seeded batch iterator.

Every generator takes a ``seed`` and uses its own ``torch.Generator`` (CPU), so the same seed
gives the same tensors on every run and device; the result is then moved to ``device``.

>>> ds = sphere_inputs(5, 3, seed=0)
>>> tuple(ds.x.shape), bool(torch.allclose(ds.x.norm(dim=1), torch.ones(5, dtype=ds.x.dtype)))
((5, 3), True)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from flatstart._checks import check_choice, check_int, check_positive

__all__ = [
    "Dataset",
    "as_dataset",
    "batch_indices",
    "icosahedron",
    "idnn_task",
    "minibatches",
    "random_labels",
    "sphere_inputs",
    "teacher_dataset",
]


@dataclass(frozen=True)
class Dataset:
    """A supervised data set: inputs ``x`` of shape ``(n, d)``, targets ``y`` of shape
    ``(n, k)`` (float, same dtype as ``x``), a ``name`` and the ``seed`` that generated it.

    ``info`` carries generator details (e.g. the teacher's parameters or the label rule).
    """

    x: Tensor
    y: Tensor
    name: str = "data"
    seed: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.x, Tensor) or self.x.dim() != 2:
            got = getattr(self.x, "shape", self.x)
            raise ValueError(f"x must be a 2-D tensor (n, d), got {got}")
        if not isinstance(self.y, Tensor) or self.y.dim() != 2:
            got = getattr(self.y, "shape", self.y)
            raise ValueError(f"y must be a 2-D tensor (n, k), got {got}")
        if self.x.shape[0] != self.y.shape[0]:
            raise ValueError(
                f"x and y must have the same number of samples, got {self.x.shape[0]} and "
                f"{self.y.shape[0]}"
            )
        if self.x.shape[0] < 1:
            raise ValueError("a Dataset needs at least one sample, got n = 0")

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.x.shape[0])

    def __len__(self) -> int:
        return self.n

    def subset(self, index: Tensor) -> Dataset:
        """The samples at ``index`` (a 1-D long tensor), as a new Dataset."""
        return Dataset(self.x[index], self.y[index], self.name, self.seed, dict(self.info))


def as_dataset(data: Dataset | tuple[Tensor, Tensor], name: str = "data") -> Dataset:
    """Accept a :class:`Dataset` or an ``(x, y)`` pair; a 1-D ``y`` becomes a column.

    >>> as_dataset((torch.zeros(4, 2), torch.ones(4))).y.shape
    torch.Size([4, 1])
    """
    if isinstance(data, Dataset):
        return data
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"data must be a Dataset or an (x, y) pair, got {type(data).__name__}")
    x, y = data
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError("data must be a pair of tensors (x, y)")
    if x.dim() == 1:
        x = x[:, None]
    if y.dim() == 1:
        y = y[:, None]
    if x.is_floating_point():
        y = y.to(x.dtype)
    return Dataset(x, y, name)


def _gen(seed: int) -> torch.Generator:
    g = torch.Generator(device="cpu")
    g.manual_seed(check_int("seed", seed, minimum=0))
    return g


def _sphere(n: int, d: int, g: torch.Generator, dtype: torch.dtype) -> Tensor:
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    return (z / z.norm(dim=1, keepdim=True)).to(dtype)


def sphere_inputs(
    n: int,
    dim: int,
    *,
    labels: str = "gaussian",
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> Dataset:
    """Inputs uniform on the unit sphere ``S^{dim−1}`` with random labels independent of them.

    ``x_i = z_i/‖z_i‖``, ``z_i ~ N(0, I_dim)`` (uniform on the sphere by rotational
    invariance [ref]); labels as in :func:`random_labels` (``"gaussian"`` or ``"sign"``).

    >>> sphere_inputs(4, 2, labels="sign", seed=1).y.abs().unique().tolist()
    [1.0]
    """
    n = check_int("n", n)
    dim = check_int("dim", dim)
    g = _gen(seed)
    x = _sphere(n, dim, g, dtype)
    y = _labels(n, 1, labels, g, dtype)
    return Dataset(x.to(device), y.to(device), f"sphere-{labels}", seed, {"labels": labels})


def _labels(n: int, k: int, kind: str, g: torch.Generator, dtype: torch.dtype) -> Tensor:
    check_choice("labels", kind, ["gaussian", "sign"])
    if kind == "gaussian":
        return torch.randn(n, k, generator=g, dtype=torch.float64).to(dtype)
    bits = torch.randint(0, 2, (n, k), generator=g)
    return (2 * bits - 1).to(dtype)


def random_labels(
    x: Tensor, *, labels: str = "sign", outputs: int = 1, seed: int = 0
) -> Dataset:
    """Random labels for given inputs: ``±1`` fair coins (``"sign"``) or ``N(0, 1)``
    (``"gaussian"``), independent of ``x``.

    >>> random_labels(torch.zeros(3, 2), seed=0).y.shape
    torch.Size([3, 1])
    """
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise ValueError(f"x must be a 2-D tensor (n, d), got {getattr(x, 'shape', x)}")
    outputs = check_int("outputs", outputs)
    g = _gen(seed)
    y = _labels(x.shape[0], outputs, labels, g, x.dtype if x.is_floating_point() else
                torch.float64)
    return Dataset(x, y.to(x.device), f"random-{labels}", seed, {"labels": labels})


def teacher_dataset(
    n: int,
    dim: int,
    *,
    width: int = 32,
    depth: int = 2,
    outputs: int = 1,
    activation: str = "relu",
    inputs: str = "gaussian",
    noise: float = 0.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> Dataset:
    """Labels from a fixed random MLP teacher: ``y = T(x) + noise·ε``.

    The teacher has ``depth`` layers (``depth − 1`` hidden layers of ``width`` units), weights
    ``W_l ~ N(0, c/fan_in)`` (``c = 2`` for ReLU, 1 otherwise), no bias, and a linear read-out;
    inputs are ``N(0, I)`` (``inputs="gaussian"``) or uniform on the sphere (``"sphere"``);
    ``ε ~ N(0, 1)``.  The teacher weights are stored in ``info["teacher"]``.

    >>> ds = teacher_dataset(8, 3, width=4, seed=0)
    >>> tuple(ds.y.shape), len(ds.info["teacher"])
    ((8, 1), 2)
    """
    n = check_int("n", n)
    dim = check_int("dim", dim)
    width = check_int("width", width)
    depth = check_int("depth", depth)
    outputs = check_int("outputs", outputs)
    check_choice("activation", activation, ["linear", "relu", "tanh"])
    check_choice("inputs", inputs, ["gaussian", "sphere"])
    noise = check_positive("noise", noise, allow_zero=True)
    g = _gen(seed)
    x = (torch.randn(n, dim, generator=g, dtype=torch.float64) if inputs == "gaussian"
         else _sphere(n, dim, g, torch.float64))
    c = 2.0 if activation == "relu" else 1.0
    widths = [dim] + [width] * (depth - 1) + [outputs]
    ws = [torch.randn(widths[i + 1], widths[i], generator=g, dtype=torch.float64)
          * math.sqrt((c if i < depth - 1 else 1.0) / widths[i]) for i in range(depth)]
    h = x
    for i, w in enumerate(ws):
        h = h @ w.T
        if i < depth - 1:
            h = torch.relu(h) if activation == "relu" else torch.tanh(h) if activation == "tanh" \
                else h
    y = h + noise * torch.randn(n, outputs, generator=g, dtype=torch.float64)
    info = {"teacher": [w.to(dtype) for w in ws], "activation": activation, "noise": noise}
    return Dataset(x.to(dtype).to(device), y.to(dtype).to(device), "teacher", seed, info)


def icosahedron(dtype: torch.dtype = torch.float64) -> Tensor:
    """The 12 vertices of a regular icosahedron on the unit sphere ``S²`` (rows), in the
    standard order: cyclic permutations of ``(0, ±1, ±φ)``, normalized.

    >>> v = icosahedron(); tuple(v.shape), round(float((v @ v.T)[0, 1:].abs().min()), 6)
    ((12, 3), 0.447214)
    """
    phi = (1 + math.sqrt(5)) / 2
    pts = []
    for a, b in itertools.product((-1.0, 1.0), repeat=2):
        pts += [(0.0, a, b * phi), (a, b * phi, 0.0), (b * phi, 0.0, a)]
    v = torch.tensor(pts, dtype=torch.float64)
    return (v / v.norm(dim=1, keepdim=True)).to(dtype)


def idnn_task(
    *, seed: int = 0, tie_break: float = 1e-3, dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> Dataset:
    """The 12-bit task in the style of Shwartz-Ziv & Tishby (2017): all 4096 binary inputs.

    Inputs: every ``x ∈ {0, 1}^{12}`` (row ``i`` is the binary expansion of ``i``, most
    significant bit first).  Rule (ours, documented; the paper's exact rule ships as a .mat
    file that we do not download): place bit ``j`` on vertex ``v_j`` of a regular icosahedron
    on ``S²`` and let ``s = 2x − 1``; the score
    ``f(x) = ‖Σ_j s_j v_j‖² + tie_break · Σ_j a_j s_j`` with ``a ~ N(0, I)`` drawn from
    ``seed`` is invariant under the rotations of the icosahedron up to the tiny seeded
    ``tie_break`` term (which only splits ties between symmetric patterns).  Labels
    ``y = 1[f(x) > median f]`` in ``{0, 1}`` (a column), so classes are balanced up to ties
    (the positive fraction is stored in ``info["positive_fraction"]``).  [derived]

    >>> ds = idnn_task(seed=0); tuple(ds.x.shape), 0.4 < ds.info["positive_fraction"] < 0.6
    ((4096, 12), True)
    """
    tie_break = check_positive("tie_break", tie_break, allow_zero=True)
    g = _gen(seed)
    idx = torch.arange(4096)
    bits = ((idx[:, None] >> torch.arange(11, -1, -1)[None, :]) & 1).to(torch.float64)
    s = 2 * bits - 1
    v = icosahedron(torch.float64)
    a = torch.randn(12, generator=g, dtype=torch.float64)
    score = (s @ v).pow(2).sum(dim=1) + tie_break * (s @ a)
    thr = score.median()
    y = (score > thr).to(torch.float64)[:, None]
    info = {"rule": "icosahedral ||sum s_j v_j||^2 > median", "tie_break": tie_break,
            "positive_fraction": float(y.mean())}
    return Dataset(bits.to(dtype).to(device), y.to(dtype).to(device), "idnn-12bit", seed, info)


def batch_indices(
    n: int, batch_size: int, *, epochs: int = 1, shuffle: bool = True, seed: int = 0,
    drop_last: bool = True,
) -> Iterator[Tensor]:
    """Seeded mini-batch index stream: for each epoch a permutation of ``range(n)`` (from a
    ``torch.Generator`` seeded once with ``seed``) cut into consecutive batches.

    With ``drop_last`` (default) a trailing partial batch is dropped, so every batch has
    exactly ``batch_size`` indices and an epoch has ``n // batch_size`` batches.

    Raises:
        ValueError: ``batch_size > n`` (names both), ``epochs < 1``.

    >>> [b.tolist() for b in batch_indices(4, 2, shuffle=False)]
    [[0, 1], [2, 3]]
    """
    n = check_int("n", n)
    batch_size = check_int("batch_size", batch_size)
    epochs = check_int("epochs", epochs)
    if batch_size > n:
        raise ValueError(f"batch_size must be <= the number of samples n = {n}, got {batch_size}")
    g = _gen(seed)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g) if shuffle else torch.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            yield perm[start:start + batch_size]


def minibatches(
    data: Dataset | tuple[Tensor, Tensor], batch_size: int, *, epochs: int = 1,
    shuffle: bool = True, seed: int = 0, drop_last: bool = True,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Seeded mini-batch iterator over a data set: yields ``(x_b, y_b)``; see
    :func:`batch_indices` for the order.

    >>> ds = sphere_inputs(6, 2, seed=0)
    >>> [tuple(xb.shape) for xb, _ in minibatches(ds, 3, epochs=2)]
    [(3, 2), (3, 2), (3, 2), (3, 2)]
    """
    ds = as_dataset(data)
    for idx in batch_indices(ds.n, batch_size, epochs=epochs, shuffle=shuffle, seed=seed,
                             drop_last=drop_last):
        idx = idx.to(ds.x.device)
        yield ds.x[idx], ds.y[idx]
