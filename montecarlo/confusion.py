"""Gradient confusion and the gradient noise scale, measured on batches of real networks.

Per-sample gradients are ``g_i = ∇_θ ℓ_i(θ)`` with ``ℓ_i`` the loss of sample ``i`` in the
forward pass of the whole batch (identical to the single-sample gradient unless the network
has batch-norm, where ``ℓ_i`` depends on the batch statistics), from
:mod:`flatstart.montecarlo.per_sample`.  Losses are the names of
:mod:`flatstart.montecarlo.losses` (default ``"mse"`` = ``(f − y)²`` averaged over the output
coordinates, as in training).

Confusion [paper: Sankararaman et al. 2020, Def. 2.1]: ``{ℓ_i}`` has confusion bound ``η``
at θ if ``⟨g_i, g_j⟩ ≥ −η`` for all ``i ≠ j``; the statistics here summarize the
``N(N−1)/2`` pairwise inner products and cosines, from the Gram matrix ``K_ij = ⟨g_i, g_j⟩``.

Noise scale [ref: McCandlish, Kaplan, Amodei et al. 2018, "An empirical model of large-batch
training", §2 and App. A]: ``B_simple = tr Σ / |G|²``, ``G = (1/N) Σ_i g_i`` and
``Σ = (1/(N − ddof)) Σ_i (g_i − G)(g_i − G)ᵀ`` with ``ddof = 0`` by default (the finite data
set *is* the population; this is the normalization under which i.i.d. (with-replacement)
batches of size B have ``E|G_B|² = |G|² + tr Σ / B`` exactly).

>>> import torch
>>> from flatstart.montecarlo.networks import mlps
>>> nets = mlps(2, 4, 2, input_dim=3, output_dim=1, seed=0)
>>> x = torch.randn(5, 3, dtype=torch.float64); y = torch.randn(5, 1, dtype=torch.float64)
>>> K = per_sample_gram(nets, x, y, "mse")
>>> tuple(K.shape), tuple(confusion_stats(K)["cos_min"].shape)
((2, 5, 5), (2,))
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from flatstart._checks import check_choice, check_int, check_positive, check_probability
from flatstart.montecarlo.data import Dataset, as_dataset, sphere_inputs
from flatstart.montecarlo.per_sample import (
    flat_per_sample,
    gram_from_gradients,
    per_sample_gradients,
    per_sample_gram,
    stacked_params,
)
from flatstart.montecarlo.training import check_training_loss, grad_norms, loss_and_grads

__all__ = [
    "NoiseScale",
    "confusion_stats",
    "confusion_over_training",
    "confusion_stats_reference",
    "confusion_sweep",
    "exact_noise_scale",
    "layer_groups",
    "minibatch_confusion",
    "noise_scale",
    "noise_scale_from_gram",
    "pairwise_offdiag",
    "two_batch_noise_scale",
    "with_replacement_pair_products",
]


# ---------------------------------------------------------------------------- layers
def layer_groups(nets: Any, n_params: int) -> list[int]:
    """Layer index of every parameter tensor: ``nets.parameter_layers()`` when available
    (weights, biases and norm affines of a layer share its index), else one layer per tensor.
    """
    fn = getattr(nets, "parameter_layers", None)
    if callable(fn):
        layers = list(fn())
        if len(layers) == n_params:
            return [int(v) for v in layers]
    return list(range(1, n_params + 1))


# ---------------------------------------------------------------------------- confusion
def pairwise_offdiag(gram: Tensor) -> tuple[Tensor, Tensor]:
    """Inner products and cosines of all pairs ``i < j``: two ``(count, N(N−1)/2)`` tensors.

    ``cos_ij = K_ij / √(K_ii K_jj)``; a pair with a zero gradient has cosine 0 (undefined
    otherwise; such pairs are counted by :func:`confusion_stats` as ``zero_pairs``).
    """
    if gram.dim() == 2:
        gram = gram[None]
    if gram.dim() != 3 or gram.shape[1] != gram.shape[2]:
        raise ValueError(f"gram must have shape (count, N, N), got {tuple(gram.shape)}")
    n = gram.shape[1]
    if n < 2:
        raise ValueError(f"need at least 2 samples for pairwise statistics, got N = {n}")
    i, j = torch.triu_indices(n, n, offset=1, device=gram.device)
    inner = gram[:, i, j]
    d = torch.diagonal(gram, dim1=1, dim2=2).clamp_min(0)
    denom = (d[:, i] * d[:, j]).sqrt()
    cos = torch.where(denom > 0, inner / torch.where(denom > 0, denom, 1.0), 0.0)
    return inner, cos.clamp(-1.0, 1.0)


def _summary(v: Tensor, prefix: str, eta: float, quantiles: Sequence[float]) -> dict[str, Tensor]:
    out = {
        f"{prefix}_min": v.min(dim=1).values,
        f"{prefix}_max": v.max(dim=1).values,
        f"{prefix}_mean": v.mean(dim=1),
        f"{prefix}_frac_below": (v < -eta).to(v.dtype).mean(dim=1),
    }
    if quantiles:
        srt = v.sort(dim=1).values
        m = srt.shape[1]
        for qq in quantiles:
            # linear interpolation between order statistics (torch.quantile's default, which
            # refuses inputs above 2^24 elements)
            pos = qq * (m - 1)
            lo = int(pos)
            hi = min(lo + 1, m - 1)
            out[f"{prefix}_q{qq:g}"] = srt[:, lo] + (pos - lo) * (srt[:, hi] - srt[:, lo])
    return out


def confusion_stats(
    gram: Tensor, eta: float = 0.0, quantiles: Sequence[float] = (0.01, 0.05, 0.25, 0.5),
    cos_eta: float | None = None,
) -> dict[str, Tensor]:
    """Per-network confusion statistics from per-sample-gradient Gram matrices.

    Over the pairs ``i < j``: for raw inner products (``inner_*``) and cosines (``cos_*``):
    ``min``, ``max``, ``mean``, quantiles ``q…`` (torch.quantile, linear interpolation) and
    ``frac_below`` = fraction of pairs below ``−η`` (``−cos_eta`` for cosines, default
    ``cos_eta = eta``); ``bound_holds`` = 1 where ``min_ij ⟨g_i, g_j⟩ ≥ −η`` (the confusion
    bound holds); ``zero_pairs`` = fraction of pairs involving a zero gradient.  Each value is
    a ``(count,)`` tensor.  [paper: Sankararaman et al. 2020, Def. 2.1 and §5 protocol]

    >>> K = torch.tensor([[[1.0, -0.5], [-0.5, 4.0]]])
    >>> s = confusion_stats(K, eta=0.1); float(s["cos_min"]), float(s["inner_frac_below"])
    (-0.25, 1.0)
    """
    eta = check_positive("eta", eta, allow_zero=True)
    ceta = eta if cos_eta is None else check_positive("cos_eta", cos_eta, allow_zero=True)
    for q in quantiles:
        check_probability("quantiles", q, open_interval=False)
    inner, cos = pairwise_offdiag(gram)
    out = _summary(inner, "inner", eta, quantiles)
    out.update(_summary(cos, "cos", ceta, quantiles))
    out["bound_holds"] = (out["inner_min"] >= -eta).to(inner.dtype)
    d = torch.diagonal(gram if gram.dim() == 3 else gram[None], dim1=1, dim2=2)
    n = d.shape[1]
    i, j = torch.triu_indices(n, n, offset=1, device=d.device)
    out["zero_pairs"] = ((d[:, i] <= 0) | (d[:, j] <= 0)).to(inner.dtype).mean(dim=1)
    return out


def confusion_stats_reference(
    grads: Sequence[Tensor], eta: float = 0.0, cos_eta: float | None = None,
) -> dict[str, Tensor]:
    """Slow reference for :func:`confusion_stats`: explicit double loop over pairs of the
    flattened per-sample gradients (``min, max, mean, frac_below`` of inner and cos)."""
    g = flat_per_sample(grads)
    count, n, _ = g.shape
    ceta = eta if cos_eta is None else cos_eta
    res: dict[str, list[float]] = {}
    for k in range(count):
        inner, cos = [], []
        for i, j in itertools.combinations(range(n), 2):
            a, b = g[k, i], g[k, j]
            ip = float(torch.dot(a, b))
            na, nb = float(a.norm()), float(b.norm())
            inner.append(ip)
            cos.append(max(-1.0, min(1.0, ip / (na * nb))) if na > 0 and nb > 0 else 0.0)
        for name, v, e in (("inner", inner, eta), ("cos", cos, ceta)):
            res.setdefault(f"{name}_min", []).append(min(v))
            res.setdefault(f"{name}_max", []).append(max(v))
            res.setdefault(f"{name}_mean", []).append(sum(v) / len(v))
            res.setdefault(f"{name}_frac_below", []).append(sum(t < -e for t in v) / len(v))
    return {k: torch.tensor(v, dtype=g.dtype) for k, v in res.items()}


def _pair_indices(n: int, batch_size: int, pairs: int, seed: int) -> list[tuple[Tensor, Tensor]]:
    if 2 * batch_size > n:
        raise ValueError(f"batch_size must be <= n/2 = {n // 2} (two disjoint batches per "
                         f"pair), got {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(pairs):
        perm = torch.randperm(n, generator=gen)
        out.append((perm[:batch_size], perm[batch_size:2 * batch_size]))
    return out


def minibatch_confusion(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    batch_size: int,
    pairs: int = 100,
    *,
    loss: str = "mse",
    seed: int = 0,
    params: Sequence[Tensor] | None = None,
    method: str = "direct",
) -> dict[str, Tensor]:
    """The mini-batch protocol: ``pairs`` pairs of disjoint batches ``A, B`` of size
    ``batch_size`` (each pair from a fresh seeded permutation), and the cosine of the two
    batch gradients ``g_A = ∇ (1/|A|) Σ_{i∈A} ℓ_i``.

    ``method="direct"`` backpropagates each batch (correct with batch-norm); ``"gram"`` uses
    ``⟨g_A, g_B⟩ = 1_Aᵀ K 1_B / b²`` from the full Gram matrix (no batch-norm).
    [paper: Sankararaman et al. 2020, §5 experimental protocol; derived Gram identity]

    Returns:
        ``cos`` and ``inner`` ``(count, pairs)``, and ``cos_mean``, ``cos_min`` ``(count,)``.
    """
    ds = as_dataset(data)
    batch_size = check_int("batch_size", batch_size)
    pairs = check_int("pairs", pairs)
    check_choice("method", method, ["direct", "gram"])
    loss = check_training_loss(loss, "minibatch_confusion")
    theta = stacked_params(nets, params)
    idx = _pair_indices(ds.n, batch_size, pairs, check_int("seed", seed, minimum=0))
    cos_l, inner_l = [], []
    if method == "gram":
        if getattr(nets, "norm", None) == "batch":
            raise ValueError("method='gram' is not valid with batch-norm; use method='direct'")
        K = per_sample_gram(nets, ds.x, ds.y, loss, theta)
        for a, b in idx:
            ab = K[:, a][:, :, b].sum(dim=(1, 2)) / batch_size**2
            aa = K[:, a][:, :, a].sum(dim=(1, 2)) / batch_size**2
            bb = K[:, b][:, :, b].sum(dim=(1, 2)) / batch_size**2
            inner_l.append(ab)
            den = (aa.clamp_min(0) * bb.clamp_min(0)).sqrt()
            cos_l.append(torch.where(den > 0, ab / torch.where(den > 0, den, 1.0), 0.0))
    else:
        for a, b in idx:
            _, ga = loss_and_grads(nets, theta, ds.x[a], ds.y[a], loss)
            _, gb = loss_and_grads(nets, theta, ds.x[b], ds.y[b], loss)
            ab = torch.stack([(u * v).reshape(u.shape[0], -1).sum(dim=1)
                              for u, v in zip(ga, gb, strict=True)]).sum(dim=0)
            den = grad_norms(ga) * grad_norms(gb)
            inner_l.append(ab)
            cos_l.append(torch.where(den > 0, ab / torch.where(den > 0, den, 1.0), 0.0))
    cos = torch.stack(cos_l, dim=1).clamp(-1, 1)
    inner = torch.stack(inner_l, dim=1)
    return {"cos": cos, "inner": inner, "cos_mean": cos.mean(dim=1),
            "cos_min": cos.min(dim=1).values}


def confusion_over_training(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    optimizer: str = "sgd",
    lr: float | Tensor | None = None,
    steps: int = 100,
    batch_size: int | None = None,
    record_every: int = 10,
    *,
    probe: Dataset | tuple[Tensor, Tensor] | None = None,
    loss: str = "mse",
    eta: float = 0.0,
    seed: int = 0,
    **opt_kwargs: Any,
) -> dict[str, Any]:
    """Per-sample confusion statistics at initialization and along training.

    Trains with :func:`flatstart.montecarlo.training.train` and, at steps ``0, record_every, …`` and
    at the end, computes :func:`confusion_stats` of the per-sample Gram matrix on ``probe``
    (default: the training data; keep it small, the Gram is ``N × N``) and the exact noise
    scale :func:`noise_scale_from_gram`.

    Returns:
        ``steps`` (list of ints), ``stats`` (list of dicts of ``(count,)`` tensors, one per
        recorded step, with ``b_simple`` added) and the :class:`TrainHistory` ``history``.
    """
    from flatstart.montecarlo.training import train  # noqa: PLC0415

    pr = as_dataset(data if probe is None else probe)

    def cb(t: int, theta: list[Tensor]) -> tuple[int, dict[str, Tensor]]:
        K = per_sample_gram(nets, pr.x, pr.y, loss, theta)
        st = confusion_stats(K, eta=eta)
        st["b_simple"] = noise_scale_from_gram(K)[0]
        return t, st

    h = train(nets, data, optimizer, lr, steps, batch_size, loss, seed, record_every,
              callback=cb, **opt_kwargs)
    return {"steps": [t for t, _ in h.callback_results],
            "stats": [s for _, s in h.callback_results], "history": h}


# ---------------------------------------------------------------------------- noise scale
@dataclass
class NoiseScale:
    """Exact noise scale of a finite data set, per network.

    Attributes:
        b_simple: ``(count,)`` ``tr Σ / |G|²`` (``inf`` where ``G = 0``).
        trace_cov: ``(count,)`` ``tr Σ``; grad_sq_norm: ``(count,)`` ``|G|²``.
        layer_b_simple, layer_trace_cov, layer_grad_sq_norm: ``(count, n_layers)`` the same
            restricted to the parameters of each layer (see :func:`layer_groups`).
        layers: the layer indices (columns); ddof: covariance normalization ``N − ddof``.
    """

    b_simple: Tensor
    trace_cov: Tensor
    grad_sq_norm: Tensor
    layer_b_simple: Tensor
    layer_trace_cov: Tensor
    layer_grad_sq_norm: Tensor
    layers: list[int]
    ddof: int
    n: int


def _ratio(a: Tensor, b: Tensor) -> Tensor:
    return torch.where(b > 0, a / torch.where(b > 0, b, 1.0), torch.full_like(a, math.inf))


def noise_scale_from_gram(gram: Tensor, ddof: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """``(B_simple, tr Σ, |G|²)`` per network from a Gram matrix ``K`` ``(count, N, N)``.

    ``|G|² = 1ᵀK1/N²``, ``tr Σ = (tr K − N|G|²)/(N − ddof)``.  [derived]

    >>> K = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # g_1 ⟂ g_2, unit norms
    >>> [round(float(t), 6) for t in noise_scale_from_gram(K)]
    [1.0, 0.5, 0.5]
    """
    if gram.dim() != 3:
        raise ValueError(f"gram must have shape (count, N, N), got {tuple(gram.shape)}")
    n = gram.shape[1]
    ddof = check_int("ddof", ddof, minimum=0, maximum=n - 1)
    g2 = gram.sum(dim=(1, 2)) / n**2
    tr = (torch.diagonal(gram, dim1=1, dim2=2).sum(dim=1) - n * g2) / (n - ddof)
    tr = tr.clamp_min(0)
    return _ratio(tr, g2), tr, g2


def noise_scale(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    loss: str = "mse",
    *,
    params: Sequence[Tensor] | None = None,
    ddof: int = 0,
    grads: Sequence[Tensor] | None = None,
) -> NoiseScale:
    """Exact ``B_simple = tr Σ / |G|²`` over the whole data set, total and per layer.

    ``G = (1/N) Σ g_i``, ``tr Σ = (1/(N − ddof)) Σ_i |g_i − G|²`` (default ``ddof = 0``);
    per layer the same sums restricted to that layer's parameters.  [ref: McCandlish et al.
    2018, eq. 2.8]  Pass ``grads`` (from :func:`per_sample_gradients`) to reuse them.
    """
    ds = as_dataset(data)
    g = per_sample_gradients(nets, ds.x, ds.y, loss, params) if grads is None else list(grads)
    n = g[0].shape[1]
    ddof = check_int("ddof", ddof, minimum=0, maximum=n - 1)
    groups = layer_groups(nets, len(g))
    layers = sorted(set(groups))
    tr_l, g2_l = [], []
    for lay in layers:
        sel = [gi for gi, li in zip(g, groups, strict=True) if li == lay]
        flat = flat_per_sample(sel)
        mean = flat.mean(dim=1)
        g2_l.append(mean.pow(2).sum(dim=1))
        tr_l.append((flat - mean[:, None]).pow(2).sum(dim=(1, 2)) / (n - ddof))
    tr_layer = torch.stack(tr_l, dim=1)
    g2_layer = torch.stack(g2_l, dim=1)
    tr = tr_layer.sum(dim=1)
    g2 = g2_layer.sum(dim=1)
    return NoiseScale(
        b_simple=_ratio(tr, g2), trace_cov=tr, grad_sq_norm=g2,
        layer_b_simple=_ratio(tr_layer, g2_layer), layer_trace_cov=tr_layer,
        layer_grad_sq_norm=g2_layer, layers=layers, ddof=ddof, n=n,
    )


def exact_noise_scale(
    nets: Any, data: Dataset | tuple[Tensor, Tensor], loss: str = "mse",
    params: Sequence[Tensor] | None = None,
) -> NoiseScale:
    """:func:`noise_scale` (``ddof = 0``) from exact per-sample gradients: the
    ``"layerwise"`` route of :func:`flatstart.montecarlo.per_sample.per_sample_gradients` for
    networks without normalization, the ``"replica"`` route otherwise (batch norm has no
    single-sample gradients and raises): ``B_simple,l = tr Σ_l / |G_l|²`` per network and
    layer."""
    ds = as_dataset(data)
    method = "layerwise" if getattr(nets, "norm", None) is None else "replica"
    grads = per_sample_gradients(nets, ds.x, ds.y, loss, params, method=method)
    assert isinstance(grads, list)
    return noise_scale(nets, ds, loss, params=params, grads=grads)


def two_batch_noise_scale(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    b_small: int,
    b_big: int,
    draws: int = 100,
    *,
    loss: str = "mse",
    seed: int = 0,
    params: Sequence[Tensor] | None = None,
    replacement: bool = True,
) -> dict[str, Tensor]:
    """Two-batch-size estimator of the noise scale [ref: McCandlish et al. 2018, App. A].

    For each of ``draws`` rounds draw a batch of size ``b_small`` and one of size ``b_big``
    (indices i.i.d. uniform with replacement by default) and their mean gradients; then
    ``|𝒢|² = (b_big|G_big|² − b_small|G_small|²)/(b_big − b_small)`` and
    ``𝒮 = (|G_small|² − |G_big|²)/(1/b_small − 1/b_big)`` are unbiased for ``|G|²`` and
    ``tr Σ`` (``ddof = 0``) under with-replacement sampling, since then
    ``E|G_b|² = |G|² + tr Σ/b``; the estimate is ``B_simple ≈ mean 𝒮 / mean |𝒢|²``
    (a ratio of averages, as the paper recommends).

    Returns:
        ``b_simple, trace_cov, grad_sq_norm`` ``(count,)`` and the per-draw ``S, G2``
        ``(count, draws)``.
    """
    ds = as_dataset(data)
    b_small = check_int("b_small", b_small)
    b_big = check_int("b_big", b_big)
    draws = check_int("draws", draws)
    if b_small >= b_big:
        raise ValueError(f"b_small must be < b_big, got b_small={b_small}, b_big={b_big}")
    if not replacement and b_big > ds.n:
        raise ValueError(f"b_big must be <= n = {ds.n} without replacement, got {b_big}")
    loss = check_training_loss(loss, "two_batch_noise_scale")
    theta = stacked_params(nets, params)
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))

    def draw(b: int) -> Tensor:
        if replacement:
            return torch.randint(0, ds.n, (b,), generator=gen)
        return torch.randperm(ds.n, generator=gen)[:b]

    s_l, g_l = [], []
    for _ in range(draws):
        gs = grad_norms(loss_and_grads(nets, theta, *_sub(ds, draw(b_small)), loss)[1]) ** 2
        gb = grad_norms(loss_and_grads(nets, theta, *_sub(ds, draw(b_big)), loss)[1]) ** 2
        g_l.append((b_big * gb - b_small * gs) / (b_big - b_small))
        s_l.append((gs - gb) / (1.0 / b_small - 1.0 / b_big))
    S = torch.stack(s_l, dim=1)
    G2 = torch.stack(g_l, dim=1)
    return {"b_simple": S.mean(dim=1) / G2.mean(dim=1), "trace_cov": S.mean(dim=1),
            "grad_sq_norm": G2.mean(dim=1), "S": S, "G2": G2}


def _sub(ds: Dataset, idx: Tensor) -> tuple[Tensor, Tensor]:
    idx = idx.to(ds.x.device)
    return ds.x[idx], ds.y[idx]


def with_replacement_pair_products(
    gram: Tensor, batch_size: int, pairs: int, seed: int = 0
) -> dict[str, Tensor]:
    """Gradients of pairs of independent with-replacement mini-batches, via the Gram matrix.

    Each batch draws ``batch_size`` indices iid uniform on ``{0..N−1}`` (seeded); with count
    vectors ``c₁, c₂`` the batch gradients ``ḡ = (1/B) Σ_b g_{i_b}`` satisfy
    ``⟨ḡ₁, ḡ₂⟩ = c₁ᵀ K c₂ / B²`` and ``‖ḡ‖² = cᵀ K c / B²`` for ``K_ij = ⟨g_i, g_j⟩``
    [derived: linearity of the batch gradient; valid without batch-norm].

    Args:
        gram: ``(N, N)`` Gram matrix of per-sample gradients (one network).
        batch_size: B ≥ 1; pairs: number of independent pairs; seed: index stream.

    Returns:
        ``inner`` ``⟨ḡ₁, ḡ₂⟩``, ``sq1`` ``‖ḡ₁‖²``, ``sq2`` ``‖ḡ₂‖²``, each ``(pairs,)``.

    >>> K = torch.eye(3, dtype=torch.float64)
    >>> r = with_replacement_pair_products(K, 1, 4, seed=0)
    >>> bool(torch.all(r["sq1"] == 1.0))
    True
    """
    if not isinstance(gram, Tensor) or gram.ndim != 2 or gram.shape[0] != gram.shape[1]:
        raise ValueError("gram must be a square (N, N) tensor")
    b = check_int("batch_size", batch_size)
    m = check_int("pairs", pairs)
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    n = gram.shape[0]
    idx = torch.randint(0, n, (2, m, b), generator=gen).to(gram.device)
    counts = torch.zeros((2, m, n), dtype=gram.dtype, device=gram.device)
    counts.scatter_add_(2, idx, torch.ones_like(idx, dtype=gram.dtype))
    c1, c2 = counts[0], counts[1]
    k1, k2 = c1 @ gram, c2 @ gram
    return {
        "inner": (k1 * c2).sum(dim=1) / b**2,
        "sq1": (k1 * c1).sum(dim=1) / b**2,
        "sq2": (k2 * c2).sum(dim=1) / b**2,
    }


# ---------------------------------------------------------------------------- sweeps
_NET_KEYS = ("width", "depth", "init", "activation", "norm", "residual", "bias", "output_dim")


def confusion_sweep(
    configs: Sequence[Mapping[str, Any]],
    *,
    count: int = 8,
    n_samples: int = 32,
    input_dim: int = 16,
    labels: str = "sign",
    loss: str = "mse",
    eta: float = 0.0,
    batch_size: int | None = None,
    pairs: int = 20,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Confusion statistics over a list of network configurations; one row (dict) each.

    Each config is a dict of :func:`flatstart.montecarlo.networks.mlps` arguments (``width, depth,
    init, activation, norm, residual, bias``; ``output_dim`` defaults to 1) and may override
    ``count, n_samples, input_dim, labels, batch_size, pairs, seed``.  Data: inputs uniform on
    ``S^{input_dim−1}`` with random labels (:func:`flatstart.montecarlo.data.sphere_inputs`).  Row
    keys: the configuration, then averages over the networks of the per-network
    ``cos_min, cos_mean, cos_q0.05, cos_frac_below, inner_min, inner_mean`` (prefixed
    ``mean_``), the median of ``cos_min`` (``median_cos_min``), ``p_bound`` = fraction of
    networks whose confusion bound ``η`` holds, and with ``batch_size`` the mini-batch
    protocol's mean cosine ``minibatch_cos_mean``.

    Example: width × depth × init (``"he_normal"`` vs ``"orthogonal"``) × norm/skip::

        rows = confusion_sweep([{"width": w, "depth": d, "init": i}
                                for w in (16, 64) for d in (2, 8) for i in ("he_normal",
                                "orthogonal")])
    """
    from flatstart.montecarlo.networks import mlps  # noqa: PLC0415

    if isinstance(configs, Mapping) or not isinstance(configs, Sequence) or not configs:
        raise ValueError("configs must be a non-empty list of dicts")
    rows = []
    for ci, cfg in enumerate(configs):
        if not isinstance(cfg, Mapping):
            raise TypeError(f"configs[{ci}] must be a dict, got {type(cfg).__name__}")
        c = dict(cfg)
        cnt = check_int("count", c.pop("count", count))
        ns = check_int("n_samples", c.pop("n_samples", n_samples), minimum=2)
        din = check_int("input_dim", c.pop("input_dim", input_dim))
        lab = c.pop("labels", labels)
        bs = c.pop("batch_size", batch_size)
        npairs = check_int("pairs", c.pop("pairs", pairs))
        sd = check_int("seed", c.pop("seed", seed), minimum=0)
        unknown = set(c) - set(_NET_KEYS)
        if unknown:
            raise ValueError(f"configs[{ci}] has unknown keys {sorted(unknown)}; allowed: "
                             f"{list(_NET_KEYS)} and count, n_samples, input_dim, labels, "
                             f"batch_size, pairs, seed")
        kw = {"output_dim": 1, **c}
        nets = mlps(cnt, kw.pop("width"), kw.pop("depth"), input_dim=din, seed=sd, **kw)
        ds = sphere_inputs(ns, din, labels=lab, seed=sd + 1)
        K = gram_from_gradients(per_sample_gradients(nets, ds.x, ds.y, loss))
        st = confusion_stats(K, eta=eta, quantiles=(0.05,))
        row: dict[str, Any] = {**dict(cfg), "count": cnt, "n_samples": ns, "input_dim": din}
        for key in ("cos_min", "cos_mean", "cos_q0.05", "cos_frac_below", "inner_min",
                    "inner_mean", "zero_pairs"):
            row[f"mean_{key}"] = float(st[key].mean())
        row["median_cos_min"] = float(st["cos_min"].median())
        row["p_bound"] = float(st["bound_holds"].mean())
        if bs is not None:
            mb = minibatch_confusion(nets, ds, int(bs), npairs, loss=loss, seed=sd)
            row["minibatch_cos_mean"] = float(mb["cos_mean"].mean())
        rows.append(row)
    return rows
