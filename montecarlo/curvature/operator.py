"""The Hessian of a loss of flat parameters as a linear operator: HVPs and the dense reference.

* :func:`hvp` forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``) and
  reverse-over-reverse; :func:`hvp_operator` caches the double-backward graph at ``theta`` and
  batches vectors (``is_grads_batched``). Reference: :func:`dense_hessian` (``torch.func.hessian``
  or a loop of HVPs).

Shapes and conventions: :mod:`flatstart.montecarlo.curvature`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_choice, check_int
from flatstart.montecarlo.curvature._common import (
    LossFunction,
    check_f,
    check_loss_value,
    check_theta,
    check_vector,
)

__all__ = [
    "BATCH_ELEMENTS",
    "HVP_METHODS",
    "OPERATOR_METHODS",
    "VECTOR_MODES",
    "HessianOperator",
    "dense_hessian",
    "hvp",
    "hvp_operator",
]

HVP_METHODS = ("auto", "fwd_rev", "rev_rev")
OPERATOR_METHODS = ("cached", "fwd_rev", "rev_rev")
VECTOR_MODES = ("auto", "vmap", "loop")

#: Default number of tensor elements (``count * vectors * P``) per batched HVP call.
BATCH_ELEMENTS = 2**24


def _sum_loss(f: LossFunction) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    def g(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = f(t)
        return out.sum(), out

    return g


def _hvp_fwd_rev(f: LossFunction, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Forward-over-reverse HVP ``d/de grad L(theta + e v)|_{e=0}`` with ``torch.func``."""
    grad_fn = torch.func.grad(_sum_loss(f), has_aux=True)
    out: Any = torch.func.jvp(grad_fn, (theta,), (v,), has_aux=True)
    check_loss_value(out[2], theta)
    return out[1].detach()


class HessianOperator:
    """The Hessian of ``f`` at ``theta`` as a linear operator (``matvec``/``matmat``).

    ``method="cached"`` builds the gradient graph once (``torch.autograd.grad(...,
    create_graph=True)``) and reuses it for every product: ``H v = d(g . v)/d theta`` with
    ``g = grad f(theta)`` (reverse over reverse, Pearlmutter 1994 [ref]). ``matmat`` pushes
    many vectors through one backward pass with ``is_grads_batched=True`` (vmap over the
    backward) with ``vectors="vmap"``, or one backward pass per vector with ``vectors="loop"``;
    ``"auto"`` (default) uses vmap on accelerators and the loop on the CPU, where the benchmark
    measured the loop ~1.4x cheaper per vector (vmap falls back to the loop if an op has no
    batching rule). Networks of a batch are always processed together. ``method="fwd_rev"``
    (``jvp`` of ``grad``, vmapped for ``matmat``) and ``"rev_rev"`` (rebuilds the graph per call)
    are uncached alternatives used as references and in the benchmark.

    Shapes: for 1-D ``theta`` (P,), ``matvec(v)`` takes and returns (P,) and ``matmat(V)`` takes
    and returns (P, n); for 2-D ``theta`` (count, P) they act on (count, P) and (count, P, n),
    network by network. ``hvps`` counts Hessian-vector products per network.

    >>> A = torch.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    >>> op = HessianOperator(lambda t: 0.5 * t @ A @ t, torch.zeros(2, dtype=torch.float64))
    >>> op.matvec(torch.tensor([1.0, 0.0], dtype=torch.float64)).tolist()
    [2.0, 1.0]
    """

    def __init__(
        self,
        f: LossFunction,
        theta: torch.Tensor,
        *,
        method: str = "cached",
        max_batch: int | None = None,
        vectors: str = "auto",
    ) -> None:
        self.f = check_f(f)
        self.theta = check_theta(theta)
        self.method = check_choice("method", method, OPERATOR_METHODS)
        self.vectors = check_choice("vectors", vectors, VECTOR_MODES)
        self.batched = self.theta.ndim == 2
        self.count = int(self.theta.shape[0]) if self.batched else 1
        self.dim = int(self.theta.shape[-1])
        self.hvps = 0
        if self.vectors == "auto":
            self._batch_ok = self.theta.device.type != "cpu"
        else:
            self._batch_ok = self.vectors == "vmap"
        if max_batch is None:
            max_batch = max(1, BATCH_ELEMENTS // (self.count * self.dim))
        self.max_batch = check_int("max_batch", max_batch, minimum=1)
        self._leaf: torch.Tensor | None = None
        self._grad: torch.Tensor | None = None
        if self.method == "cached":
            leaf = self.theta.clone().requires_grad_(True)
            with torch.enable_grad():
                loss = check_loss_value(self.f(leaf), self.theta)
                (grad,) = torch.autograd.grad(loss.sum(), leaf, create_graph=True)
            self._leaf, self._grad = leaf, grad
            self.loss = loss.detach()
        else:
            with torch.no_grad():
                self.loss = check_loss_value(self.f(self.theta), self.theta).detach()

    # ---------------------------------------------------------------- public interface
    @property
    def shape(self) -> tuple[int, int]:
        """``(P, P)``, the shape of one network's Hessian."""
        return (self.dim, self.dim)

    @property
    def dtype(self) -> torch.dtype:
        """dtype of ``theta``."""
        return self.theta.dtype

    @property
    def device(self) -> torch.device:
        """device of ``theta``."""
        return self.theta.device

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """Return ``H v`` (shape of ``theta``)."""
        v = check_vector("v", v, self.theta)
        rows = v.reshape(self.count, 1, self.dim)
        return self.apply_rows(rows).reshape(self.theta.shape)

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        """Return ``H V`` for ``V`` of shape ``theta.shape + (n,)``."""
        if not isinstance(V, torch.Tensor):
            raise TypeError(f"V must be a torch.Tensor, got {type(V).__name__}")
        if V.ndim != self.theta.ndim + 1 or tuple(V.shape[:-1]) != tuple(self.theta.shape):
            raise ValueError(
                f"V must have shape theta.shape + (n,) = {tuple(self.theta.shape)} + (n,), "
                f"got {tuple(V.shape)}"
            )
        n = V.shape[-1]
        rows = V.detach().to(self.device, self.dtype).movedim(-1, -2)
        rows = rows.reshape(self.count, n, self.dim)
        out = self.apply_rows(rows)
        if self.batched:
            return out.movedim(-2, -1)
        return out[0].movedim(-2, -1)

    __matmul__ = matvec

    def to_scipy(self) -> Any:
        """Return a ``scipy.sparse.linalg.LinearOperator`` (single network, float64 numpy)."""
        from scipy.sparse.linalg import LinearOperator

        if self.batched:
            raise ValueError("to_scipy needs a single network (1-D theta)")

        def mv(x: np.ndarray) -> np.ndarray:
            t = torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(-1))
            out = self.matvec(t.to(self.device, self.dtype))
            return out.detach().cpu().to(torch.float64).numpy()

        def mm(x: np.ndarray) -> np.ndarray:
            t = torch.as_tensor(np.asarray(x, dtype=np.float64))
            out = self.matmat(t.to(self.device, self.dtype))
            return out.detach().cpu().to(torch.float64).numpy()

        return LinearOperator(shape=self.shape, matvec=mv, rmatvec=mv, matmat=mm, dtype=np.float64)

    # ---------------------------------------------------------------- batched core
    def apply_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Return ``H`` applied to ``rows`` of shape ``(count, r, P)`` (same shape out)."""
        r = rows.shape[1]
        outs = []
        for start in range(0, r, self.max_batch):
            outs.append(self._apply_chunk(rows[:, start : start + self.max_batch]))
        self.hvps += r
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)

    def _as_grad_outputs(self, rows: torch.Tensor) -> torch.Tensor:
        # (count, r, P) -> (r, *theta.shape)
        if self.batched:
            return rows.transpose(0, 1)
        return rows[0]

    def _from_grad_outputs(self, out: torch.Tensor) -> torch.Tensor:
        # (r, *theta.shape) -> (count, r, P)
        if self.batched:
            return out.transpose(0, 1)
        return out.unsqueeze(0)

    def _apply_chunk(self, rows: torch.Tensor) -> torch.Tensor:
        vecs = self._as_grad_outputs(rows).contiguous()
        if self.method == "fwd_rev":
            return self._from_grad_outputs(self._fwd_rev(vecs)).detach()
        if self.method == "rev_rev":
            leaf = self.theta.clone().requires_grad_(True)
            with torch.enable_grad():
                loss = check_loss_value(self.f(leaf), self.theta)
                (grad,) = torch.autograd.grad(loss.sum(), leaf, create_graph=True)
            out = self._double_backward(grad, leaf, vecs, retain=False)
        else:
            assert self._grad is not None and self._leaf is not None
            out = self._double_backward(self._grad, self._leaf, vecs, retain=True)
        return self._from_grad_outputs(out).detach()

    def _double_backward(
        self, grad: torch.Tensor, leaf: torch.Tensor, vecs: torch.Tensor, *, retain: bool
    ) -> torch.Tensor:
        if not grad.requires_grad:  # f is affine in theta: H = 0
            return torch.zeros_like(vecs)
        r = vecs.shape[0]

        def one(v: torch.Tensor, keep: bool) -> torch.Tensor:
            (hv,) = torch.autograd.grad(
                grad, leaf, grad_outputs=v, retain_graph=keep, allow_unused=True
            )
            return torch.zeros_like(v) if hv is None else hv

        if r == 1:
            return one(vecs[0], retain)[None]
        if self._batch_ok:
            try:
                (hv,) = torch.autograd.grad(
                    grad,
                    leaf,
                    grad_outputs=vecs,
                    retain_graph=True,
                    allow_unused=True,
                    is_grads_batched=True,
                )
                return torch.zeros_like(vecs) if hv is None else hv
            except (RuntimeError, NotImplementedError):
                self._batch_ok = False
        outs = [one(vecs[i], True if retain else i < r - 1) for i in range(r)]
        return torch.stack(outs)

    def _fwd_rev(self, vecs: torch.Tensor) -> torch.Tensor:
        grad_fn = torch.func.grad(_sum_loss(self.f), has_aux=True)
        theta = self.theta

        def one(v: torch.Tensor) -> torch.Tensor:
            out: Any = torch.func.jvp(grad_fn, (theta,), (v,), has_aux=True)
            return out[1]  # type: ignore[no-any-return]

        if vecs.shape[0] > 1 and self._batch_ok:
            try:
                return torch.func.vmap(one)(vecs)
            except (RuntimeError, NotImplementedError):
                self._batch_ok = False
        return torch.stack([one(v) for v in vecs])


def hvp_operator(
    f: LossFunction,
    theta: torch.Tensor,
    *,
    method: str = "cached",
    max_batch: int | None = None,
    vectors: str = "auto",
) -> HessianOperator:
    """Return the Hessian of ``f`` at ``theta`` as a :class:`HessianOperator`.

    The default ``method="cached"`` builds the gradient graph once and reuses it for every
    ``matvec``/``matmat`` (the fast path when many HVPs are taken at one ``theta``).

    Args:
        f: loss of the flat parameters (see the module docstring for shapes).
        theta: ``(P,)`` or ``(count, P)`` floating tensor.
        method: ``"cached"``, ``"fwd_rev"`` or ``"rev_rev"``.
        max_batch: most vectors per batched backward pass (default: memory-based).
        vectors: ``"auto"``, ``"vmap"`` or ``"loop"``: how ``matmat`` treats many vectors.

    >>> op = hvp_operator(lambda t: (t ** 3).sum(), torch.tensor([1.0, 2.0], dtype=torch.float64))
    >>> op.matmat(torch.eye(2, dtype=torch.float64)).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    return HessianOperator(f, theta, method=method, max_batch=max_batch, vectors=vectors)


def hvp(f: LossFunction, theta: torch.Tensor, v: torch.Tensor, *, method: str = "auto") -> Any:
    """Return the Hessian-vector product ``H(theta) v`` with ``H = nabla^2 f``.

    ``method="fwd_rev"``: forward over reverse, ``H v = d/de nabla f(theta + e v)`` via
    ``torch.func.jvp(torch.func.grad(f))``; ``"rev_rev"``: reverse over reverse,
    ``H v = nabla_theta (nabla f(theta) . v)`` via double backward [ref: Pearlmutter 1994,
    Neural Comput. 6:147]; ``"auto"``: ``fwd_rev``, falling back to ``rev_rev`` when an op has
    no forward-mode rule or ``f`` is not ``torch.func``-transformable. For many products at one
    point use :func:`hvp_operator` (cached graph, batched vectors).

    Args:
        f: loss; ``(P,) -> scalar`` or ``(count, P) -> (count,)`` (independent networks).
        theta: point, ``(P,)`` or ``(count, P)``.
        v: direction, same shape as ``theta``.
        method: ``"auto"``, ``"fwd_rev"`` or ``"rev_rev"``.

    Returns:
        ``H v``, a tensor shaped like ``theta`` (per network for 2-D ``theta``).

    >>> A = torch.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    >>> hvp(lambda t: 0.5 * t @ A @ t, torch.ones(2, dtype=torch.float64),
    ...     torch.tensor([0.0, 1.0], dtype=torch.float64)).tolist()
    [1.0, 3.0]
    """
    f = check_f(f)
    theta = check_theta(theta)
    v = check_vector("v", v, theta)
    method = check_choice("method", method, HVP_METHODS)
    if method in ("auto", "fwd_rev"):
        try:
            return _hvp_fwd_rev(f, theta, v)
        except (RuntimeError, NotImplementedError):
            if method == "fwd_rev":
                raise
    return HessianOperator(f, theta, method="cached").matvec(v)


def dense_hessian(f: LossFunction, theta: torch.Tensor, *, method: str = "auto") -> Any:
    """Return the dense Hessian ``H_ij = d^2 f / d theta_i d theta_j`` (slow reference).

    ``method="func"``: ``torch.func.hessian`` (forward over reverse, single network only);
    ``"hvp"``: the columns ``H e_j`` from a loop of HVPs on the cached double-backward graph;
    ``"auto"``: ``func`` for a single network (``hvp`` if ``f`` is not transformable), ``hvp``
    for a batch.

    Args:
        f: loss (see :func:`hvp`).
        theta: ``(P,)`` or ``(count, P)``.
        method: ``"auto"``, ``"func"`` or ``"hvp"``.

    Returns:
        ``(P, P)`` or ``(count, P, P)`` tensor.

    >>> dense_hessian(lambda t: t[0] ** 2 * t[1], torch.tensor([1.0, 2.0])).tolist()
    [[4.0, 2.0], [2.0, 0.0]]
    """
    f = check_f(f)
    theta = check_theta(theta)
    method = check_choice("method", method, ("auto", "func", "hvp"))
    if method == "func" and theta.ndim == 2:
        raise ValueError("method='func' needs a single network (1-D theta); use method='hvp'")
    if method in ("auto", "func") and theta.ndim == 1:
        with torch.no_grad():
            check_loss_value(f(theta), theta)
        try:
            h = torch.func.hessian(lambda t: f(t).reshape(()))(theta)
            return h.detach().reshape(theta.shape[0], theta.shape[0])
        except (RuntimeError, NotImplementedError):
            if method == "func":
                raise
    op = HessianOperator(f, theta, method="cached")
    p = op.dim
    cols = []
    for j in range(p):
        e = torch.zeros(op.count, 1, p, dtype=theta.dtype, device=theta.device)
        e[:, 0, j] = 1.0
        cols.append(op.apply_rows(e)[:, 0, :])
    h = torch.stack(cols, dim=-1)  # (count, P, P): h[:, i, j] = (H e_j)_i
    return h if theta.ndim == 2 else h[0]
