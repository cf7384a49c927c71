"""Batched first-order optimizers for many independent networks at once.

Every optimizer acts on a list of *stacked* parameter tensors whose leading dimension indexes
independent networks (``count``).  All updates are elementwise, so one call updates every
network; nothing couples the networks.  The update rules, the hyperparameter defaults and the
order of floating-point operations copy ``torch.optim``'s single-tensor (``foreach=False``)
implementations of torch 2.x, so a single network trained with these classes and with
``torch.optim`` follows the same float64 trajectory (bitwise for a scalar learning rate; the
tests check agreement to 1e-14).  [ref] torch.optim documentation / source (SGD, Adam, RMSprop,
Adagrad); Kingma & Ba 2015 (Adam); Tieleman & Hinton 2012 (RMSprop); Duchi et al. 2011
(Adagrad); Sutskever et al. 2013 (Nesterov momentum in the torch form).

A per-network learning rate may be given as a tensor of shape ``(count,)``; it is broadcast over
the non-leading dimensions (the arithmetic then differs from torch's fused ``alpha=`` form only
by round-off).

>>> import torch
>>> p = [torch.ones(3, 2, dtype=torch.float64)]
>>> opt = make_optimizer("sgd", p, lr=0.5)
>>> opt.step([torch.ones(3, 2, dtype=torch.float64)])
>>> p[0][0]
tensor([0.5000, 0.5000], dtype=torch.float64)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from flatstart._checks import check_choice, check_positive, check_real

__all__ = [
    "OPTIMIZERS",
    "Adagrad",
    "Adam",
    "BatchedOptimizer",
    "RMSprop",
    "SGD",
    "make_optimizer",
    "torch_reference_optimizer",
]

#: Names accepted by :func:`make_optimizer`. ``"momentum"`` is SGD with ``momentum=0.9``
#: by default (pass ``nesterov=True`` for Nesterov); ``"nesterov"`` is the same with
#: ``nesterov=True``.
OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad")

#: torch.optim default learning rates (torch 2.x).
DEFAULT_LR: dict[str, float] = {
    "sgd": 1e-3,
    "momentum": 1e-3,
    "nesterov": 1e-3,
    "adam": 1e-3,
    "rmsprop": 1e-2,
    "adagrad": 1e-2,
}


def _check_params(params: Sequence[Tensor]) -> list[Tensor]:
    if isinstance(params, Tensor) or not isinstance(params, Sequence):
        raise TypeError(
            f"params must be a list of tensors with a leading network dimension, got "
            f"{type(params).__name__}"
        )
    out = list(params)
    if not out:
        raise ValueError("params must be a non-empty list of tensors, got []")
    count = None
    for i, p in enumerate(out):
        if not isinstance(p, Tensor):
            raise TypeError(f"params[{i}] must be a torch.Tensor, got {type(p).__name__}")
        if p.dim() < 1:
            raise ValueError(f"params[{i}] must have a leading network dimension, got a scalar")
        if not p.is_floating_point():
            raise TypeError(f"params[{i}] must be floating point, got dtype {p.dtype}")
        if count is None:
            count = p.shape[0]
        elif p.shape[0] != count:
            raise ValueError(
                f"params[{i}] has leading (network) dimension {p.shape[0]}, expected {count}"
            )
    return out


def _check_lr(lr: Any, count: int) -> float | Tensor:
    if isinstance(lr, Tensor):
        if lr.dim() == 0:
            return check_positive("lr", float(lr))
        if lr.shape != (count,):
            raise ValueError(
                f"lr tensor must have shape (count,) = ({count},), got {tuple(lr.shape)}"
            )
        if not bool(torch.isfinite(lr).all()) or not bool((lr > 0).all()):
            raise ValueError(f"lr must be finite and > 0 for every network, got {lr}")
        return lr.detach().clone()
    return check_positive("lr", lr)


def _check_unit(name: str, value: Any, *, closed_right: bool = False) -> float:
    v = check_real(name, value)
    ok = 0.0 <= v <= 1.0 if closed_right else 0.0 <= v < 1.0
    if not ok:
        allowed = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name} must lie in {allowed}, got {value!r}")
    return v


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


class BatchedOptimizer:
    """Base class: holds the stacked parameters and the (per-network) learning rate.

    Args:
        params: list of tensors, each of shape ``(count, ...)``; updated in place by
            :meth:`step` (they may be autograd leaves; updates run under ``no_grad``).
        lr: learning rate, a float > 0 or a tensor of shape ``(count,)``.
    """

    name = "base"

    def __init__(self, params: Sequence[Tensor], lr: float | Tensor) -> None:
        self.params = _check_params(params)
        self.count = int(self.params[0].shape[0])
        self.lr = _check_lr(lr, self.count)
        self.steps_taken = 0

    def _lr_view(self, p: Tensor) -> Tensor:
        assert isinstance(self.lr, Tensor)
        lr = self.lr.to(device=p.device, dtype=p.dtype)
        return lr.reshape((self.count,) + (1,) * (p.dim() - 1))

    def _check_grads(self, grads: Sequence[Tensor]) -> list[Tensor]:
        g = list(grads)
        if len(g) != len(self.params):
            raise ValueError(f"grads must have {len(self.params)} tensors, got {len(g)}")
        for i, (gi, p) in enumerate(zip(g, self.params, strict=True)):
            if not isinstance(gi, Tensor) or gi.shape != p.shape:
                shape = tuple(gi.shape) if isinstance(gi, Tensor) else type(gi).__name__
                raise ValueError(f"grads[{i}] must have shape {tuple(p.shape)}, got {shape}")
        return g

    def step(self, grads: Sequence[Tensor]) -> None:
        """Apply one update to every network given the stacked gradients (same shapes)."""
        g = self._check_grads(grads)
        with torch.no_grad():
            self.steps_taken += 1
            for i, (p, gi) in enumerate(zip(self.params, g, strict=True)):
                self._update(i, p, gi.detach())

    def _update(self, i: int, param: Tensor, grad: Tensor) -> None:  # pragma: no cover
        raise NotImplementedError


class SGD(BatchedOptimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    With ``g ← ∇ + wd·θ`` (``−∇`` first if ``maximize``), buffer ``b₁ = g``,
    ``b_t = μ b_{t−1} + (1 − τ) g`` (τ = dampening), direction ``d = g + μ b`` (Nesterov) or
    ``d = b`` (μ > 0) or ``d = g``, and ``θ ← θ − lr·d``.  [ref] torch.optim.SGD;
    Sutskever et al. 2013.

    Defaults equal torch's: ``lr=1e-3, momentum=0, dampening=0, weight_decay=0,
    nesterov=False``.
    """

    name = "sgd"

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: float | Tensor = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = check_positive("momentum", momentum, allow_zero=True)
        self.dampening = check_real("dampening", dampening)
        self.weight_decay = check_positive("weight_decay", weight_decay, allow_zero=True)
        self.nesterov = _check_bool("nesterov", nesterov)
        self.maximize = _check_bool("maximize", maximize)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"nesterov=True requires momentum > 0 and dampening = 0, got momentum="
                f"{momentum!r}, dampening={dampening!r}"
            )
        self.buffers: list[Tensor | None] = [None] * len(self.params)

    def _update(self, i: int, param: Tensor, grad: Tensor) -> None:
        if self.maximize:
            grad = -grad
        if self.weight_decay != 0:
            grad = grad.add(param, alpha=self.weight_decay)
        if self.momentum != 0:
            buf = self.buffers[i]
            if buf is None:
                buf = grad.detach().clone()
                self.buffers[i] = buf
            else:
                buf.mul_(self.momentum).add_(grad, alpha=1 - self.dampening)
            grad = grad.add(buf, alpha=self.momentum) if self.nesterov else buf
        if isinstance(self.lr, Tensor):
            param.sub_(self._lr_view(param) * grad)
        else:
            param.add_(grad, alpha=-self.lr)


class Adam(BatchedOptimizer):
    """Adam (and AdamW with ``decoupled_weight_decay``), as ``torch.optim.Adam``.

    ``m_t = β₁ m + (1−β₁) g`` (as ``lerp``), ``v_t = β₂ v + (1−β₂) g²``,
    ``θ ← θ − (lr/(1−β₁ᵗ)) · m_t / (√v_t/√(1−β₂ᵗ) + ε)`` — note ε is added *after* the
    bias-corrected square root, exactly as torch does; with ``amsgrad`` the running maximum of
    ``v`` replaces ``v`` in the denominator.  Weight decay adds ``wd·θ`` to the gradient
    (coupled) or multiplies θ by ``1 − lr·wd`` first (decoupled).  [ref] Kingma & Ba 2015,
    Alg. 1; torch.optim.Adam.

    Defaults equal torch's: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0``.
    """

    name = "adam"

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = _check_unit("betas[0]", betas[0])
        self.beta2 = _check_unit("betas[1]", betas[1])
        self.eps = check_positive("eps", eps, allow_zero=True)
        self.weight_decay = check_positive("weight_decay", weight_decay, allow_zero=True)
        self.amsgrad = _check_bool("amsgrad", amsgrad)
        self.maximize = _check_bool("maximize", maximize)
        self.decoupled = _check_bool("decoupled_weight_decay", decoupled_weight_decay)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.max_exp_avg_sq = [torch.zeros_like(p) for p in self.params] if amsgrad else []

    def _update(self, i: int, param: Tensor, grad: Tensor) -> None:
        if self.maximize:
            grad = -grad
        step = float(self.steps_taken)
        if self.weight_decay != 0:
            if self.decoupled:
                if isinstance(self.lr, Tensor):
                    param.mul_(1 - self._lr_view(param) * self.weight_decay)
                else:
                    param.mul_(1 - self.lr * self.weight_decay)
            else:
                grad = grad.add(param, alpha=self.weight_decay)
        exp_avg, exp_avg_sq = self.exp_avg[i], self.exp_avg_sq[i]
        exp_avg.lerp_(grad, 1 - self.beta1)
        exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        bias_correction1 = 1 - self.beta1**step
        bias_correction2 = 1 - self.beta2**step
        bias_correction2_sqrt = bias_correction2**0.5
        if self.amsgrad:
            torch.maximum(self.max_exp_avg_sq[i], exp_avg_sq, out=self.max_exp_avg_sq[i])
            denom = (self.max_exp_avg_sq[i].sqrt() / bias_correction2_sqrt).add_(self.eps)
        else:
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
        if isinstance(self.lr, Tensor):
            step_size_t = self._lr_view(param) / bias_correction1
            param.sub_(step_size_t * (exp_avg / denom))
        else:
            step_size = self.lr / bias_correction1
            param.addcdiv_(exp_avg, denom, value=-step_size)


class RMSprop(BatchedOptimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    ``v ← α v + (1−α) g²``; centered: ``a = v − ḡ²`` with ``ḡ ← lerp(ḡ, g, 1−α)``, else
    ``a = v``; ``d = g/(√a + ε)`` (ε outside the root, no bias correction);
    momentum: ``b ← μ b + d``, ``θ ← θ − lr·b``; else ``θ ← θ − lr·d``.  [ref] Tieleman &
    Hinton 2012; torch.optim.RMSprop.

    Defaults equal torch's: ``lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False``.
    """

    name = "rmsprop"

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.alpha = check_positive("alpha", alpha, allow_zero=True)
        self.eps = check_positive("eps", eps, allow_zero=True)
        self.weight_decay = check_positive("weight_decay", weight_decay, allow_zero=True)
        self.momentum = check_positive("momentum", momentum, allow_zero=True)
        self.centered = _check_bool("centered", centered)
        self.maximize = _check_bool("maximize", maximize)
        self.square_avg = [torch.zeros_like(p) for p in self.params]
        self.grad_avg = [torch.zeros_like(p) for p in self.params] if centered else []
        self.buffers = [torch.zeros_like(p) for p in self.params] if momentum > 0 else []

    def _update(self, i: int, param: Tensor, grad: Tensor) -> None:
        if self.maximize:
            grad = -grad
        if self.weight_decay != 0:
            grad = grad.add(param, alpha=self.weight_decay)
        square_avg = self.square_avg[i]
        square_avg.mul_(self.alpha).addcmul_(grad, grad, value=1 - self.alpha)
        if self.centered:
            grad_avg = self.grad_avg[i]
            grad_avg.lerp_(grad, 1 - self.alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg = avg.add_(self.eps)
        tensor_lr = isinstance(self.lr, Tensor)
        if self.momentum > 0:
            buf = self.buffers[i]
            buf.mul_(self.momentum).addcdiv_(grad, avg)
            if tensor_lr:
                param.sub_(self._lr_view(param) * buf)
            else:
                param.add_(buf, alpha=-float(self.lr))  # type: ignore[arg-type]
        elif tensor_lr:
            param.sub_(self._lr_view(param) * (grad / avg))
        else:
            param.addcdiv_(grad, avg, value=-float(self.lr))  # type: ignore[arg-type]


class Adagrad(BatchedOptimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    ``s ← s + g²`` (``s₀ = initial_accumulator_value``), ``clr = lr/(1 + (t−1)·lr_decay)``,
    ``θ ← θ − clr · g/(√s + ε)``.  [ref] Duchi, Hazan & Singer 2011; torch.optim.Adagrad.

    Defaults equal torch's: ``lr=1e-2, lr_decay=0, weight_decay=0,
    initial_accumulator_value=0, eps=1e-10``.
    """

    name = "adagrad"

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.lr_decay = check_positive("lr_decay", lr_decay, allow_zero=True)
        self.weight_decay = check_positive("weight_decay", weight_decay, allow_zero=True)
        init = check_positive("initial_accumulator_value", initial_accumulator_value,
                              allow_zero=True)
        self.eps = check_positive("eps", eps, allow_zero=True)
        self.maximize = _check_bool("maximize", maximize)
        self.state_sum = [torch.full_like(p, init) for p in self.params]

    def _update(self, i: int, param: Tensor, grad: Tensor) -> None:
        if self.maximize:
            grad = -grad
        if self.weight_decay != 0:
            grad = grad.add(param, alpha=self.weight_decay)
        step = float(self.steps_taken)
        state_sum = self.state_sum[i]
        state_sum.addcmul_(grad, grad, value=1)
        std = state_sum.sqrt().add_(self.eps)
        if isinstance(self.lr, Tensor):
            clr_t = self._lr_view(param) / (1 + (step - 1) * self.lr_decay)
            param.sub_(clr_t * (grad / std))
        else:
            clr = self.lr / (1 + (step - 1) * self.lr_decay)
            param.addcdiv_(grad, std, value=-clr)


_CLASSES: dict[str, type[BatchedOptimizer]] = {
    "sgd": SGD,
    "momentum": SGD,
    "nesterov": SGD,
    "adam": Adam,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
}


def _resolve(name: str, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    check_choice("optimizer", name, OPTIMIZERS)
    kw = dict(kwargs)
    if name in ("momentum", "nesterov"):
        kw.setdefault("momentum", 0.9)
        if name == "nesterov":
            kw.setdefault("nesterov", True)
        if check_real("momentum", kw["momentum"]) <= 0:
            raise ValueError(f"optimizer={name!r} needs momentum > 0, got {kw['momentum']!r}")
    return name, kw


def make_optimizer(
    name: str, params: Sequence[Tensor], lr: float | Tensor | None = None, **kwargs: Any
) -> BatchedOptimizer:
    """Build a batched optimizer by name (one of :data:`OPTIMIZERS`).

    Args:
        name: ``"sgd"``, ``"momentum"`` (SGD, ``momentum=0.9`` unless given), ``"nesterov"``
            (the same with ``nesterov=True``), ``"adam"``, ``"rmsprop"`` or ``"adagrad"``.
        params: stacked parameter tensors ``(count, ...)``, updated in place.
        lr: learning rate (float > 0 or a ``(count,)`` tensor); ``None`` uses torch's default.
        **kwargs: the torch.optim hyperparameters of that optimizer.

    Raises:
        ValueError: unknown name, ``lr ≤ 0``, invalid hyperparameter (names the parameter).
        TypeError: unknown keyword argument.

    >>> import torch
    >>> opt = make_optimizer("adam", [torch.zeros(2, 3, dtype=torch.float64)], lr=0.1)
    >>> type(opt).__name__, opt.beta2
    ('Adam', 0.999)
    """
    name, kw = _resolve(name, kwargs)
    if lr is None:
        lr = DEFAULT_LR[name]
    cls = _CLASSES[name]
    try:
        return cls(params, lr, **kw)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise TypeError(f"optimizer={name!r} got an unknown option: {exc}") from None
        raise


def torch_reference_optimizer(
    name: str, params: Sequence[Tensor], lr: float | None = None, **kwargs: Any
) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimizer that :func:`make_optimizer` reproduces (slow reference).

    Uses ``foreach=False`` (the single-tensor code path, whose float arithmetic the batched
    classes copy).

    >>> import torch
    >>> p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    >>> type(torch_reference_optimizer("rmsprop", [p], lr=0.1)).__name__
    'RMSprop'
    """
    name, kw = _resolve(name, kwargs)
    if lr is None:
        lr = DEFAULT_LR[name]
    check_positive("lr", lr)
    plist = list(params)
    if name in ("sgd", "momentum", "nesterov"):
        return torch.optim.SGD(plist, lr=lr, foreach=False, **kw)
    if name == "adam":
        return torch.optim.Adam(plist, lr=lr, foreach=False, **kw)
    if name == "rmsprop":
        return torch.optim.RMSprop(plist, lr=lr, foreach=False, **kw)
    return torch.optim.Adagrad(plist, lr=lr, foreach=False, **kw)

