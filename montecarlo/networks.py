"""Batched random networks: many independent networks evaluated as one tensor program.

:func:`mlps` builds ``count`` independent fully connected networks and :func:`chains` builds
``count`` neural chains (width 1). Both return a :class:`NetworkBatch` whose parameters are
stacked along a leading network dimension, so a forward or backward pass over all networks is a
handful of batched matrix products (``torch.matmul``) or, for width-1 layers, elementwise
products -- never a Python loop over networks.

Architecture [derived; the usual fully connected network of VC/Hanin]. With ``depth = L``
weight layers ``W_l`` of shape ``(n_l, n_{l-1})``, input ``x_0 = x``, for ``l = 1..L``:

* pre-activation ``h_l = W_l x_{l-1}`` (``+ b_l`` with ``bias=True``);
* normalization (hidden layers only, ``norm="batch"``/``"layer"``):
  ``z_l = γ_l ⊙ (h_l − μ)/√(σ² + ε) + β_l``, otherwise ``z_l = h_l``;
* activation ``a_l = φ(z_l)`` (hidden layers) or ``a_l = z_l`` (the linear readout);
* residual (``residual=α`` and ``n_l = n_{l-1}``): ``x_l = x_{l-1} + α a_l``; otherwise
  ``x_l = a_l``. A layer whose input and output widths differ (e.g. the first layer when
  ``input_dim != width``) is always plain.

``output_dim=None``: every layer is a hidden layer (``φ`` applied to all ``L`` layers, the output
is ``x_L`` with ``n_L`` = the last width). ``output_dim=k``: the ``L``-th layer is a linear
readout with ``k`` outputs (no activation, no norm) and ``depth`` counts it, i.e. there are
``L − 1`` hidden layers. Chains have ``input_dim = output_dim = 1`` and a linear readout:
``f(x) = w_L φ(w_{L-1} ⋯ φ(w_1 x))`` (VC's neural chain); with ``residual=α`` every chain layer
(the readout included) is residual: linear chains compute ``f = ∏_l (1 + α w_l) x``.

Normalization [ref: Ioffe & Szegedy 2015; Ba et al. 2016]: ``"batch"`` normalizes each feature
over the batch dimension of each network separately (training-mode statistics, biased variance,
``ε = 1e-5``, no running statistics); ``"layer"`` normalizes each sample over its features.
The affine parameters ``γ_l = 1``, ``β_l = 0`` are parameters (``norm_affine=True``, default).

Random stream: one CPU ``torch.Generator`` seeded with ``seed``; for ``l = 1..L`` it draws
``W_l`` (row-major over ``(count, n_out, n_in)``, float64) and then, with ``init="torch_default"``
and ``bias=True``, ``b_l``. Parameters are then cast to ``dtype`` and moved to ``device``, so
a seed gives the same float64 parameters on every device.

Size: one file of ~800 lines because :class:`NetworkBatch` is one class (its forward pass, its
parameter layout and its ``nn.Module`` reference must change together) and the two builders
share its layer specification.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from flatstart._checks import check_choice, check_int, check_positive
from flatstart.montecarlo.inits import (
    INITS,
    init_scale,
    sample_biases,
    sample_normal,
    sample_uniform,
)
from flatstart.montecarlo.inits import sample_weights as _sample_weights
from flatstart.montecarlo.provenance import make_provenance

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "INITS",
    "BN_EPS",
    "DEFAULT_MAX_BYTES",
    "LayerSpec",
    "Trace",
    "NetworkBatch",
    "mlps",
    "chains",
    "check_dtype",
    "check_device",
    "flatten_params",
    "unflatten_params",
]

ACTIVATIONS: tuple[str, ...] = ("linear", "relu", "tanh")
NORMS: tuple[str, ...] = ("batch", "layer")
BN_EPS = 1e-5
DEFAULT_MAX_BYTES = 2 * 1024**3


def check_dtype(dtype: Any) -> torch.dtype:
    """Return ``dtype`` if it is a floating torch dtype, else raise ``ValueError``.

    >>> check_dtype(torch.float32)
    torch.float32
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(
            f"dtype must be a floating torch dtype (torch.float64, torch.float32, ...), "
            f"got {dtype!r}"
        )
    return dtype


def check_device(device: Any) -> torch.device:
    """Return ``torch.device(device)`` if usable here, else raise ``ValueError``.

    >>> check_device("cpu")
    device(type='cpu')
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} is unavailable: torch.cuda.is_available() is False")
    if dev.type not in ("cpu", "cuda"):
        try:
            torch.zeros(1, device=dev)
        except Exception as exc:
            raise ValueError(f"device {device!r} is unavailable: {exc}") from exc
    return dev


@dataclass(frozen=True)
class LayerSpec:
    """One weight layer: widths and which operations it applies (see module docstring)."""

    n_in: int
    n_out: int
    activation: bool  # φ applied (hidden layer) or linear readout
    normed: bool
    residual: bool


@dataclass
class Trace:
    """Intermediate values of a forward pass; indexing gives the post-activations.

    Attributes:
        post: ``depth + 1`` tensors ``(count, batch, n_l)``; ``post[0]`` is the input and
            ``post[l] = x_l`` the output of layer ``l`` (after activation and residual).
        pre: ``depth`` tensors ``h_l = W_l x_{l-1} (+ b_l)``: ``pre[l-1]`` belongs to layer ``l``.
        normalized: ``depth`` entries ``z_l`` after normalization and affine (``None`` when the
            layer is not normalized).
        standardized: ``depth`` entries ``ẑ_l = (h_l − μ)/√(σ² + ε)`` before the affine map
            (``None`` when the layer is not normalized).

    ``trace[l]`` is ``post[l]``, ``len(trace) == depth + 1``.
    """

    post: list[Tensor] = field(default_factory=list)
    pre: list[Tensor] = field(default_factory=list)
    normalized: list[Tensor | None] = field(default_factory=list)
    standardized: list[Tensor | None] = field(default_factory=list)

    def __getitem__(self, index: int) -> Tensor:
        return self.post[index]

    def __len__(self) -> int:
        return len(self.post)

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self.post)


def _act(name: str, z: Tensor) -> Tensor:
    if name == "relu":
        return torch.relu(z)
    if name == "tanh":
        return torch.tanh(z)
    return z


def _normalize(h: Tensor, kind: str) -> Tensor:
    dim = 1 if kind == "batch" else -1
    mean = h.mean(dim=dim, keepdim=True)
    var = (h - mean).square().mean(dim=dim, keepdim=True)
    return (h - mean) / torch.sqrt(var + BN_EPS)


class _BatchNorm(nn.Module):
    """Batch normalization with batch statistics, written out: ``(h − mean_b h) /
    √(var_b h + eps) · weight + bias`` (biased variance over the batch), what
    ``nn.BatchNorm1d(track_running_stats=False)`` computes in training mode, but defined for a
    batch of one too (then every output is ``bias``), like the batched forward."""

    def __init__(self, n: int, affine: bool, dtype: torch.dtype,
                 device: str | torch.device) -> None:
        super().__init__()
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(n, dtype=dtype, device=device))
            self.bias = nn.Parameter(torch.zeros(n, dtype=dtype, device=device))

    def forward(self, h: Tensor) -> Tensor:
        mean = h.mean(dim=0, keepdim=True)
        var = (h - mean).square().mean(dim=0, keepdim=True)
        out = (h - mean) / torch.sqrt(var + BN_EPS)
        return out * self.weight + self.bias if self.affine else out


class NetworkBatch:
    """``count`` independent random networks stored as stacked parameter tensors.

    Build with :func:`mlps` or :func:`chains`. Calling ``nets(x)`` evaluates all networks;
    :meth:`forward` also accepts another parameter list (functional use by training, curvature
    and ``torch.func``).

    Parameter order (:meth:`parameters`): weights ``W_1..W_L`` each ``(count, n_l, n_{l-1})``;
    then, with ``bias=True``, biases ``b_1..b_L`` each ``(count, n_l)``; then, with a norm and
    ``norm_affine=True``, the scales ``γ_l`` of the normalized layers, then their shifts ``β_l``,
    each ``(count, n_l)``.
    """

    def __init__(
        self,
        *,
        builder: str,
        layers: Sequence[LayerSpec],
        params: list[Tensor],
        activation: str,
        init: str | None,
        bias: bool,
        residual: float | None,
        norm: str | None,
        norm_affine: bool,
        dtype: torch.dtype,
        device: torch.device,
        seed: int | None,
        arguments: dict[str, Any],
    ) -> None:
        self.builder = builder
        self.layers = tuple(layers)
        self._params = params
        self.activation = activation
        self.init = init
        self.bias = bias
        self.residual = residual
        self.norm = norm
        self.norm_affine = norm_affine
        self.dtype = dtype
        self.device = device
        self.seed = seed
        self.arguments = dict(arguments)
        self.count = int(params[0].shape[0])
        self.depth = len(self.layers)
        self.widths = [self.layers[0].n_in] + [s.n_out for s in self.layers]
        self._normed_layers = [i for i, s in enumerate(self.layers) if s.normed]
        self._check_params(params)

    # ------------------------------------------------------------------ structure
    @property
    def input_dim(self) -> int:
        """Input width ``n_0``."""
        return self.widths[0]

    @property
    def output_dim(self) -> int:
        """Output width ``n_L``."""
        return self.widths[-1]

    @property
    def is_chain(self) -> bool:
        """True when every width is 1 (elementwise fast path)."""
        return all(n == 1 for n in self.widths)

    def parameter_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the per-network parameters (without the leading ``count``), in order."""
        shapes: list[tuple[int, ...]] = [(s.n_out, s.n_in) for s in self.layers]
        if self.bias:
            shapes += [(s.n_out,) for s in self.layers]
        if self.norm is not None and self.norm_affine:
            shapes += [(self.layers[i].n_out,) for i in self._normed_layers] * 2
        return shapes

    def parameter_layers(self) -> list[int]:
        """For each entry of :meth:`parameters`, the 1-based layer it belongs to."""
        idx = list(range(1, self.depth + 1))
        if self.bias:
            idx += list(range(1, self.depth + 1))
        if self.norm is not None and self.norm_affine:
            idx += [i + 1 for i in self._normed_layers] * 2
        return idx

    def parameter_names(self) -> list[str]:
        """Names ``W1.., b1.., gamma_l.., beta_l..`` in :meth:`parameters` order."""
        names = [f"W{i}" for i in range(1, self.depth + 1)]
        if self.bias:
            names += [f"b{i}" for i in range(1, self.depth + 1)]
        if self.norm is not None and self.norm_affine:
            names += [f"gamma{i + 1}" for i in self._normed_layers]
            names += [f"beta{i + 1}" for i in self._normed_layers]
        return names

    @property
    def parameter_count(self) -> int:
        """Number of parameters ``P`` of one network."""
        return sum(math.prod(s) for s in self.parameter_shapes())

    def parameters(self) -> list[Tensor]:
        """The stacked parameter tensors (the stored tensors themselves, not copies)."""
        return self._params

    def _check_params(self, params: Sequence[Tensor]) -> None:
        shapes = self.parameter_shapes()
        if len(params) != len(shapes):
            raise ValueError(f"params must be a list of {len(shapes)} tensors, got {len(params)}")
        count = params[0].shape[0] if len(params) else 0
        for i, (p, s) in enumerate(zip(params, shapes, strict=True)):
            if not isinstance(p, Tensor) or tuple(p.shape[1:]) != s or p.shape[0] != count:
                got = tuple(p.shape) if isinstance(p, Tensor) else type(p).__name__
                raise ValueError(
                    f"params[{i}] ({self.parameter_names()[i]}) must have shape "
                    f"(count, {', '.join(map(str, s))}), got {got}"
                )

    # ------------------------------------------------------------------ flat views
    def flatten(self, params: Sequence[Tensor] | None = None) -> Tensor:
        """Concatenate parameters into a ``(count, P)`` tensor (order of :meth:`parameters`)."""
        return flatten_params(self._params if params is None else list(params))

    def unflatten(self, flat: Tensor) -> list[Tensor]:
        """Inverse of :meth:`flatten`: ``(count, P)`` (or ``(P,)`` for one net) -> list."""
        return unflatten_params(flat, self.parameter_shapes())

    # ------------------------------------------------------------------ forward
    def prepare_input(self, x: Any, count: int | None = None) -> Tensor:
        """Return ``x`` as a ``(batch, n_0)`` or ``(count, batch, n_0)`` tensor (dtype, device).

        Scalars and 1-D inputs are accepted for ``n_0 = 1`` (a 1-D input is a batch) and a 1-D
        input of length ``n_0 > 1`` is one sample.
        """
        if isinstance(x, Tensor) and not x.dtype.is_floating_point:
            raise ValueError(f"x must be a floating tensor, got dtype {x.dtype}")
        t = torch.as_tensor(x, dtype=self.dtype, device=self.device)
        n0 = self.input_dim
        if t.ndim == 0:
            if n0 != 1:
                raise ValueError(f"x must have last dimension input_dim={n0}, got a scalar")
            t = t.reshape(1, 1)
        elif t.ndim == 1:
            t = t.reshape(-1, 1) if n0 == 1 else t.reshape(1, -1)
        if t.ndim not in (2, 3) or t.shape[-1] != n0:
            raise ValueError(
                f"x must have shape (batch, {n0}) or (count, batch, {n0}), got {tuple(t.shape)}"
            )
        n = self.count if count is None else count
        if t.ndim == 3 and t.shape[0] not in (1, n):
            raise ValueError(f"x with 3 dimensions must have x.shape[0] == count={n}")
        return t

    def forward(
        self,
        x: Any,
        params: Sequence[Tensor] | None = None,
        return_activations: bool = False,
    ) -> Any:
        """Evaluate all networks: ``(batch | count × batch, n_0)`` -> ``(count, batch, n_L)``.

        Args:
            x: inputs shared by all networks ``(batch, n_0)`` or per network
                ``(count, batch, n_0)``.
            params: optional parameter list with the shapes of :meth:`parameters` but any
                leading ``count'`` (e.g. ``unflatten(theta[None])`` for one flat vector), used
                instead of the stored parameters; gradients flow into it.
            return_activations: also return a :class:`Trace` (``trace[l]`` = ``x_l``,
                ``trace.pre[l-1]`` = ``h_l``).

        Returns:
            ``out`` or ``(out, trace)``.

        >>> nets = chains(count=3, depth=2, sigma=1.0, seed=0)
        >>> out = nets(torch.ones(1, 1, dtype=torch.float64))
        >>> p = nets.parameters()
        >>> bool(torch.allclose(out.reshape(3), (p[0] * p[1]).reshape(3)))
        True
        """
        if params is None:
            ps = self._params
        else:
            ps = list(params)
            self._check_params(ps)
        xt = self.prepare_input(x, count=int(ps[0].shape[0]))
        out, trace = self._forward_impl(xt, ps, return_activations)
        if return_activations:
            return out, trace
        return out

    __call__ = forward

    def _forward_impl(
        self, x: Tensor, ps: Sequence[Tensor], keep: bool
    ) -> tuple[Tensor, Trace | None]:
        depth = self.depth
        weights = ps[:depth]
        k = depth
        biases: Sequence[Tensor | None] = [None] * depth
        if self.bias:
            biases = ps[k : k + depth]
            k += depth
        gammas: dict[int, Tensor] = {}
        betas: dict[int, Tensor] = {}
        if self.norm is not None and self.norm_affine:
            m = len(self._normed_layers)
            gammas = dict(zip(self._normed_layers, ps[k : k + m], strict=True))
            betas = dict(zip(self._normed_layers, ps[k + m : k + 2 * m], strict=True))
        trace = Trace() if keep else None
        h_in = x
        if h_in.ndim == 2:
            h_in = h_in.unsqueeze(0)
        n_nets = weights[0].shape[0]
        if h_in.shape[0] == 1 and n_nets != 1:
            h_in = h_in.expand(n_nets, *h_in.shape[1:])
        if trace is not None:
            trace.post.append(h_in)
        alpha = self.residual
        for i, spec in enumerate(self.layers):
            w = weights[i]
            if spec.n_in == 1 and spec.n_out == 1:
                h = h_in * w  # (count, batch, 1) * (count, 1, 1): width-1 fast path
            else:
                h = torch.matmul(h_in, w.transpose(-1, -2))
            b = biases[i]
            if b is not None:
                h = h + b.unsqueeze(-2)
            z = h
            zhat: Tensor | None = None
            if spec.normed:
                assert self.norm is not None
                zhat = z = _normalize(h, self.norm)
                if i in gammas:
                    z = zhat * gammas[i].unsqueeze(-2) + betas[i].unsqueeze(-2)
            a = _act(self.activation, z) if spec.activation else z
            if spec.residual:
                assert alpha is not None
                a = h_in + alpha * a
            if trace is not None:
                trace.pre.append(h)
                trace.normalized.append(z if spec.normed else None)
                trace.standardized.append(zhat)
                trace.post.append(a)
            h_in = a
        return h_in, trace

    # ------------------------------------------------------------------ subsets
    def with_parameters(self, params: Sequence[Tensor]) -> NetworkBatch:
        """A :class:`NetworkBatch` with the same architecture and the given parameters.

        ``params`` must have the shapes of :meth:`parameters` (any leading count); they are
        used as given (not copied). Provenance still names the original builder and seed.
        """
        ps = list(params)
        self._check_params(ps)
        return NetworkBatch(
            builder=self.builder, layers=self.layers, params=ps, activation=self.activation,
            init=self.init, bias=self.bias, residual=self.residual, norm=self.norm,
            norm_affine=self.norm_affine, dtype=self.dtype, device=self.device, seed=self.seed,
            arguments=self.arguments,
        )

    def select(self, index: slice | Sequence[int] | Tensor) -> NetworkBatch:
        """A :class:`NetworkBatch` of a subset of the networks (parameters are views/copies)."""
        ps = [p[index] for p in self._params]
        if ps[0].ndim == self._params[0].ndim - 1:
            raise ValueError("index must select a range of networks (use a slice or a list)")
        return self.with_parameters(ps)

    def estimate_bytes(self, batch: int = 1, factor: float = 4.0) -> int:
        """Rough working memory of a forward + backward pass on ``batch`` inputs, in bytes.

        ``factor · element_size · count · batch · Σ_l n_l``: the retained pre-/post-activations
        (and normalized values) and the backpropagated signals, which grow with the batch.
        Parameter-sized tensors are not counted: the parameters exist already and a stacked
        gradient is the result itself, whose size splitting over networks does not reduce
        (splitting and concatenating would even hold it twice).
        """
        per_net = batch * sum(self.widths)
        return int(factor * self.dtype.itemsize * self.count * per_net)

    def chunks(
        self, batch: int = 1, max_bytes: int = DEFAULT_MAX_BYTES, factor: float = 4.0
    ) -> Iterator[tuple[slice, NetworkBatch]]:
        """Split into consecutive sub-batches whose :meth:`estimate_bytes` fits ``max_bytes``.

        Yields ``(slice, sub_batch)`` pairs covering ``0..count``.
        """
        per = max(1, self.estimate_bytes(batch, factor) // self.count)
        size = max(1, min(self.count, int(max_bytes // per)))
        for start in range(0, self.count, size):
            sl = slice(start, min(self.count, start + size))
            yield sl, (self if size >= self.count else self.select(sl))

    # ------------------------------------------------------------------ reference modules
    def to_module(self, index: int) -> nn.Module:
        """Slow reference: network ``index`` as an ``nn.Module`` with copied parameters.

        The module takes ``(batch, n_0)`` and returns ``(batch, n_L)``; its parameter order
        differs from :meth:`parameters` (it is grouped per layer).
        """
        index = check_int("index", index, minimum=0, maximum=self.count - 1)
        ps = self._params
        depth = self.depth
        mods: list[nn.Module] = []
        k_bias = depth if self.bias else None
        m = len(self._normed_layers)
        k_aff = depth * (2 if self.bias else 1)
        for i, spec in enumerate(self.layers):
            lin = nn.Linear(
                spec.n_in, spec.n_out, bias=self.bias, dtype=self.dtype, device=self.device
            )
            with torch.no_grad():
                lin.weight.copy_(ps[i][index])
                if k_bias is not None:
                    assert lin.bias is not None
                    lin.bias.copy_(ps[k_bias + i][index])
            body: list[nn.Module] = [lin]
            if spec.normed:
                affine = self.norm_affine
                if self.norm == "batch":
                    normmod: nn.Module = _BatchNorm(spec.n_out, affine, self.dtype, self.device)
                else:
                    normmod = nn.LayerNorm(
                        spec.n_out, eps=BN_EPS, elementwise_affine=affine, bias=affine,
                        dtype=self.dtype, device=self.device,
                    )
                if affine:
                    j = self._normed_layers.index(i)
                    with torch.no_grad():
                        normmod.get_parameter("weight").copy_(ps[k_aff + j][index])
                        normmod.get_parameter("bias").copy_(ps[k_aff + m + j][index])
                body.append(normmod)
            if spec.activation:
                body.append(
                    {"relu": nn.ReLU(), "tanh": nn.Tanh(), "linear": nn.Identity()}[self.activation]
                )
            block: nn.Module = nn.Sequential(*body)
            if spec.residual:
                assert self.residual is not None
                block = _Residual(block, self.residual)
            mods.append(block)
        return nn.Sequential(*mods)

    # ------------------------------------------------------------------ provenance
    def provenance(self) -> dict[str, Any]:
        """Builder, parameters, seed, dtype, device and library versions (a dict)."""
        return make_provenance(
            self.builder, self.arguments, seed=self.seed, dtype=self.dtype, device=self.device
        )

    def __repr__(self) -> str:
        return (
            f"NetworkBatch({self.builder}, count={self.count}, widths={self.widths}, "
            f"activation={self.activation!r}, init={self.init!r}, bias={self.bias}, "
            f"residual={self.residual}, norm={self.norm!r}, dtype={self.dtype}, "
            f"device={self.device}, seed={self.seed})"
        )


class _Residual(nn.Module):
    def __init__(self, body: nn.Module, alpha: float) -> None:
        super().__init__()
        self.body = body
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return x + self.alpha * self.body(x)


# ---------------------------------------------------------------------- builders
def _check_residual(residual: Any) -> float | None:
    if residual is None:
        return None
    return check_positive("residual", residual)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def _build(
    *,
    builder: str,
    arguments: dict[str, Any],
    count: int,
    layers: list[LayerSpec],
    activation: str,
    init: str | None,
    weight_law: tuple[str, float] | None,
    gain: float | None,
    bias: bool,
    residual: float | None,
    norm: str | None,
    norm_affine: bool,
    dtype: torch.dtype,
    device: torch.device,
    seed: int,
) -> NetworkBatch:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    weights: list[Tensor] = []
    biases: list[Tensor] = []
    for spec in layers:
        if weight_law is not None:
            law, scale = weight_law
            shape = (count, spec.n_out, spec.n_in)
            if law == "normal":
                w = sample_normal(shape, scale, gen)
            else:
                w = sample_uniform(shape, scale, gen)
        else:
            assert init is not None
            w = _sample_weights(init, count, spec.n_out, spec.n_in, gen, gain)
        weights.append(w)
        if bias:
            b = (
                sample_biases(init, count, spec.n_out, spec.n_in, gen)
                if init is not None
                else torch.zeros((count, spec.n_out), dtype=torch.float64)
            )
            biases.append(b)
    params = weights + biases
    if norm is not None and norm_affine:
        normed = [s for s in layers if s.normed]
        params += [torch.ones((count, s.n_out), dtype=torch.float64) for s in normed]
        params += [torch.zeros((count, s.n_out), dtype=torch.float64) for s in normed]
    params = [p.to(dtype=dtype, device=device).contiguous() for p in params]
    return NetworkBatch(
        builder=builder,
        layers=layers,
        params=params,
        activation=activation,
        init=init,
        bias=bias,
        residual=residual,
        norm=norm,
        norm_affine=norm_affine,
        dtype=dtype,
        device=device,
        seed=seed,
        arguments=arguments,
    )


def _layer_specs(
    widths: list[int], readout: bool, residual: float | None, norm: str | None
) -> list[LayerSpec]:
    depth = len(widths) - 1
    specs = []
    for i in range(depth):
        hidden = not (readout and i == depth - 1)
        n_in, n_out = widths[i], widths[i + 1]
        specs.append(
            LayerSpec(
                n_in=n_in,
                n_out=n_out,
                activation=hidden,
                normed=hidden and norm is not None,
                residual=residual is not None and n_in == n_out,
            )
        )
    return specs


def mlps(
    count: int,
    width: int | Sequence[int],
    depth: int,
    activation: str = "relu",
    init: str = "he_normal",
    input_dim: int | None = None,
    output_dim: int | None = None,
    bias: bool = False,
    residual: float | None = None,
    norm: str | None = None,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    seed: int = 0,
    *,
    gain: float | None = None,
    norm_affine: bool = True,
) -> NetworkBatch:
    """Build ``count`` independent random fully connected networks (one tensor program).

    Layer ``l`` computes ``x_l = φ(norm(W_l x_{l-1} + b_l))`` (``+ x_{l-1}`` scaled residual,
    see the module docstring); weights follow ``init`` with torch's fan conventions
    (:mod:`flatstart.montecarlo.inits`). [derived: standard definitions, see module docstring]

    Args:
        count: number of independent networks (≥ 1).
        width: output width of every hidden layer (int) or a list of hidden widths, of length
            ``depth`` when ``output_dim is None`` and ``depth − 1`` otherwise.
        depth: number of weight layers ``L`` (the readout included when ``output_dim`` is set).
        activation: ``"linear"``, ``"relu"`` or ``"tanh"``.
        init: one of :data:`flatstart.montecarlo.inits.INITS`.
        input_dim: ``n_0``; ``None`` means the first hidden width.
        output_dim: ``None`` (all layers hidden) or the width of a final linear readout.
        bias: add biases (``torch_default``: ``U(±1/√fan_in)``; other inits: zeros).
        residual: ``None`` or ``α > 0``: equal-width layers compute ``x_{l-1} + α a_l``.
        norm: ``None``, ``"batch"`` or ``"layer"`` (hidden layers, on the pre-activation).
        dtype: floating dtype (default float64).
        device: ``"cpu"``, ``"cuda"``, ...
        seed: seed of the CPU generator (≥ 0).
        gain: optional gain overriding the init's default (not with ``torch_default``).
        norm_affine: include the norm's affine ``γ = 1, β = 0`` in the parameters.

    Returns:
        A :class:`NetworkBatch`.

    >>> nets = mlps(count=4, width=8, depth=3, input_dim=5, output_dim=2, seed=0)
    >>> nets.widths, nets(torch.zeros(7, 5, dtype=torch.float64)).shape
    ([5, 8, 8, 2], torch.Size([4, 7, 2]))
    """
    count = check_int("count", count)
    depth = check_int("depth", depth)
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = check_choice("init", init, INITS)
    if norm is not None:
        check_choice("norm", norm, NORMS)
    bias = _check_bool("bias", bias)
    norm_affine = _check_bool("norm_affine", norm_affine)
    residual_f = _check_residual(residual)
    dtype = check_dtype(dtype)
    dev = check_device(device)
    seed = check_int("seed", seed, minimum=0)
    n_hidden = depth if output_dim is None else depth - 1
    if isinstance(width, Sequence) and not isinstance(width, str):
        hidden = [check_int(f"width[{i}]", w) for i, w in enumerate(width)]
        if len(hidden) != n_hidden:
            raise ValueError(
                f"width must have length {n_hidden} (the number of hidden layers: depth"
                f"{'' if output_dim is None else ' - 1, the readout excluded'}), got {len(hidden)}"
            )
    else:
        hidden = [check_int("width", width)] * n_hidden
    if output_dim is not None:
        output_dim = check_int("output_dim", output_dim)
    if input_dim is None:
        if not hidden:
            raise ValueError("input_dim must be given when there are no hidden layers (depth=1)")
        input_dim = hidden[0]
    input_dim = check_int("input_dim", input_dim)
    if gain is not None:
        init_scale(init, 1, 1, gain)  # validates gain (and its use with torch_default)
    widths = [input_dim, *hidden] + ([] if output_dim is None else [output_dim])
    specs = _layer_specs(widths, output_dim is not None, residual_f, norm)
    arguments = {
        "count": count, "width": width if isinstance(width, int) else list(hidden),
        "depth": depth, "activation": activation, "init": init, "input_dim": input_dim,
        "output_dim": output_dim, "bias": bias, "residual": residual_f, "norm": norm,
        "dtype": dtype, "device": dev, "seed": seed, "gain": gain, "norm_affine": norm_affine,
    }
    return _build(
        builder="mlps", arguments=arguments, count=count, layers=specs, activation=activation,
        init=init, weight_law=None, gain=gain, bias=bias, residual=residual_f, norm=norm,
        norm_affine=norm_affine, dtype=dtype, device=dev, seed=seed,
    )


def chains(
    count: int,
    depth: int,
    init: str | None = None,
    sigma: float | None = None,
    activation: str = "linear",
    residual: float | None = None,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    seed: int = 0,
    *,
    bound: float | None = None,
    gain: float | None = None,
    bias: bool = False,
    norm: str | None = None,
) -> NetworkBatch:
    """Build ``count`` independent neural chains (width 1): ``f(x) = w_L φ(w_{L-1} ⋯ φ(w_1 x))``.

    Exactly one of ``init`` (fan_in = fan_out = 1: Xavier ``N(0, 1)``, He ``N(0, 2)``,
    Xavier-uniform ``U(±√3)``, ...), ``sigma`` (``N(0, σ²)``) or ``bound`` (``U(−a, a)``) sets the
    weight law. With ``residual=α`` every layer is ``x_l = x_{l-1} + α a_l`` (linear:
    ``(1 + α w_l) x_{l-1}``). Weights have shape ``(count, 1, 1)`` and the forward pass is
    elementwise. [paper: VC, Sec. "neural chains"]

    >>> c = chains(count=5, depth=3, init="xavier_normal", seed=1)
    >>> c.widths, [tuple(p.shape) for p in c.parameters()]
    ([1, 1, 1, 1], [(5, 1, 1), (5, 1, 1), (5, 1, 1)])
    """
    count = check_int("count", count)
    depth = check_int("depth", depth)
    given = [n for n, v in (("init", init), ("sigma", sigma), ("bound", bound)) if v is not None]
    if len(given) != 1:
        raise ValueError(
            f"exactly one of init, sigma or bound must be given, got {given or 'none'}"
        )
    weight_law: tuple[str, float] | None = None
    if init is not None:
        init = check_choice("init", init, INITS)
        if gain is not None:
            init_scale(init, 1, 1, gain)
    elif sigma is not None:
        weight_law = ("normal", check_positive("sigma", sigma))
    else:
        weight_law = ("uniform", check_positive("bound", bound))
    if weight_law is not None and gain is not None:
        raise ValueError(f"gain is only allowed together with init, got gain={gain!r}")
    activation = check_choice("activation", activation, ACTIVATIONS)
    if norm is not None:
        check_choice("norm", norm, NORMS)
    bias = _check_bool("bias", bias)
    residual_f = _check_residual(residual)
    dtype = check_dtype(dtype)
    dev = check_device(device)
    seed = check_int("seed", seed, minimum=0)
    specs = _layer_specs([1] * (depth + 1), True, residual_f, norm)
    arguments = {
        "count": count, "depth": depth, "init": init, "sigma": sigma, "bound": bound,
        "activation": activation, "residual": residual_f, "dtype": dtype, "device": dev,
        "seed": seed, "gain": gain, "bias": bias, "norm": norm,
    }
    return _build(
        builder="chains", arguments=arguments, count=count, layers=specs, activation=activation,
        init=init, weight_law=weight_law, gain=gain, bias=bias, residual=residual_f, norm=norm,
        norm_affine=True, dtype=dtype, device=dev, seed=seed,
    )


def flatten_params(params: Sequence[Tensor]) -> Tensor:
    """Concatenate per-network parameters ``(count, *shape)`` into one ``(count, P)`` tensor."""
    return torch.cat([p.reshape(p.shape[0], -1) for p in params], dim=1)


def unflatten_params(flat: Tensor, shapes: Sequence[tuple[int, ...]]) -> list[Tensor]:
    """Inverse of :func:`flatten_params`: ``(..., P)`` -> tensors ``(..., *shape)``."""
    lead = flat.shape[:-1]
    out: list[Tensor] = []
    start = 0
    for s in shapes:
        n = math.prod(s)
        out.append(flat[..., start : start + n].reshape(*lead, *s))
        start += n
    if start != flat.shape[-1]:
        raise ValueError(f"flat must have last dimension P={start}, got {flat.shape[-1]}")
    return out
