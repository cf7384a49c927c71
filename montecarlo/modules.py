"""Any torch network, batched: ``R`` independent copies of an ``nn.Module`` as one tensor program.

:func:`build_modules` calls a factory ``seed -> nn.Module`` once per copy (copy ``i`` of a batch
built with ``seed`` gets the seed :func:`copy_seed` ``(seed, i)`` and the CPU random stream
``torch.default_generator.manual_seed(copy seed)``, so factories that use torch's default
initializers are reproducible too), casts every copy to float64 and stacks the parameters and
buffers along a leading network dimension (``torch.func.stack_module_state``). A
:class:`ModuleBatch` then evaluates all copies at once with ``torch.func.vmap`` over
``torch.func.functional_call`` of one stateless template [ref: torch.func "model ensembling"
tutorial]. A module that ``vmap`` cannot batch (data-dependent Python control flow, ``.item()``,
random ops such as dropout in training mode) falls back, with one :class:`LoopFallbackWarning`,
to a Python loop of ``functional_call`` over the copies; the values are the same.

Everything downstream works on the stacked parameters exactly as for
:class:`~flatstart.montecarlo.networks.NetworkBatch`: ``forward(x, params=...)`` returns
``(count, batch, k)`` (the module's output flattened per sample), so
:func:`flatstart.montecarlo.training.escape_times` trains all copies at once, and the loss
``ℓ = ½ mean_batch ‖f(x) − y‖²`` (per network, the sum over the ``k`` output coordinates) is
differentiated by one backward pass of ``Σ_networks ℓ`` (networks are independent, so slice
``n`` of that gradient is network ``n``'s gradient) [derived].

Fast paths and their slow references (a Python loop over real ``nn.Module`` copies,
:meth:`ModuleBatch.module`, with plain ``torch.autograd``; the tests compare them at 1e-12):

=========================  =================================================================
fast (all copies at once)  reference (loop over module copies)
=========================  =================================================================
:func:`outputs`            :func:`outputs_reference`
:func:`losses`             :func:`losses_reference`
:func:`gradients`          :func:`gradients_reference`
:func:`per_sample_gram`    :func:`per_sample_gram_reference`
:func:`flat_loss`          :func:`flat_loss_reference` (for HVPs, Lanczos and Hutchinson of
                           :mod:`flatstart.montecarlo.curvature`)
:func:`hessians`           :func:`hessians_reference` (``torch.autograd.functional.hessian``)
:func:`quantity_values`    :func:`quantity_values_reference`
=========================  =================================================================

Scaled-dot-product attention runs with the math kernel (``torch.nn.attention.SDPBackend.MATH``)
and without ``nn.MultiheadAttention``'s inference fast path inside every computation here: the
fused CPU kernels have no double backward (Hessians need it) or no derivative at all, and one
kernel everywhere keeps the fast paths and the references comparable.

Forward-only shortcuts: in a batched forward that no derivative goes through (:func:`outputs`,
:func:`losses`), the template of the ``vmap`` path computes the same numbers with less memory
traffic (exactly these classes; subclasses may have their own forward):

* ``nn.AvgPool2d``/``nn.MaxPool2d`` without padding or ``ceil_mode`` (windows of 2 to 16
  elements) sum, or take the maximum of, the window's strided slices ``x[..., i·d::s, j·d::s]``
  in the aten kernels' order (row by row, then one division). ``vmap``'s rule for the kernels
  copies the network dimension into the batch and loops over every network's tiny planes.
* ``nn.Conv1d/2d/3d`` add their bias in place; ``vmap``'s rule for a batched weight and bias
  convolves without the bias and adds it out of place.

For 1,000 copies of ``benchmarks.bench_modules``' CNN (1 thread, shared 2-core VM) this takes
the forward from about 2.5 ms to 1.5 ms: the rule's copy and the per-plane pooling kernel cost
about 1.4 ms there, the slices about 0.5 ms, and the fresh 4.6 MB bias sum about 0.1 ms more
than the in-place one.
With a derivative (autograd, ``torch.func`` transforms, forward AD) the plain modules run: the
slices' backward would fill one input-sized tensor per window element, and ``torch.maximum``
splits the derivative of a tie that max pooling gives to the window's first maximum.

The module is long because each of its seven batched computations sits beside its loop
reference (so that the tests can hold them to each other), and the batched template's shortcuts
beside the batch that uses them.

Its length: one concept (any module, batched) with a slow reference beside every fast path, as
the table above lists; the derivative-free vmap forwards (exact strided-slice pooling, in-place
conv bias) that make the batched CNN forward fast live here too.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.autograd.forward_ad as fwad
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from flatstart._checks import check_choice, check_int
from flatstart._seeds import derive_seed
from flatstart.montecarlo.networks import (
    NetworkBatch,
    check_device,
    check_dtype,
    flatten_params,
    unflatten_params,
)

__all__ = [
    "BATCHING",
    "LoopFallbackWarning",
    "ModuleBatch",
    "ModuleFactory",
    "build_modules",
    "check_input_shape",
    "copy_seed",
    "flat_loss",
    "flat_loss_reference",
    "gradients",
    "gradients_reference",
    "hessians",
    "hessians_reference",
    "losses",
    "losses_reference",
    "make_factory",
    "module_copy",
    "outputs",
    "outputs_reference",
    "per_sample_gram",
    "per_sample_gram_reference",
    "quantity_values",
    "quantity_values_reference",
]

#: How a :class:`ModuleBatch` evaluates its copies: ``"auto"`` (vmap, falling back to the loop
#: with a :class:`LoopFallbackWarning`), ``"vmap"`` (vmap or an error) or ``"loop"``.
BATCHING: tuple[str, ...] = ("auto", "vmap", "loop")

# errors that mean "vmap cannot batch this" (data-dependent control flow, .item(), randomness,
# an op without a batching rule); anything else is the module's own error and propagates
_VMAP_ERRORS = (RuntimeError, NotImplementedError, ValueError)


class LoopFallbackWarning(RuntimeWarning):
    """``torch.func.vmap`` could not batch a module or a quantity: a Python loop is used."""


class _UsageError(ValueError):
    """A wrong output shape or value found by flatstart itself (never a reason to fall back)."""


@contextlib.contextmanager
def _math_attention() -> Iterator[None]:
    """Attention with twice-differentiable, batchable kernels: scaled-dot-product attention with
    the math kernel and the ``nn.MultiheadAttention``/``nn.TransformerEncoderLayer`` inference
    fast path off (its fused op has no derivative and no vmap rule); both restored after."""
    import torch.backends.mha as mha

    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        kernel: contextlib.AbstractContextManager[Any] = sdpa_kernel([SDPBackend.MATH])
    except ImportError:  # pragma: no cover - older torch
        kernel = contextlib.nullcontext()
    fast = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        with kernel:
            yield
    finally:
        mha.set_fastpath_enabled(fast)


# ---------------------------------------------------------------------- batched template
# pooling windows of at most this many elements are evaluated as slices (one op per element)
_MAX_SLICED_WINDOW = 16
_SLICED_DTYPES = (torch.float32, torch.float64)


def _pair(v: Any) -> tuple[int, int] | None:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(
            isinstance(i, int) and not isinstance(i, bool) for i in v):
        return (v[0], v[1])
    return None


def _forward_ad_active() -> bool:
    """A forward-mode AD level is open (``torch.func.jvp``, ``forward_ad.dual_level``); ``True``
    where torch does not say."""
    return int(getattr(fwad, "_current_level", 0)) >= 0


def _no_derivative(*ts: Tensor) -> bool:
    """No derivative will be taken through ``ts``: no autograd (grad mode on and one of them
    requiring grad, as inside ``torch.func.grad``) and no forward AD."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in ts):
        return False
    return not _forward_ad_active()


def _pool_slices(x: Tensor, kernel: Any, stride: Any, padding: Any, dilation: Any,
                 ceil_mode: bool) -> list[Tensor] | None:
    """The window elements of a 2-D pooling of ``x`` as strided views, in row-major window order:
    ``x[..., i·dh + sh·r, j·dw + sw·c]`` over the outputs ``(r, c)`` for each ``(i, j)``
    (output size ``⌊(H − dh(kh − 1) − 1)/sh⌋ + 1``, torch.nn.MaxPool2d docs); ``None`` where the
    kernel runs instead: a derivative will be taken through ``x`` (reverse or forward mode),
    padding, ``ceil_mode``, a window of more than ``_MAX_SLICED_WINDOW`` elements or of one, a
    dtype other than float32/float64, an input that is not ``(C, H, W)`` or ``(N, C, H, W)``
    or has no output (the kernel raises its own error)."""
    if x.dim() not in (3, 4) or x.dtype not in _SLICED_DTYPES or not _no_derivative(x):
        return None
    k, s, p, d = _pair(kernel), _pair(stride), _pair(padding), _pair(dilation)
    if k is None or s is None or d is None or p != (0, 0) or ceil_mode:
        return None
    (kh, kw), (sh, sw), (dh, dw) = k, s, d
    if min(kh, kw, sh, sw, dh, dw) < 1 or not 1 < kh * kw <= _MAX_SLICED_WINDOW:
        return None
    h, w = x.shape[-2:]
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        return None
    return [x[..., i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw]
            for i in range(kh) for j in range(kw)]


class _SlicedAvgPool2d(nn.AvgPool2d):
    """``nn.AvgPool2d`` of the batched template: without a derivative, the sum of the window's
    slices (:func:`_pool_slices`) in the kernel's order divided by ``kh·kw`` (or
    ``divisor_override``), the kernel's numbers [aten ``cpu_avg_pool``: ``sum / divide_factor``,
    summed in the input dtype for float32/float64]; otherwise the kernel."""

    def forward(self, input: Tensor) -> Tensor:
        div = self.divisor_override
        parts = None if div is not None and div < 1 else _pool_slices(
            input, self.kernel_size, self.stride, self.padding, 1, self.ceil_mode)
        if parts is None:
            return super().forward(input)
        total = parts[0] + parts[1]  # a window has at least two elements here
        for part in parts[2:]:
            total.add_(part)  # in place: one output-sized allocation in all
        return total.div_(len(parts) if div is None else div)


class _SlicedMaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` of the batched template: without a derivative (and without
    ``return_indices``), ``torch.maximum`` over the window's slices (:func:`_pool_slices`): the
    kernel's values, NaN included [aten ``cpu_max_pool``]; otherwise the kernel (whose
    derivative follows the first maximum of a window, ``torch.maximum``'s splits ties)."""

    def forward(self, input: Tensor) -> Tensor:
        parts = None if self.return_indices else _pool_slices(
            input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
        if parts is None:
            return super().forward(input)
        out = parts[0]
        for part in parts[1:]:
            out = torch.maximum(out, part)
        return out


def _conv_bias_in_place(conv: nn.Module, input: Tensor, fn: Callable[..., Tensor],
                        dims: int) -> Tensor | None:
    """``conv``'s output with its bias added in place to the bias-free convolution, or ``None``
    where the module's own forward runs (no bias, padding other than zeros, a derivative)."""
    weight, bias = conv.weight, conv.bias
    if (not isinstance(weight, Tensor) or not isinstance(bias, Tensor)
            or conv.padding_mode != "zeros" or not _no_derivative(input, weight, bias)):
        return None
    out = fn(input, weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
    shaped = bias.reshape(-1, *([1] * dims))
    try:
        return out.add_(shaped)
    except RuntimeError:  # an unbatched output under vmap cannot take a batched bias in place
        return out + shaped


class _InPlaceBiasConv1d(nn.Conv1d):
    """``nn.Conv1d`` of the batched template (see :class:`_InPlaceBiasConv2d`)."""

    def forward(self, input: Tensor) -> Tensor:
        out = _conv_bias_in_place(self, input, nn.functional.conv1d, 1)
        return super().forward(input) if out is None else out


class _InPlaceBiasConv2d(nn.Conv2d):
    """``nn.Conv2d`` of the batched template: without a derivative the bias is added in place
    to the bias-free convolution. ``vmap``'s rule for a batched weight and bias convolves without
    the bias and then adds it out of place, so the numbers are the same, with one allocation of
    (and one pass over) the largest activation less."""

    def forward(self, input: Tensor) -> Tensor:
        out = _conv_bias_in_place(self, input, nn.functional.conv2d, 2)
        return super().forward(input) if out is None else out


class _InPlaceBiasConv3d(nn.Conv3d):
    """``nn.Conv3d`` of the batched template (see :class:`_InPlaceBiasConv2d`)."""

    def forward(self, input: Tensor) -> Tensor:
        out = _conv_bias_in_place(self, input, nn.functional.conv3d, 3)
        return super().forward(input) if out is None else out


_BATCHED_CLASSES: dict[type, type] = {
    nn.AvgPool2d: _SlicedAvgPool2d, nn.MaxPool2d: _SlicedMaxPool2d,
    nn.Conv1d: _InPlaceBiasConv1d, nn.Conv2d: _InPlaceBiasConv2d, nn.Conv3d: _InPlaceBiasConv3d,
}


def _batched_template(template: nn.Module) -> nn.Module:
    """The template of the batched forward: a copy of ``template`` whose pooling and
    convolution modules (exactly ``nn.AvgPool2d``, ``nn.MaxPool2d``, ``nn.Conv1d/2d/3d``, not
    subclasses, which may have their own forward) take the forward-only shortcuts of the module
    docstring; ``template`` itself if it has none."""
    if not any(type(m) in _BATCHED_CLASSES for m in template.modules()):
        return template
    out = copy.deepcopy(template)
    for m in out.modules():
        batched = _BATCHED_CLASSES.get(type(m))
        if batched is not None:
            m.__class__ = batched
    return out


# ---------------------------------------------------------------------- factories
def copy_seed(seed: int, index: int) -> int:
    """Seed of copy ``index`` of a batch built with ``seed``: ``derive_seed([seed, index])``
    (62 bits; numpy ``SeedSequence`` hashing, so copies are independent streams).

    >>> copy_seed(0, 1) == copy_seed(0, 1) != copy_seed(0, 2)
    True
    """
    seed = check_int("seed", seed, minimum=0)
    index = check_int("index", index, minimum=0)
    return derive_seed([seed, index], bits=62)


def _keyword_names(fn: Callable[..., Any], skip: int) -> tuple[set[str], bool]:
    """Keyword parameter names of ``fn`` after the first ``skip`` positional ones, and whether
    it takes ``**kwargs``."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return set(), True
    params = list(sig.parameters.values())
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    named = [p for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                             inspect.Parameter.KEYWORD_ONLY)]
    return {p.name for p in named[skip:]}, var_kw


@dataclass(frozen=True)
class ModuleFactory:
    """A normalized network factory: ``factory(seed, **keywords) -> nn.Module``.

    Made by :func:`make_factory` from a function ``f(seed) -> nn.Module`` (optionally with
    keyword parameters) or from an ``nn.Module`` class with keyword arguments and an optional
    ``init(module)`` that re-initializes the new module in place.

    Attributes:
        fn: the user's factory function (or ``None``).
        cls: the module class (or ``None``).
        kwargs: fixed keyword arguments (passed to ``fn`` or ``cls``).
        init: ``init(module)`` applied after construction (class form only).
        accepts: keyword names ``fn``/``cls`` accept (grid parameters of these names are passed).
        var_keyword: ``fn``/``cls`` takes ``**kwargs``.
    """

    fn: Callable[..., Any] | None
    cls: type | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    init: Callable[[nn.Module], Any] | None = None
    accepts: frozenset[str] = frozenset()
    var_keyword: bool = False

    @property
    def name(self) -> str:
        """The factory's or the class's qualified name."""
        obj: Any = self.fn if self.fn is not None else self.cls
        return str(getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj)))

    def __call__(self, seed: int, **keywords: Any) -> nn.Module:
        kw = {**self.kwargs, **keywords}
        if self.fn is not None:
            return self.fn(seed, **kw)  # type: ignore[no-any-return]
        assert self.cls is not None
        module = self.cls(**kw)
        if self.init is not None and isinstance(module, nn.Module):
            self.init(module)
        return module  # type: ignore[no-any-return]


def make_factory(
    factory: Any = None,
    *,
    module: Any = None,
    kwargs: Mapping[str, Any] | None = None,
    init: Any = None,
) -> ModuleFactory:
    """Normalize a network description to a :class:`ModuleFactory`.

    Exactly one of ``factory`` (a callable ``seed -> nn.Module``; keyword parameters after the
    seed may receive ``kwargs`` and grid values) or ``module`` (an ``nn.Module`` subclass,
    built as ``module(**kwargs)``, then ``init(module)`` if given).

    Raises:
        ValueError: neither or both of ``factory`` and ``module``; a ``kwargs`` key the
            factory/class does not accept.
        TypeError: a non-callable factory, a module that is not an ``nn.Module`` class, a
            non-callable ``init``, ``kwargs`` that is not a dict with string keys.

    >>> f = make_factory(module=nn.Linear, kwargs={"in_features": 3, "out_features": 1})
    >>> f.name, type(f(0)).__name__
    ('Linear', 'Linear')
    """
    if (factory is None) == (module is None):
        raise ValueError(
            "give exactly one of factory (a callable seed -> nn.Module) or module (an "
            f"nn.Module class), got factory={factory!r}, module={module!r}"
        )
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise TypeError(f"kwargs must be a dict of keyword arguments, got {kwargs!r}")
    kw = dict(kwargs)
    if factory is not None:
        if isinstance(factory, type) or not callable(factory):
            raise TypeError(
                f"factory must be a callable seed -> nn.Module (a function, not a class: pass a "
                f"class as module=...), got {factory!r}"
            )
        if init is not None:
            raise ValueError("init is only used with module=...; a factory initializes its "
                             "network itself")
        try:
            sig = inspect.signature(factory)
            positional = [p for p in sig.parameters.values() if p.kind in (
                inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                inspect.Parameter.VAR_POSITIONAL)]
            if not positional:
                raise TypeError(f"factory must take the seed as its first argument "
                                f"(seed -> nn.Module), got a callable with signature {sig}")
        except ValueError:  # pragma: no cover - builtins without a signature
            pass
        names, var_kw = _keyword_names(factory, 1)
        fn: Callable[..., Any] | None = factory
        cls: type | None = None
    else:
        if not (isinstance(module, type) and issubclass(module, nn.Module)):
            raise TypeError(f"module must be an nn.Module subclass, got {module!r}")
        if init is not None and not callable(init):
            raise TypeError(f"init must be a callable init(module) -> None, got {init!r}")
        names, var_kw = _keyword_names(module, 0)
        fn, cls = None, module
    unknown = sorted(k for k in kw if k not in names)
    if unknown and not var_kw:
        owner = getattr(fn if fn is not None else cls, "__name__", "the factory")
        raise ValueError(f"kwargs {unknown} are not parameters of {owner}; allowed: "
                         f"{sorted(names)}")
    return ModuleFactory(fn=fn, cls=cls, kwargs=kw, init=init, accepts=frozenset(names),
                         var_keyword=var_kw)


def _as_factory(factory: Any) -> ModuleFactory:
    if isinstance(factory, ModuleFactory):
        return factory
    if isinstance(factory, type) and issubclass(factory, nn.Module):
        return make_factory(module=factory)
    return make_factory(factory)


def module_copy(
    factory: Any,
    seed: int,
    *,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    **keywords: Any,
) -> nn.Module:
    """Build one network: ``factory(seed, **keywords)`` with the CPU generator seeded by ``seed``
    (the global random state is restored afterwards), cast to ``dtype`` and moved to ``device``.

    Copy ``i`` of :func:`build_modules` ``(factory, count, seed)`` is
    ``module_copy(factory, copy_seed(seed, i))``: this rebuilds a reported counterexample.

    >>> a = module_copy(lambda s: nn.Linear(2, 1), 5)
    >>> b = module_copy(lambda s: nn.Linear(2, 1), 5)
    >>> bool(torch.equal(a.weight, b.weight)), a.weight.dtype
    (True, torch.float64)
    """
    fac = _as_factory(factory)
    seed = check_int("seed", seed, minimum=0)
    dtype = check_dtype(dtype)
    dev = check_device(device)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        net = fac(seed, **keywords)
    if not isinstance(net, nn.Module):
        raise TypeError(f"factory {fac.name} must return an nn.Module, got {type(net).__name__}")
    if not any(True for _ in net.parameters()):
        raise ValueError(f"factory {fac.name} returned a module without parameters")
    return net.to(device=dev, dtype=dtype)


def _structure(net: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return ([(n, tuple(p.shape)) for n, p in net.named_parameters()]
            + [(n, tuple(b.shape)) for n, b in net.named_buffers()])


def build_modules(
    factory: Any,
    count: int,
    seed: int = 0,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
    batching: str = "auto",
    input_shape: Sequence[int] | int | None = None,
    **keywords: Any,
) -> ModuleBatch:
    """Build ``count`` independent copies of a network (copy ``i`` from seed
    :func:`copy_seed` ``(seed, i)``) and stack them into a :class:`ModuleBatch`.

    Args:
        factory: a callable ``seed -> nn.Module``, an ``nn.Module`` class or a
            :class:`ModuleFactory` (:func:`make_factory`).
        count: number of copies (≥ 1).
        seed: batch seed (≥ 0).
        device, dtype: where and in which floating dtype the copies live (default float64).
        batching: ``"auto"``, ``"vmap"`` or ``"loop"`` (see :data:`BATCHING`).
        input_shape: the shape of one input (without the batch dimension); inputs may then
            also be given flattened, ``(batch, prod(input_shape))``.
        keywords: passed to the factory.

    Raises:
        ValueError: copies of different structure (parameter names or shapes), bad counts.

    >>> mb = build_modules(lambda s: nn.Linear(3, 2), count=4, seed=0)
    >>> mb.count, mb.parameter_count, tuple(mb(torch.ones(5, 3)).shape)
    (4, 8, (4, 5, 2))
    """
    fac = _as_factory(factory)
    count = check_int("count", count)
    seed = check_int("seed", seed, minimum=0)
    batching = check_choice("batching", batching, BATCHING)
    seeds = [copy_seed(seed, i) for i in range(count)]
    copies = [module_copy(fac, s, dtype=dtype, device=device, **keywords) for s in seeds]
    ref = _structure(copies[0])
    for i, c in enumerate(copies[1:], start=1):
        got = _structure(c)
        if got != ref:
            diff = next((a, b) for a, b in zip(ref + [None] * len(got), got + [None] * len(ref),
                                                strict=False) if a != b)
            raise ValueError(
                f"factory {fac.name} returned networks of different structure: copy 0 has "
                f"{diff[0]}, copy {i} has {diff[1]} (every copy needs the same parameter names "
                "and shapes)"
            )
    params, buffers = stack_module_state(copies)  # type: ignore[arg-type]
    return ModuleBatch(
        copies[0],
        {k: v.detach() for k, v in params.items()},
        {k: v.detach() for k, v in buffers.items()},
        batching=batching, input_shape=input_shape, seeds=seeds, factory=fac,
    )


# ---------------------------------------------------------------------- the batch
def check_input_shape(input_shape: Any) -> tuple[int, ...] | None:
    """``input_shape`` as a tuple of positive ints (an int ``n`` means ``(n,)``; ``None`` stays).

    >>> check_input_shape(3), check_input_shape([1, 4, 4])
    ((3,), (1, 4, 4))
    """
    if input_shape is None:
        return None
    if isinstance(input_shape, int) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list, torch.Size)) or not input_shape:
        raise ValueError(f"input_shape must be a tuple of positive ints such as (3, 8, 8), "
                         f"got {input_shape!r}")
    return tuple(check_int(f"input_shape[{i}]", s) for i, s in enumerate(input_shape))


class ModuleBatch:
    """``count`` independent copies of one ``nn.Module`` architecture, stacked.

    Build with :func:`build_modules` or :meth:`from_networks`. ``mb(x)`` / ``mb.forward(x,
    params=None)`` evaluates every copy on the shared inputs ``x`` (``(batch, *input_shape)``, or
    flattened) and returns ``(count, batch, k)``, the output of each copy flattened per sample.
    ``params`` replaces the stacked parameters (a list in :meth:`parameter_names` order with any
    leading network count, e.g. leaves for autograd); the interface is
    :class:`~flatstart.montecarlo.networks.NetworkBatch`'s, so training and curvature tools
    accept a ``ModuleBatch``.

    Attributes:
        base: copy 0 as a real module (:meth:`module` copies it for the references).
        template: a stateless copy of ``base`` on the ``meta`` device, called through
            ``torch.func.functional_call`` with the stacked tensors.
        count: number of copies.
        batching: ``"auto"``, ``"vmap"`` or ``"loop"``; ``resolved`` says what ``"auto"``
            chose (``None`` before the first forward).
        input_shape: shape of one input (or ``None``).
        seeds: the copy seeds (``module_copy(factory, seeds[i])`` rebuilds copy ``i``).
    """

    def __init__(
        self,
        base: nn.Module,
        params: Mapping[str, Tensor],
        buffers: Mapping[str, Tensor] | None = None,
        *,
        batching: str = "auto",
        input_shape: Sequence[int] | int | None = None,
        seeds: Sequence[int] | None = None,
        factory: ModuleFactory | None = None,
    ) -> None:
        if not isinstance(base, nn.Module):
            raise TypeError(f"base must be an nn.Module, got {type(base).__name__}")
        self.base = base
        self.template = copy.deepcopy(base).to("meta")
        self._vmap_template = _batched_template(self.template)
        self.names = list(params)
        self._params = [params[n].contiguous() for n in self.names]
        if not self._params:
            raise ValueError("a ModuleBatch needs at least one parameter")
        bufs = dict(buffers or {})
        self.buffer_names = list(bufs)
        self._buffers = [bufs[n] for n in self.buffer_names]
        self.count = int(self._params[0].shape[0])
        for n, p in zip(self.names, self._params, strict=True):
            if p.shape[0] != self.count:
                raise ValueError(f"parameter {n!r} has {p.shape[0]} networks, expected "
                                 f"{self.count}")
        self.batching = check_choice("batching", batching, BATCHING)
        self.resolved: str | None = None if self.batching == "auto" else self.batching
        self.input_shape = check_input_shape(input_shape)
        self.seeds = None if seeds is None else list(seeds)
        self.factory = factory

    # ------------------------------------------------------------------ structure
    @classmethod
    def from_networks(cls, nets: NetworkBatch, *, batching: str = "auto") -> ModuleBatch:
        """The networks of a :class:`NetworkBatch` as a ``ModuleBatch`` over
        :meth:`NetworkBatch.to_module` (same values; parameter names of that module)."""
        if not isinstance(nets, NetworkBatch):
            raise TypeError(f"nets must be a NetworkBatch, got {type(nets).__name__}")
        base = nets.to_module(0)
        ps = nets.parameters()
        depth = nets.depth
        normed = [i for i, s in enumerate(nets.layers) if s.normed]
        k_aff = depth * (2 if nets.bias else 1)

        def prefix(i: int) -> str:
            return f"{i}.body." if nets.layers[i].residual else f"{i}."

        index = {prefix(i) + "0.weight": i for i in range(depth)}
        if nets.bias:
            index.update({prefix(i) + "0.bias": depth + i for i in range(depth)})
        if nets.norm is not None and nets.norm_affine:
            index.update({prefix(i) + "1.weight": k_aff + j for j, i in enumerate(normed)})
            index.update({prefix(i) + "1.bias": k_aff + len(normed) + j
                          for j, i in enumerate(normed)})
        names = [n for n, _ in base.named_parameters()]
        assert sorted(names) == sorted(index), (names, index)
        return cls(base, {n: ps[index[n]] for n in names}, {}, batching=batching,
                   input_shape=(nets.input_dim,), seeds=None, factory=None)

    @property
    def dtype(self) -> torch.dtype:
        """dtype of the parameters."""
        return self._params[0].dtype

    @property
    def device(self) -> torch.device:
        """device of the parameters."""
        return self._params[0].device

    def parameters(self) -> list[Tensor]:
        """The stacked parameter tensors ``(count, *shape)`` in :meth:`parameter_names` order."""
        return self._params

    def buffers(self) -> list[Tensor]:
        """The stacked buffers ``(count, *shape)`` in ``buffer_names`` order."""
        return self._buffers

    def parameter_names(self) -> list[str]:
        """Parameter names (``named_parameters`` of the module)."""
        return list(self.names)

    def parameter_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of one network's parameters."""
        return [tuple(p.shape[1:]) for p in self._params]

    @property
    def parameter_count(self) -> int:
        """Number of parameters ``P`` of one network."""
        return sum(math.prod(s) for s in self.parameter_shapes())

    def layer_groups(self) -> list[tuple[str, list[int]]]:
        """Parameters grouped by the module that owns them, in registration order:
        ``[(module name, [indices into parameters()]), ...]`` (``conv1.weight`` and
        ``conv1.bias`` form the group ``"conv1"``; a top-level parameter its own group ``""``).
        """
        groups: dict[str, list[int]] = {}
        for i, n in enumerate(self.names):
            groups.setdefault(n.rpartition(".")[0], []).append(i)
        return list(groups.items())

    @property
    def depth(self) -> int:
        """Number of :meth:`layer_groups` (the 'layers' of ``layer_gradient``)."""
        return len(self.layer_groups())

    def flatten(self, params: Sequence[Tensor] | None = None) -> Tensor:
        """Concatenate parameters into a ``(count, P)`` tensor (order of :meth:`parameters`)."""
        return flatten_params(self._params if params is None else list(params))

    def unflatten(self, flat: Tensor) -> list[Tensor]:
        """Inverse of :meth:`flatten`: ``(count, P)`` (or ``(P,)``) -> list of tensors."""
        return unflatten_params(flat, self.parameter_shapes())

    def select(self, indices: Sequence[int] | slice) -> ModuleBatch:
        """The sub-batch of the given copies (tensors copied)."""
        idx = list(range(self.count))[indices] if isinstance(indices, slice) else list(indices)
        for i in idx:
            check_int("index", i, minimum=0, maximum=self.count - 1)
        t = torch.as_tensor(idx, dtype=torch.long, device=self.device)
        out = ModuleBatch(
            self.base, {n: p.index_select(0, t) for n, p in zip(self.names, self._params,
                                                                  strict=True)},
            {n: b.index_select(0, t) for n, b in zip(self.buffer_names, self._buffers,
                                                      strict=True)},
            batching=self.batching, input_shape=self.input_shape,
            seeds=None if self.seeds is None else [self.seeds[i] for i in idx],
            factory=self.factory,
        )
        out.resolved = self.resolved
        return out

    def with_batching(self, batching: str) -> ModuleBatch:
        """The same copies (shared tensors) evaluated with another :data:`BATCHING` mode."""
        out = copy.copy(self)
        out.batching = check_choice("batching", batching, BATCHING)
        out.resolved = None if out.batching == "auto" else out.batching
        return out

    def module(self, index: int) -> nn.Module:
        """Slow reference: copy ``index`` as a real ``nn.Module`` (a deep copy of ``base`` holding
        that copy's parameters and buffers)."""
        index = check_int("index", index, minimum=0, maximum=self.count - 1)
        net = copy.deepcopy(self.base)
        with torch.no_grad():
            named = dict(net.named_parameters())
            for n, p in zip(self.names, self._params, strict=True):
                named[n].copy_(p[index])
            named_b = dict(net.named_buffers())
            for n, b in zip(self.buffer_names, self._buffers, strict=True):
                named_b[n].copy_(b[index])
        return net

    def modules(self) -> Iterator[nn.Module]:
        """:meth:`module` of every copy, in order."""
        for i in range(self.count):
            yield self.module(i)

    # ------------------------------------------------------------------ forward
    def prepare_input(self, x: Any) -> Tensor:
        """``x`` as a ``(batch, *input_shape)`` tensor of the batch's dtype and device."""
        if isinstance(x, Tensor) and not x.dtype.is_floating_point:
            raise ValueError(f"x must be a floating tensor, got dtype {x.dtype}")
        t = torch.as_tensor(x, dtype=self.dtype, device=self.device)
        if t.ndim == 0:
            raise ValueError("x must have a batch dimension, got a scalar")
        if self.input_shape is None:
            return t
        if tuple(t.shape[1:]) == self.input_shape:
            return t
        if t.ndim == 2 and t.shape[1] == math.prod(self.input_shape):
            return t.reshape(t.shape[0], *self.input_shape)
        raise ValueError(f"x must have shape (batch, *{self.input_shape}) or (batch, "
                         f"{math.prod(self.input_shape)}), got {tuple(t.shape)}")

    def _buffers_for(self, n: int) -> list[Tensor]:
        if n == self.count or not self._buffers:
            return self._buffers
        raise ValueError(
            f"params for {n} networks do not fit the buffers of {self.count} networks; use "
            "select() to take networks out of a batch with buffers"
        )

    def _state(self, ps: Sequence[Tensor], bufs: Sequence[Tensor], i: int | None
               ) -> dict[str, Tensor]:
        if i is None:
            return {**dict(zip(self.names, ps, strict=True)),
                    **dict(zip(self.buffer_names, bufs, strict=True))}
        return {**{n: p[i] for n, p in zip(self.names, ps, strict=True)},
                **{n: b[i] for n, b in zip(self.buffer_names, bufs, strict=True)}}

    def _forward_vmap(self, xs: Tensor, ps: Sequence[Tensor], bufs: Sequence[Tensor]) -> Any:
        template = self._vmap_template  # forward-only shortcuts (module docstring)

        def one(state: dict[str, Tensor]) -> Any:
            return functional_call(template, state, (xs,))

        return vmap(one)(self._state(ps, bufs, None))

    def _forward_loop(self, xs: Tensor, ps: Sequence[Tensor], bufs: Sequence[Tensor]) -> Any:
        outs = [functional_call(self.template, self._state(ps, bufs, i), (xs,))
                for i in range(ps[0].shape[0])]
        if not all(isinstance(o, Tensor) for o in outs):
            return outs[0]  # reported by _flat_output
        return torch.stack(outs)

    def _fallback(self, exc: BaseException, what: str) -> None:
        text = str(exc).strip()
        first = text.splitlines()[0].split(". ")[0] if text else type(exc).__name__
        warnings.warn(
            f"torch.func.vmap cannot batch {what} ({type(exc).__name__}: {first[:200]}); "
            "flatstart evaluates the copies in a Python loop (same values, slower)",
            LoopFallbackWarning, stacklevel=3,
        )

    def forward(self, x: Any, params: Sequence[Tensor] | None = None) -> Tensor:
        """Evaluate every copy on ``x``: ``(count', batch, k)`` with ``k`` the flattened output.

        Args:
            x: shared inputs ``(batch, *input_shape)`` (or flattened ``(batch, n0)``).
            params: optional parameter list (order of :meth:`parameters`, any leading
                ``count'``; with buffers ``count'`` must equal ``count``); gradients flow into it.
        """
        xs = self.prepare_input(x)
        ps = self._params if params is None else list(params)
        if len(ps) != len(self._params):
            raise ValueError(f"params must be a list of {len(self._params)} tensors, got "
                             f"{len(ps)}")
        bufs = self._buffers_for(int(ps[0].shape[0]))
        with _math_attention():
            if self.resolved == "loop":
                out = self._forward_loop(xs, ps, bufs)
            else:
                try:
                    out = self._forward_vmap(xs, ps, bufs)
                except _VMAP_ERRORS as exc:
                    if self.batching == "vmap" or isinstance(exc, _UsageError):
                        raise
                    self._fallback(exc, f"the module {type(self.base).__name__}")
                    self.resolved = "loop"
                    out = self._forward_loop(xs, ps, bufs)
                else:
                    self.resolved = "vmap"
        return _flat_output(out, xs.shape[0], type(self.base).__name__)

    __call__ = forward

    def output_shape(self, x: Any) -> tuple[int, ...]:
        """Shape of one sample's output (runs ``base``, copy 0, on ``x``)."""
        xs = self.prepare_input(x)
        with torch.no_grad(), _math_attention():
            try:
                out = self.base(xs)
            except Exception as exc:  # the user's module: say which inputs it refused
                raise ValueError(
                    f"the module {type(self.base).__name__} fails on inputs of shape "
                    f"{tuple(xs.shape)} (batch, *input_shape): {type(exc).__name__}: {exc}"
                ) from exc
        _flat_output(out.unsqueeze(0) if isinstance(out, Tensor) else out, xs.shape[0],
                     type(self.base).__name__)
        return tuple(out.shape[1:])

    def provenance(self) -> dict[str, Any]:
        """Factory, copy seeds, dtype and device."""
        return {"builder": "modules.build_modules",
                "factory": None if self.factory is None else self.factory.name,
                "count": self.count, "seeds": self.seeds, "dtype": str(self.dtype),
                "device": str(self.device), "torch_version": torch.__version__}

    def __repr__(self) -> str:
        return (f"ModuleBatch({type(self.base).__name__}, count={self.count}, "
                f"parameters={self.parameter_count}, batching={self.batching!r}, "
                f"input_shape={self.input_shape}, dtype={self.dtype}, device={self.device})")


def _flat_output(out: Any, batch: int, name: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"the module {name} must return one tensor (batch, ...), got "
                        f"{type(out).__name__}")
    if out.ndim < 2 or out.shape[1] != batch:
        raise _UsageError(f"the module {name} must return its output with the batch dimension "
                         f"first, (batch={batch}, ...); got per-network shape "
                         f"{tuple(out.shape[1:])}")
    return out.reshape(out.shape[0], batch, -1)


# ---------------------------------------------------------------------- losses and gradients
def _check_batch(mb: Any) -> ModuleBatch:
    if not isinstance(mb, ModuleBatch):
        raise TypeError(f"mb must be a ModuleBatch (build_modules), got {type(mb).__name__}")
    return mb


def _targets(y: Any, batch: int, k: int, like: Tensor) -> Tensor:
    t = torch.as_tensor(y, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        return t.expand(batch, k)
    if t.numel() != batch * k:
        raise ValueError(f"y must be a scalar or have batch x outputs = {batch} x {k} entries, "
                         f"got shape {tuple(t.shape)}")
    return t.reshape(batch, k)


def _loss(out: Tensor, yt: Tensor) -> Tensor:
    """``ℓ = ½ mean_batch ‖f(x) − y‖²`` per network from ``(count, batch, k)`` outputs."""
    return 0.5 * (out - yt).square().sum(dim=-1).mean(dim=-1)


def _leaves(ps: Sequence[Tensor]) -> list[Tensor]:
    return [p.detach().requires_grad_(True) for p in ps]


def _grads(total: Tensor, leaves: Sequence[Tensor], **kw: Any) -> list[Tensor]:
    gs = torch.autograd.grad(total, list(leaves), allow_unused=True, **kw)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(gs, leaves, strict=True)]


def outputs(mb: ModuleBatch, x: Any) -> Tensor:
    """Outputs ``(count, batch, k)`` of every copy (no gradient).

    >>> mb = build_modules(lambda s: nn.Linear(2, 1), count=3)
    >>> bool(torch.allclose(outputs(mb, torch.ones(1, 2)), outputs_reference(mb, torch.ones(1, 2))))
    True
    """
    mb = _check_batch(mb)
    with torch.no_grad():
        return mb.forward(x)


def outputs_reference(mb: ModuleBatch, x: Any) -> Tensor:
    """Slow reference for :func:`outputs`: every module copy called on its own."""
    mb = _check_batch(mb)
    xs = mb.prepare_input(x)
    outs = []
    with torch.no_grad(), _math_attention():
        for net in mb.modules():
            outs.append(_call(net, xs))
    return torch.stack(outs)


def losses(mb: ModuleBatch, x: Any, y: Any) -> Tensor:
    """Per-network losses ``ℓ = ½ mean_batch ‖f(x) − y‖²``, shape ``(count,)``."""
    out = outputs(mb, x)
    return _loss(out, _targets(y, out.shape[1], out.shape[2], out))


def losses_reference(mb: ModuleBatch, x: Any, y: Any) -> Tensor:
    """Slow reference for :func:`losses`."""
    out = outputs_reference(mb, x)
    return _loss(out, _targets(y, out.shape[1], out.shape[2], out))


def gradients(mb: ModuleBatch, x: Any, y: Any) -> list[Tensor]:
    """Gradients ``∂ℓ/∂θ`` of every copy's loss, one stacked tensor per parameter.

    One backward pass of ``Σ_networks ℓ`` through the batched forward (slice ``n`` is network
    ``n``'s gradient; parameters the forward does not use get zeros). [derived: chain rule]
    """
    mb = _check_batch(mb)
    leaves = _leaves(mb.parameters())
    with torch.enable_grad():
        out = mb.forward(x, leaves)
        total = _loss(out, _targets(y, out.shape[1], out.shape[2], out)).sum()
        return [g.detach() for g in _grads(total, leaves)]


def _call(net: nn.Module, xs: Tensor, state: Mapping[str, Tensor] | None = None) -> Tensor:
    """One module copy on ``xs``: its output ``(batch, k)`` flattened per sample."""
    out = net(xs) if state is None else functional_call(net, dict(state), (xs,))
    if isinstance(out, Tensor):
        out = out.unsqueeze(0)
    return _flat_output(out, xs.shape[0], type(net).__name__)[0]


def _reference_loss(net: nn.Module, xs: Tensor, y: Any,
                    state: Mapping[str, Tensor] | None = None) -> Tensor:
    out = _call(net, xs, state).unsqueeze(0)
    return _loss(out, _targets(y, out.shape[1], out.shape[2], out))[0]


def gradients_reference(mb: ModuleBatch, x: Any, y: Any) -> list[Tensor]:
    """Slow reference for :func:`gradients`: autograd on every module copy alone."""
    mb = _check_batch(mb)
    xs = mb.prepare_input(x)
    per: list[list[Tensor]] = []
    with torch.enable_grad(), _math_attention():
        for net in mb.modules():
            named = dict(net.named_parameters())
            leaves = [named[n] for n in mb.names]
            per.append(_grads(_reference_loss(net, xs, y), leaves))
    return [torch.stack([g[k] for g in per]).detach() for k in range(len(mb.names))]


def per_sample_gram(mb: ModuleBatch, x: Any, y: Any) -> Tensor:
    """Gram matrices ``G[n, i, j] = ⟨g_{n,i}, g_{n,j}⟩`` of per-sample gradients, ``(count, N, N)``.

    ``g_{n,i} = ∇_θ ℓ_i`` with ``ℓ_i = ½ ‖f_n(X)_i − y_i‖²`` and the forward on the whole batch
    ``X`` (with batch normalization in training mode a sample's output depends on the batch).
    One backward pass per sample of ``Σ_networks ℓ_i`` through the batched forward. [derived]
    """
    mb = _check_batch(mb)
    leaves = _leaves(mb.parameters())
    with torch.enable_grad():
        out = mb.forward(x, leaves)
        yt = _targets(y, out.shape[1], out.shape[2], out)
        per_sample = 0.5 * (out - yt).square().sum(dim=-1)  # (count, N)
        n = per_sample.shape[1]
        rows = []
        for i in range(n):
            gs = _grads(per_sample[:, i].sum(), leaves, retain_graph=i < n - 1)
            rows.append(mb.flatten(gs))
    g = torch.stack(rows, dim=1).detach()  # (count, N, P)
    return torch.bmm(g, g.transpose(1, 2))


def per_sample_gram_reference(mb: ModuleBatch, x: Any, y: Any) -> Tensor:
    """Slow reference for :func:`per_sample_gram`: every copy, every sample on its own."""
    mb = _check_batch(mb)
    xs = mb.prepare_input(x)
    grams = []
    with torch.enable_grad(), _math_attention():
        for net in mb.modules():
            named = dict(net.named_parameters())
            leaves = [named[n] for n in mb.names]
            out = _call(net, xs)
            yt = _targets(y, out.shape[0], out.shape[1], out)
            rows = []
            for i in range(out.shape[0]):
                li = 0.5 * (out[i] - yt[i]).square().sum()
                gs = _grads(li, leaves, retain_graph=True)
                rows.append(torch.cat([g.reshape(-1) for g in gs]))
            g = torch.stack(rows).detach()
            grams.append(g @ g.T)
    return torch.stack(grams)


def flat_loss(mb: ModuleBatch, x: Any, y: Any) -> tuple[Callable[[Tensor], Tensor], Tensor]:
    """The loss of every copy as a function of flat parameters, for
    :mod:`flatstart.montecarlo.curvature`: ``(f, theta)`` with ``f`` mapping ``(count, P)`` to the
    ``(count,)`` losses (batched forward) and ``theta = flatten()``."""
    mb = _check_batch(mb)
    xs = mb.prepare_input(x)
    k = math.prod(mb.output_shape(xs))
    yt = _targets(y, xs.shape[0], k, xs)

    def f(theta: Tensor) -> Tensor:
        return _loss(mb.forward(xs, mb.unflatten(theta)), yt)

    return f, mb.flatten().detach().clone()


def flat_loss_reference(mb: ModuleBatch, x: Any, y: Any
                        ) -> tuple[Callable[[Tensor], Tensor], Tensor]:
    """Slow reference for :func:`flat_loss`: ``f`` loops over the module copies, each called
    with its slice of ``theta`` through ``functional_call`` (its own buffers)."""
    mb = _check_batch(mb)
    xs = mb.prepare_input(x)
    nets = list(mb.modules())

    def f(theta: Tensor) -> Tensor:
        vals = []
        with _math_attention():
            for i, net in enumerate(nets):
                state = dict(zip(mb.names, mb.unflatten(theta[i]), strict=True))
                vals.append(_reference_loss(net, xs, y, state))
        return torch.stack(vals)

    return f, mb.flatten().detach().clone()


def hessians(mb: ModuleBatch, x: Any, y: Any) -> Tensor:
    """Dense Hessians ``∇²_θ ℓ`` of every copy, ``(count, P, P)``: the columns ``H e_j`` from
    batched Hessian-vector products (double backward, cached graph; Pearlmutter 1994 [ref])."""
    from flatstart.montecarlo.curvature import dense_hessian

    f, theta = flat_loss(mb, x, y)
    h: Tensor = dense_hessian(f, theta, method="hvp")
    return h


def hessians_reference(mb: ModuleBatch, x: Any, y: Any) -> Tensor:
    """Slow reference for :func:`hessians`: ``torch.autograd.functional.hessian`` of every copy's
    loss on its own."""
    mb = _check_batch(mb)
    xs = mb.prepare_input(x)
    out = []
    theta = mb.flatten().detach()
    for i, net in enumerate(mb.modules()):
        def fi(t: Tensor, net: nn.Module = net) -> Tensor:
            with _math_attention():
                state = dict(zip(mb.names, mb.unflatten(t), strict=True))
                return _reference_loss(net, xs, y, state)

        out.append(torch.autograd.functional.hessian(fi, theta[i].clone()))
    return torch.stack(out)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- user quantities
def _scalar_value(v: Any, name: str) -> Tensor:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return torch.tensor(float(v), dtype=torch.float64)
    if not isinstance(v, Tensor):
        raise TypeError(f"quantity {name} must return a tensor (one value per network), got "
                        f"{type(v).__name__}")
    if v.numel() != 1:
        raise _UsageError(f"quantity {name} must return one value per network (a scalar "
                         f"tensor), got shape {tuple(v.shape)}")
    return v.reshape(())


def _batch_tuple(mb: ModuleBatch, x: Any, y: Any) -> tuple[Tensor, Tensor]:
    xs = mb.prepare_input(x)
    k = math.prod(mb.output_shape(xs))
    return xs, _targets(y, xs.shape[0], k, xs)


def quantity_values(mb: ModuleBatch, fn: Callable[..., Any], x: Any, y: Any) -> Tensor:
    """``fn(model, params, (x, y))`` of every copy as a ``(count,)`` float64 tensor.

    ``model`` is the stateless template (parameters on the ``meta`` device: call it as
    ``torch.func.functional_call(model, params, (x,))``), ``params`` one copy's parameters and
    buffers by name, ``x`` the inputs ``(batch, *input_shape)`` and ``y`` the targets
    ``(batch, k)``. Evaluated with ``vmap`` over the copies (``batching`` ``"auto"``/``"vmap"``),
    falling back to a loop with a :class:`LoopFallbackWarning` in ``"auto"``.
    """
    mb = _check_batch(mb)
    if not callable(fn):
        raise TypeError(f"fn must be a callable (model, params, batch) -> tensor, got {fn!r}")
    name = getattr(fn, "__name__", repr(fn))
    batch = _batch_tuple(mb, x, y)
    ps, bufs = mb.parameters(), mb.buffers()
    template = mb.template

    def one(state: dict[str, Tensor]) -> Tensor:
        return _scalar_value(fn(template, state, batch), name)

    with _math_attention():
        if mb.batching != "loop" and mb.resolved != "loop":
            try:
                vals = vmap(one)(mb._state(ps, bufs, None))
            except _VMAP_ERRORS as exc:
                if mb.batching == "vmap" or isinstance(exc, _UsageError):
                    raise
                mb._fallback(exc, f"the quantity {name}")
            else:
                return vals.detach().to(torch.float64).reshape(mb.count)
        vals = torch.stack([one(mb._state(ps, bufs, i)) for i in range(mb.count)])
    return vals.detach().to(torch.float64).reshape(mb.count)


def quantity_values_reference(mb: ModuleBatch, fn: Callable[..., Any], x: Any, y: Any
                              ) -> Tensor:
    """Slow reference for :func:`quantity_values`: ``fn(net, its state, (x, y))`` for every real
    module copy ``net`` in a loop."""
    mb = _check_batch(mb)
    name = getattr(fn, "__name__", repr(fn))
    batch = _batch_tuple(mb, x, y)
    vals = []
    with _math_attention():
        for net in mb.modules():
            state = {**dict(net.named_parameters()), **dict(net.named_buffers())}
            vals.append(_scalar_value(fn(net, state, batch), name).detach())
    return torch.stack(vals).to(torch.float64)
