"""flatstart.montecarlo.modules: the forward-only shortcuts of the batched template (issue #13).

Without a derivative the batched template's ``nn.AvgPool2d``/``nn.MaxPool2d`` sum (or take the
maximum of) their window's strided slices and its ``nn.Conv1d/2d/3d`` add their bias in place;
these tests hold them to the plain modules bit for bit, inside ``vmap`` and out, and check that
every case they do not cover (a derivative, padding, ``ceil_mode``, ``return_indices``, large
windows, no bias, other padding modes) runs the plain module.
"""

from __future__ import annotations

import pytest
import torch
import torch.autograd.forward_ad as fwad
from torch import Tensor, nn
from torch.func import vmap

from flatstart.montecarlo import modules as M


def _x(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _sliced(pool: nn.Module) -> nn.Module:
    out = M._batched_template(nn.Sequential(pool))
    assert type(out[0]) is not type(pool) and isinstance(out[0], type(pool))
    return out


# (kernel, stride, dilation, divisor_override): the slices run for every one of these
AVG = [(2, None, 1, None), (3, None, 1, None), (2, 1, 1, None), ((2, 3), (1, 2), 1, None),
       (3, 2, 1, None), (2, None, 1, 3), ((1, 4), None, 1, None), (4, 3, 1, None)]
MAX = [(2, None, 1, None), (3, 1, 1, None), ((3, 2), (2, 1), 1, None), (2, 1, 2, None),
       ((2, 2), 3, (2, 1), None)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(3, 2, 7, 6), (2, 5, 5), (1, 1, 4, 9)])
@pytest.mark.parametrize("config", AVG)
def test_sliced_avg_pool_is_the_kernel(config: tuple, shape: tuple[int, ...],
                                       dtype: torch.dtype) -> None:
    k, s, _, div = config
    pool = nn.AvgPool2d(k, s, divisor_override=div)
    x = _x(*shape, dtype=dtype)
    assert M._pool_slices(x, pool.kernel_size, pool.stride, 0, 1, False) is not None
    with torch.no_grad():
        assert torch.equal(_sliced(pool)(x), pool(x))
        xs = _x(4, *shape, seed=1, dtype=dtype)  # four networks' inputs, batched by vmap
        assert torch.equal(vmap(_sliced(pool))(xs), torch.stack([pool(t) for t in xs]))


@pytest.mark.parametrize("shape", [(3, 2, 7, 6), (2, 5, 5)])
@pytest.mark.parametrize("config", MAX)
def test_sliced_max_pool_is_the_kernel(config: tuple, shape: tuple[int, ...]) -> None:
    k, s, d, _ = config
    pool = nn.MaxPool2d(k, s, dilation=d)
    x = _x(*shape)
    x[..., 0, 0] = float("nan")  # the kernel's maximum of a window with NaN is NaN
    x[..., 1, :] = float("-inf")
    assert M._pool_slices(x, pool.kernel_size, pool.stride, 0, pool.dilation, False) is not None
    with torch.no_grad():
        assert torch.equal(_sliced(pool)(x).nan_to_num(7.0), pool(x).nan_to_num(7.0))
        assert torch.equal(_sliced(pool)(x).isnan(), pool(x).isnan())
        xs = _x(4, *shape, seed=2)
        assert torch.equal(vmap(_sliced(pool))(xs), torch.stack([pool(t) for t in xs]))


@pytest.mark.parametrize("pool", [
    nn.AvgPool2d(2, padding=1), nn.AvgPool2d(3, ceil_mode=True), nn.AvgPool2d(5),
    nn.AvgPool2d(1), nn.MaxPool2d(2, padding=1), nn.MaxPool2d(3, 2, ceil_mode=True),
    nn.MaxPool2d(1), nn.MaxPool2d(9),
])
def test_uncovered_configurations_run_the_kernel(pool: nn.Module) -> None:
    """Padding, ceil_mode, windows of one or more than 16 elements, no output: the kernel."""
    x = _x(2, 3, 7, 7)
    with torch.no_grad():
        assert M._pool_slices(x, pool.kernel_size, pool.stride, pool.padding,
                              getattr(pool, "dilation", 1), pool.ceil_mode) is None
        if pool.kernel_size == 9:
            with pytest.raises(RuntimeError):
                _sliced(pool)(x)
        else:
            assert torch.equal(_sliced(pool)(x), pool(x))


def test_indices_and_zero_divisor_run_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _x(2, 3, 6, 6)
    pool = nn.MaxPool2d(2, return_indices=True)
    zero = nn.AvgPool2d(2, divisor_override=0)
    sliced, sliced_zero = _sliced(pool), _sliced(zero)
    monkeypatch.setattr(M, "_pool_slices", _never)
    with torch.no_grad():
        (v, i), (rv, ri) = sliced(x), pool(x)
        assert torch.equal(v, rv) and torch.equal(i, ri)
        with pytest.raises(RuntimeError):
            sliced_zero(x)


def _never(*args: object, **kwargs: object) -> None:
    raise AssertionError("_pool_slices must not be consulted here")


# torch's make_dual loads its jvp decompositions through torch.jit.script (deprecated)
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_with_a_derivative_the_kernel_runs() -> None:
    x = _x(2, 3, 6, 6).requires_grad_(True)
    assert M._pool_slices(x, 2, 2, 0, 1, False) is None  # reverse mode: the kernel's backward
    with torch.no_grad():
        assert M._pool_slices(x, 2, 2, 0, 1, False) is not None
    with fwad.dual_level():  # forward mode: the max kernel's tangent follows its first maximum
        dual = fwad.make_dual(x.detach(), torch.ones_like(x))
        assert M._pool_slices(dual, 2, 2, 0, 1, False) is None
    assert M._pool_slices(x.detach(), 2, 2, 0, 1, False) is not None
    # gradients through the sliced template are the kernel's (ties at 0 after the ReLU)
    net = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2))
    sliced = M._batched_template(net)
    (g,) = torch.autograd.grad(sliced(x).square().sum(), x)
    (r,) = torch.autograd.grad(net(x).square().sum(), x)
    assert torch.equal(g, r)
    assert isinstance(sliced[1], nn.MaxPool2d) and type(sliced[1]) is not nn.MaxPool2d


CONVS = [
    (nn.Conv1d, dict(in_channels=2, out_channels=3, kernel_size=3), (2, 2, 9)),
    (nn.Conv2d, dict(in_channels=2, out_channels=4, kernel_size=3, padding=1), (3, 2, 6, 5)),
    (nn.Conv2d, dict(in_channels=4, out_channels=6, kernel_size=2, stride=2, groups=2,
                     dilation=1), (2, 4, 7, 7)),
    (nn.Conv2d, dict(in_channels=1, out_channels=2, kernel_size=3, padding="same",
                     dilation=2), (1, 6, 6)),
    (nn.Conv3d, dict(in_channels=1, out_channels=2, kernel_size=2), (2, 1, 3, 4, 4)),
]


def _stacked(conv: nn.Module, count: int) -> dict[str, Tensor]:
    return {n: torch.stack([_x(*p.shape, seed=10 + i) for i in range(count)])
            for n, p in conv.named_parameters()}


@pytest.mark.parametrize(("cls", "kw", "shape"), CONVS)
def test_in_place_bias_convolution_is_vmaps_rule(cls: type, kw: dict,
                                                 shape: tuple[int, ...]) -> None:
    conv = cls(**kw).double()
    fast = M._batched_template(conv)
    assert type(fast) is not cls and isinstance(fast, cls)
    state = _stacked(conv, 4)
    x = _x(*shape, seed=3)
    dims = fast.weight.dim() - 2
    with torch.no_grad():
        assert M._conv_bias_in_place(fast, x, getattr(nn.functional, f"conv{dims}d"),
                                     dims) is not None
        got = vmap(lambda st: torch.func.functional_call(fast, st, (x,)))(state)
        plain = vmap(lambda st: torch.func.functional_call(conv, st, (x,)))(state)
        loop = torch.stack([torch.func.functional_call(conv, {n: t[i] for n, t in state.items()},
                                                       (x,)) for i in range(4)])
    assert torch.equal(got, plain)
    assert torch.allclose(got, loop, rtol=1e-12, atol=1e-12 * float(loop.abs().max()))
    # a batched bias with an unbatched weight: the output cannot take the bias in place
    w = conv.weight.detach()
    with torch.no_grad():
        got = vmap(lambda b: torch.func.functional_call(fast, {"weight": w, "bias": b}, (x,)))(
            state["bias"])
        plain = vmap(lambda b: torch.func.functional_call(conv, {"weight": w, "bias": b}, (x,)))(
            state["bias"])
    assert torch.equal(got, plain)


@pytest.mark.parametrize("conv", [
    nn.Conv2d(1, 2, 3, bias=False), nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"),
    nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular"),
])
def test_convolutions_without_bias_or_zero_padding_run_the_module(conv: nn.Module) -> None:
    conv = conv.double()
    fast = M._batched_template(conv)
    x = _x(2, 1, 5, 5)
    with torch.no_grad():
        assert M._conv_bias_in_place(fast, x, nn.functional.conv2d, 2) is None
        assert torch.equal(fast(x), conv(x))


def test_convolution_with_a_derivative_runs_the_module() -> None:
    conv = nn.Conv2d(1, 2, 3).double()
    fast = M._batched_template(conv)
    x = _x(2, 1, 5, 5)
    assert M._conv_bias_in_place(fast, x, nn.functional.conv2d, 2) is None  # weight: grad
    (g,) = torch.autograd.grad(fast(x).square().sum(), fast.weight)
    (r,) = torch.autograd.grad(conv(x).square().sum(), conv.weight)
    assert torch.equal(g, r)
    with torch.no_grad():
        assert M._conv_bias_in_place(fast, x, nn.functional.conv2d, 2) is not None


class _PoolCNN(nn.Module):
    """conv + ReLU + max pooling (3x3, stride 2) + average pooling (2x2) + linear readout."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.max = nn.MaxPool2d(3, 2)
        self.avg = nn.AvgPool2d(2)
        self.head = nn.Linear(3 * 2 * 2, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.avg(self.max(torch.relu(self.conv(x)))).flatten(1))


def test_module_batch_pools_by_slices_and_equals_the_loop() -> None:
    mb = M.build_modules(lambda s: _PoolCNN(), 5, seed=3, input_shape=(2, 9, 9))
    assert type(mb._vmap_template.max) is M._SlicedMaxPool2d
    assert type(mb._vmap_template.avg) is M._SlicedAvgPool2d
    assert type(mb._vmap_template.conv) is M._InPlaceBiasConv2d
    assert type(mb.template.max) is nn.MaxPool2d  # the loop fallback and quantities: untouched
    x = _x(3, 2, 9, 9, seed=4)
    out = M.outputs(mb.with_batching("vmap"), x)
    ref = M.outputs_reference(mb, x)
    assert torch.allclose(out, ref, rtol=1e-12, atol=1e-12 * float(ref.abs().max()))
    with torch.no_grad():  # slices only change the pooling: the plain template gives the same
        plain = vmap(lambda st: torch.func.functional_call(mb.template, st, (x,)))(
            mb._state(mb.parameters(), mb.buffers(), None))
    assert torch.equal(out, plain.reshape(out.shape))
    for g, r in zip(M.gradients(mb, x, 0.5), M.gradients_reference(mb, x, 0.5), strict=True):
        assert torch.allclose(g, r, rtol=1e-12, atol=1e-12 * float(r.abs().max()))
    # a network without pooling shares its template
    lin = M.build_modules(lambda s: nn.Linear(3, 1), 2)
    assert lin._vmap_template is lin.template
