"""Curvature of real networks: Hessian-vector products, dense Hessians, Lanczos, Hutchinson, SLQ.

Every function takes a loss ``f`` of a *flat* parameter vector and the point ``theta``:

* single network: ``theta`` of shape ``(P,)`` and ``f(theta)`` a scalar (0-d or one element);
* many independent networks at once: ``theta`` of shape ``(count, P)`` and ``f(theta)`` of shape
  ``(count,)``, where ``f(theta)[i]`` depends on ``theta[i]`` only. The Hessian of
  ``sum_i f(theta)[i]`` is then block diagonal, so one batched HVP gives every network's HVP and
  Lanczos, Hutchinson and SLQ run for all networks at once with batched tensor operations.

:func:`flat_function` turns an ``nn.Module`` + loss + data into such an ``f``;
:func:`flat_function_batch` does the same for a network batch (``nets.parameters()`` a list of
tensors with leading dimension ``count`` and ``nets.forward(x, params=...)`` returning
``(count, batch, out)``).

Fast paths and their slow references (tested against each other):

* :func:`hvp` forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``) and
  reverse-over-reverse; :func:`hvp_operator` caches the double-backward graph at ``theta`` and
  batches vectors (``is_grads_batched``). Reference: :func:`dense_hessian` (``torch.func.hessian``
  or a loop of HVPs).
* :func:`extreme_eigenvalues` Lanczos with full reorthogonalization (``method="lanczos"``) vs
  ARPACK (``method="eigsh"``) vs ``torch.linalg.eigvalsh`` of the dense Hessian; baseline
  :func:`power_iteration` (PyHessian style).
* :func:`hutchinson_trace` vs the trace of the dense Hessian; :func:`spectral_density` (SLQ) vs
  the exact moments ``v^T H^p v``.

float64 is recommended (the functions keep ``theta``'s dtype); CUDA works when ``theta`` lives
there. Random vectors are drawn on the CPU from ``torch.Generator().manual_seed(seed)`` and
moved to ``theta``'s device, so a seed gives the same vectors on every device; network 0 of a
batch sees the same random numbers as a single-network call with the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_choice, check_int, check_positive
from flatstart.montecarlo.lanczos import (
    all_ritz,
    gaussian_broadening,
    lanczos,
    needed_steps,
    select_indices,
)
from flatstart.montecarlo.provenance import make_provenance

__all__ = [
    "BatchFlatFunction",
    "DensityResult",
    "EigenResult",
    "FlatFunction",
    "HessianOperator",
    "PowerResult",
    "TraceResult",
    "dense_hessian",
    "extreme_eigenvalues",
    "flat_function",
    "flat_function_batch",
    "hutchinson_trace",
    "hvp",
    "hvp_operator",
    "power_iteration",
    "spectral_density",
]

LossFunction = Callable[[torch.Tensor], torch.Tensor]

HVP_METHODS = ("auto", "fwd_rev", "rev_rev")
OPERATOR_METHODS = ("cached", "fwd_rev", "rev_rev")
VECTOR_MODES = ("auto", "vmap", "loop")
WHICH = ("both", "largest", "smallest")
DISTRIBUTIONS = ("rademacher", "gaussian")

#: Default number of tensor elements (``count * vectors * P``) per batched HVP call.
BATCH_ELEMENTS = 2**24
#: Default number of basis elements (``lanes * (steps + 1) * P``) per SLQ chunk (256 MiB fp64).
SLQ_BASIS_ELEMENTS = 2**25


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------


def _check_f(f: Any) -> LossFunction:
    if not callable(f):
        raise TypeError(f"f must be a callable mapping theta to a loss, got {type(f).__name__}")
    return f  # type: ignore[no-any-return]


def _check_theta(theta: Any) -> torch.Tensor:
    if not isinstance(theta, torch.Tensor):
        raise TypeError(f"theta must be a torch.Tensor, got {type(theta).__name__}")
    if theta.ndim not in (1, 2):
        raise ValueError(
            f"theta must be 1-D (P,) or 2-D (count, P), got shape {tuple(theta.shape)}"
        )
    if not theta.is_floating_point():
        raise ValueError(f"theta must have a floating dtype, got {theta.dtype}")
    if theta.numel() == 0:
        raise ValueError(f"theta must be non-empty, got shape {tuple(theta.shape)}")
    if not bool(torch.isfinite(theta).all()):
        raise ValueError("theta must be finite, got NaN or inf entries")
    return theta.detach()


def _check_vector(name: str, v: Any, theta: torch.Tensor) -> torch.Tensor:
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(v).__name__}")
    if tuple(v.shape) != tuple(theta.shape):
        raise ValueError(
            f"{name} must have the shape of theta {tuple(theta.shape)}, got {tuple(v.shape)}"
        )
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} must be finite")
    return v.detach().to(theta.device, theta.dtype)


def _check_loss(loss: Any, theta: torch.Tensor) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor):
        raise ValueError(f"f must return a torch.Tensor, got {type(loss).__name__}")
    if theta.ndim == 1 and loss.numel() != 1:
        raise ValueError(
            f"f must return a scalar loss for 1-D theta, got shape {tuple(loss.shape)}"
        )
    if theta.ndim == 2 and tuple(loss.shape) != (theta.shape[0],):
        raise ValueError(
            f"f must return losses of shape (count,) = ({theta.shape[0]},) for 2-D theta, "
            f"got shape {tuple(loss.shape)}"
        )
    if not bool(torch.isfinite(loss.detach()).all()):
        raise ValueError(f"f returned a non-finite loss at theta: {loss.detach().cpu().tolist()}")
    return loss


def _check_seed(seed: Any) -> int:
    return check_int("seed", seed, minimum=0)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _random(
    shape: Sequence[int],
    gen: torch.Generator,
    distribution: str,
    like: torch.Tensor,
) -> torch.Tensor:
    """Rademacher (+-1) or standard normal entries, drawn on the CPU, moved to ``like``."""
    if distribution == "rademacher":
        z = torch.randint(0, 2, tuple(shape), generator=gen).to(torch.float64) * 2.0 - 1.0
    else:
        z = torch.randn(tuple(shape), generator=gen, dtype=torch.float64)
    return z.to(like.device, like.dtype)


def _meta(theta: torch.Tensor, seed: int | None) -> dict[str, Any]:
    return {
        "seed": seed,
        "dtype": str(theta.dtype),
        "device": str(theta.device),
        "torch_version": torch.__version__,
    }


# --------------------------------------------------------------------------------------------
# Hessian-vector products
# --------------------------------------------------------------------------------------------


def _sum_loss(f: LossFunction) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    def g(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = f(t)
        return out.sum(), out

    return g


def _hvp_fwd_rev(f: LossFunction, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Forward-over-reverse HVP ``d/de grad L(theta + e v)|_{e=0}`` with ``torch.func``."""
    grad_fn = torch.func.grad(_sum_loss(f), has_aux=True)
    out: Any = torch.func.jvp(grad_fn, (theta,), (v,), has_aux=True)
    _check_loss(out[2], theta)
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
        self.f = _check_f(f)
        self.theta = _check_theta(theta)
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
                loss = _check_loss(self.f(leaf), self.theta)
                (grad,) = torch.autograd.grad(loss.sum(), leaf, create_graph=True)
            self._leaf, self._grad = leaf, grad
            self.loss = loss.detach()
        else:
            with torch.no_grad():
                self.loss = _check_loss(self.f(self.theta), self.theta).detach()

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
        v = _check_vector("v", v, self.theta)
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
                loss = _check_loss(self.f(leaf), self.theta)
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
    f = _check_f(f)
    theta = _check_theta(theta)
    v = _check_vector("v", v, theta)
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
    f = _check_f(f)
    theta = _check_theta(theta)
    method = check_choice("method", method, ("auto", "func", "hvp"))
    if method == "func" and theta.ndim == 2:
        raise ValueError("method='func' needs a single network (1-D theta); use method='hvp'")
    if method in ("auto", "func") and theta.ndim == 1:
        with torch.no_grad():
            _check_loss(f(theta), theta)
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


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EigenResult:
    """Extreme Hessian eigenvalues.

    Attributes:
        values: ascending, shape ``(n,)`` or ``(count, n)``; for ``which="both"`` the ``k``
            smallest then the ``k`` largest (``values[..., 0]`` is ``lambda_min``,
            ``values[..., -1]`` is ``lambda_max``).
        vectors: unit eigenvector estimates ``(P, n)`` / ``(count, P, n)`` or ``None``.
        residuals: Ritz residual norms ``||H y - theta y||`` (bounds on the eigenvalue errors).
        converged: ``bool`` (single) or ``(count,)`` bool array.
        iterations: Lanczos steps (HVPs) per network.
        hvps: Hessian-vector products per network.
        which, k, method: the request.
        seed, dtype, device, torch_version, provenance: how it was made.
    """

    values: np.ndarray
    vectors: np.ndarray | None
    residuals: np.ndarray
    converged: Any
    iterations: Any
    hvps: int
    which: str
    k: int
    method: str
    seed: int
    dtype: str
    device: str
    torch_version: str
    provenance: dict[str, Any] = field(repr=False)

    @property
    def lambda_max(self) -> Any:
        """Largest eigenvalue (needs ``which`` in ``"both"``, ``"largest"``)."""
        if self.which == "smallest":
            raise ValueError("lambda_max is not available for which='smallest'")
        return self.values[..., -1]

    @property
    def lambda_min(self) -> Any:
        """Smallest eigenvalue (needs ``which`` in ``"both"``, ``"smallest"``)."""
        if self.which == "largest":
            raise ValueError("lambda_min is not available for which='largest'")
        return self.values[..., 0]


@dataclass(frozen=True)
class PowerResult:
    """Power iteration estimate of the dominant (largest-magnitude) eigenvalue.

    Attributes:
        value: last Rayleigh quotient, ``float`` or ``(count,)``.
        history: Rayleigh quotients per iteration, ``(iters,)`` or ``(count, iters)``.
        vector: final unit vector, ``(P,)`` / ``(count, P)``.
        hvps: HVPs per network.
    """

    value: Any
    history: np.ndarray
    vector: np.ndarray
    hvps: int
    seed: int
    dtype: str
    device: str
    torch_version: str
    provenance: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class TraceResult:
    """Hutchinson trace estimate.

    Attributes:
        estimate: ``mean_i z_i^T H z_i``, ``float`` or ``(count,)``.
        stderr: standard error ``std(z^T H z, ddof=1) / sqrt(probes)`` (``inf`` for one probe).
        probes: number of probe vectors.
        samples: the quadratic forms ``z_i^T H z_i``, ``(probes,)`` or ``(count, probes)``.
        probe_vectors: ``(probes, P)`` / ``(count, probes, P)`` if requested, else ``None``.
        hvps: HVPs per network.
    """

    estimate: Any
    stderr: Any
    probes: int
    samples: np.ndarray
    probe_vectors: np.ndarray | None
    distribution: str
    hvps: int
    seed: int
    dtype: str
    device: str
    torch_version: str
    provenance: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class DensityResult:
    """Stochastic Lanczos quadrature of the Hessian spectral density.

    Attributes:
        nodes: Ritz values per run, ``(runs, steps)`` or ``(count, runs, steps)``; entries past
            ``steps_used`` (early breakdown: exact quadrature) are 0 with weight 0.
        weights: squared first components of the eigenvectors of ``T``; each run sums to 1.
        grid: evaluation points, ``(g,)`` or ``(count, g)``.
        density: ``(1/runs) sum_r sum_k w_rk N(t; theta_rk, sigma^2)`` on ``grid``; it
            integrates to 1.
        sigma: Gaussian broadening, ``float`` or ``(count,)``.
        steps_used: Lanczos steps per run.
        probe_vectors: unit start vectors ``(runs, P)`` / ``(count, runs, P)`` if requested.
        hvps: HVPs per network.
    """

    nodes: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sigma: Any
    runs: int
    steps: int
    steps_used: np.ndarray
    probe_vectors: np.ndarray | None
    distribution: str
    hvps: int
    seed: int
    dtype: str
    device: str
    torch_version: str
    provenance: dict[str, Any] = field(repr=False)

    def moment(self, p: int) -> Any:
        """Return ``mean_r sum_k w_rk theta_rk^p``, an estimate of ``tr(H^p) / P``.

        For each run it equals ``v^T H^p v`` exactly for ``p <= 2 * steps_used - 1``.
        """
        p = check_int("p", p, minimum=0)
        per_run = (self.weights * self.nodes**p).sum(axis=-1)
        out = per_run.mean(axis=-1)
        return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------
# Lanczos extreme eigenvalues
# --------------------------------------------------------------------------------------------


def _squeeze(x: np.ndarray, batched: bool) -> Any:
    return x if batched else x[0]


def _scalar(x: np.ndarray, batched: bool) -> Any:
    return x if batched else x[0].item()


def extreme_eigenvalues(
    f: LossFunction,
    theta: torch.Tensor,
    k: int = 1,
    which: str = "both",
    seed: int = 0,
    tol: float = 1e-10,
    max_iter: int | None = None,
    *,
    method: str = "lanczos",
    return_vectors: bool = False,
    hvp_method: str = "cached",
) -> EigenResult:
    """Return the ``k`` extreme eigenvalues of the Hessian of ``f`` at ``theta``.

    ``method="lanczos"``: Lanczos with full reorthogonalization (twice) from a seeded Gaussian
    start vector [ref: Golub & Van Loan §10.1; Parlett 1998]. Both ends converge at once. A run
    stops when every wanted Ritz value ``theta_i`` has residual
    ``r_i = |beta_m S_{m,i}| <= tol * max_j |theta_j|``; since ``|theta_i - lambda| <= r_i`` for
    some eigenvalue ``lambda`` (and ``<= r_i^2 / gap``) the returned values are accurate to about
    ``tol * ||H||`` or better. A breakdown (``beta = 0``: invariant Krylov space) ends the run
    with exact eigenvalues, or restarts from a random vector orthogonal to the basis when fewer
    than ``k`` (``2k`` for ``"both"``) Ritz values exist yet. Single-vector Lanczos resolves an
    eigenvalue of multiplicity > 1 only through such restarts or round-off: with ``k > 1`` a
    repeated extreme eigenvalue may be returned once. For a batch (``theta`` of shape
    ``(count, P)``) all networks run together (``bmm`` reorthogonalization, batched ``eigh`` of
    the tridiagonals); each stops on its own test.

    ``method="eigsh"``: ARPACK (``scipy.sparse.linalg.eigsh``, implicitly restarted Lanczos) on
    the cached HVP operator, a single network only; ``k < P``.

    Args:
        f: loss (see :func:`hvp`).
        theta: ``(P,)`` or ``(count, P)``.
        k: eigenvalues per end, ``1 <= k <= P``.
        which: ``"both"``, ``"largest"`` or ``"smallest"``.
        seed: seed of the start vector (and restarts).
        tol: relative residual tolerance (> 0).
        max_iter: most Lanczos steps (default ``min(P, 500)``); must allow ``k`` (``2k``) steps.
        method: ``"lanczos"`` or ``"eigsh"``.
        return_vectors: also return the Ritz vectors.
        hvp_method: operator method (``"cached"``, ``"fwd_rev"``, ``"rev_rev"``).

    Returns:
        An :class:`EigenResult` (values ascending).

    >>> A = torch.diag(torch.tensor([-1.0, 0.5, 2.0, 3.0], dtype=torch.float64))
    >>> res = extreme_eigenvalues(lambda t: 0.5 * t @ A @ t, torch.zeros(4, dtype=torch.float64))
    >>> np.round(res.values, 12).tolist(), bool(res.converged)
    ([-1.0, 3.0], True)
    """
    f = _check_f(f)
    theta = _check_theta(theta)
    dim = int(theta.shape[-1])
    k = check_int("k", k, minimum=1, maximum=dim)
    which = check_choice("which", which, WHICH)
    seed = _check_seed(seed)
    tol = check_positive("tol", tol)
    method = check_choice("method", method, ("lanczos", "eigsh"))
    hvp_method = check_choice("hvp_method", hvp_method, OPERATOR_METHODS)
    need = needed_steps(k, which, dim)
    if max_iter is None:
        max_iter = min(dim, max(500, need))
    max_iter = check_int("max_iter", max_iter, minimum=need)
    batched = theta.ndim == 2
    if method == "eigsh" and batched:
        raise ValueError("method='eigsh' needs a single network (1-D theta); use 'lanczos'")
    op = HessianOperator(f, theta, method=hvp_method)
    params = {"k": k, "which": which, "tol": tol, "max_iter": max_iter, "method": method}
    meta = _meta(theta, seed)
    prov = make_provenance(
        "curvature.extreme_eigenvalues", params, seed=seed, dtype=theta.dtype, device=theta.device
    )
    if method == "eigsh":
        return _eigsh(op, theta, k, which, seed, tol, max_iter, return_vectors, meta, prov)

    gen = _generator(seed)
    v0 = _random((op.count, dim), gen, "gaussian", theta)

    def apply(x: torch.Tensor) -> torch.Tensor:
        return op.apply_rows(x[:, None, :])[:, 0, :]

    run = lanczos(
        apply,
        v0,
        max_iter,
        which=which,
        k=k,
        tol=tol,
        generator=gen,
        keep_basis=return_vectors,
    )
    vals, ress, vecs = [], [], []
    for lane, (th, s, bm) in enumerate(all_ritz(run)):
        sel = select_indices(th.shape[0], k, which)
        vals.append(th[sel].numpy())
        ress.append((bm * s[-1, sel]).abs().numpy())
        if return_vectors:
            assert run.basis is not None
            m = th.shape[0]
            basis = run.basis[lane, :m]
            y = basis.transpose(0, 1) @ s[:, sel].to(basis.device, basis.dtype)
            vecs.append(y.detach().cpu().to(torch.float64).numpy())
    values = np.stack(vals)
    residuals = np.stack(ress)
    conv = run.converged.numpy()
    iters = run.lengths.numpy()
    return EigenResult(
        values=_squeeze(values, batched),
        vectors=_squeeze(np.stack(vecs), batched) if return_vectors else None,
        residuals=_squeeze(residuals, batched),
        converged=conv if batched else bool(conv[0]),
        iterations=iters if batched else int(iters[0]),
        hvps=op.hvps,
        which=which,
        k=k,
        method=method,
        provenance=prov,
        **meta,
    )


def _eigsh(
    op: HessianOperator,
    theta: torch.Tensor,
    k: int,
    which: str,
    seed: int,
    tol: float,
    max_iter: int,
    return_vectors: bool,
    meta: dict[str, Any],
    prov: dict[str, Any],
) -> EigenResult:
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    if op.batched:
        raise ValueError("method='eigsh' needs a single network (1-D theta); use 'lanczos'")
    if k >= op.dim:
        raise ValueError(f"method='eigsh' needs k < P = {op.dim}, got k={k}")
    lin = op.to_scipy()
    rng = np.random.default_rng(seed)
    v0 = rng.standard_normal(op.dim)
    vals, vecs = [], []
    converged = True
    ends = {"both": ["SA", "LA"], "largest": ["LA"], "smallest": ["SA"]}[which]
    for end in ends:
        try:
            w, y = eigsh(lin, k=k, which=end, tol=tol, v0=v0, maxiter=max(max_iter, 10 * op.dim))
        except ArpackNoConvergence as err:  # pragma: no cover - rare
            converged = False
            w, y = err.eigenvalues, err.eigenvectors
        order = np.argsort(w)
        vals.append(w[order])
        vecs.append(y[:, order])
    values = np.concatenate(vals)
    vectors = np.concatenate(vecs, axis=1)
    hy = op.matmat(torch.as_tensor(vectors).to(theta.device, theta.dtype))
    hy_np = hy.detach().cpu().to(torch.float64).numpy()
    residuals = np.linalg.norm(hy_np - vectors * values[None, :], axis=0)
    return EigenResult(
        values=values,
        vectors=vectors if return_vectors else None,
        residuals=residuals,
        converged=converged,
        iterations=op.hvps,
        hvps=op.hvps,
        which=which,
        k=k,
        method="eigsh",
        provenance=prov,
        **meta,
    )


def power_iteration(
    f: LossFunction,
    theta: torch.Tensor,
    iters: int = 20,
    seed: int = 0,
    *,
    hvp_method: str = "cached",
) -> PowerResult:
    """Power iteration for the dominant Hessian eigenvalue (the PyHessian-style baseline).

    ``v_0 ~ N(0, I)`` normalized; ``lambda_t = v_t^T H v_t``, ``v_{t+1} = H v_t / ||H v_t||``
    for a fixed number of steps [ref: Golub & Van Loan §7.3; Yao et al. 2020, PyHessian]. It
    converges to the eigenvalue of largest magnitude at rate ``|lambda_2 / lambda_1|`` per step
    (the Rayleigh quotient error at its square), far slower than Lanczos.

    Args:
        f: loss (see :func:`hvp`).
        theta: ``(P,)`` or ``(count, P)``.
        iters: number of HVPs (>= 1).
        seed: seed of the start vector.
        hvp_method: operator method.

    Returns:
        A :class:`PowerResult`.

    >>> A = torch.diag(torch.tensor([1.0, 10.0], dtype=torch.float64))
    >>> round(power_iteration(lambda t: 0.5 * t @ A @ t, torch.zeros(2, dtype=torch.float64),
    ...                       iters=40).value, 10)
    10.0
    """
    f = _check_f(f)
    theta = _check_theta(theta)
    iters = check_int("iters", iters, minimum=1)
    seed = _check_seed(seed)
    op = HessianOperator(f, theta, method=check_choice("hvp_method", hvp_method, OPERATOR_METHODS))
    gen = _generator(seed)
    v = _random((op.count, op.dim), gen, "gaussian", theta)
    v = v / v.norm(dim=1, keepdim=True)
    hist = []
    for _ in range(iters):
        hv = op.apply_rows(v[:, None, :])[:, 0, :]
        lam = (hv * v).sum(dim=1)
        hist.append(lam.detach().cpu().to(torch.float64))
        nrm = hv.norm(dim=1, keepdim=True)
        v = torch.where(nrm > 0, hv / nrm.clamp_min(torch.finfo(theta.dtype).tiny), v)
    history = torch.stack(hist, dim=1).numpy()
    batched = theta.ndim == 2
    return PowerResult(
        value=_scalar(history[:, -1], batched),
        history=_squeeze(history, batched),
        vector=_squeeze(v.detach().cpu().to(torch.float64).numpy(), batched),
        hvps=op.hvps,
        provenance=make_provenance(
            "curvature.power_iteration",
            {"iters": iters},
            seed=seed,
            dtype=theta.dtype,
            device=theta.device,
        ),
        **_meta(theta, seed),
    )


# --------------------------------------------------------------------------------------------
# Hutchinson trace
# --------------------------------------------------------------------------------------------


def hutchinson_trace(
    f: LossFunction,
    theta: torch.Tensor,
    probes: int = 100,
    seed: int = 0,
    *,
    distribution: str = "rademacher",
    batch_size: int | None = None,
    return_probes: bool = False,
    hvp_method: str = "cached",
) -> TraceResult:
    """Hutchinson's unbiased estimate of ``tr H`` with its standard error.

    ``tr H = E[z^T H z]`` for any ``z`` with ``E[z z^T] = I`` [ref: Hutchinson 1990, Commun.
    Stat. Simul. 19:433]; with Rademacher ``z`` the variance of one sample is
    ``2 (||H||_F^2 - sum_i H_ii^2)``, the smallest among such ``z`` (Gaussian: ``2 ||H||_F^2``).
    The estimate is the mean of ``probes`` samples and ``stderr = s / sqrt(probes)`` with the
    sample standard deviation ``s`` (``inf`` for a single probe). Probes are pushed through the
    cached HVP operator in batches of ``batch_size`` vectors.

    Args:
        f: loss (see :func:`hvp`).
        theta: ``(P,)`` or ``(count, P)``.
        probes: number of probe vectors (>= 1).
        seed: seed of the probes.
        distribution: ``"rademacher"`` or ``"gaussian"``.
        batch_size: vectors per batched HVP (default: memory-based).
        return_probes: keep the probe vectors in the result.
        hvp_method: operator method.

    Returns:
        A :class:`TraceResult`.

    >>> A = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    >>> hutchinson_trace(lambda t: 0.5 * t @ A @ t, torch.zeros(3, dtype=torch.float64),
    ...                  probes=5).estimate
    6.0
    """
    f = _check_f(f)
    theta = _check_theta(theta)
    probes = check_int("probes", probes, minimum=1)
    seed = _check_seed(seed)
    distribution = check_choice("distribution", distribution, DISTRIBUTIONS)
    hvp_method = check_choice("hvp_method", hvp_method, OPERATOR_METHODS)
    batched = theta.ndim == 2
    count = int(theta.shape[0]) if batched else 1
    dim = int(theta.shape[-1])
    if batch_size is None:
        batch_size = max(1, min(probes, BATCH_ELEMENTS // (count * dim)))
    batch_size = check_int("batch_size", batch_size, minimum=1)
    op = HessianOperator(f, theta, method=hvp_method, max_batch=batch_size)
    z = _random((count, probes, dim), _generator(seed), distribution, theta)
    hz = op.apply_rows(z)
    samples = (z * hz).sum(dim=2).detach().cpu().to(torch.float64).numpy()
    est = samples.mean(axis=1)
    if probes > 1:
        err = samples.std(axis=1, ddof=1) / math.sqrt(probes)
    else:
        err = np.full(count, np.inf)
    zs = z.detach().cpu().to(torch.float64).numpy() if return_probes else None
    return TraceResult(
        estimate=_scalar(est, batched),
        stderr=_scalar(err, batched),
        probes=probes,
        samples=_squeeze(samples, batched),
        probe_vectors=None if zs is None else _squeeze(zs, batched),
        distribution=distribution,
        hvps=op.hvps,
        provenance=make_provenance(
            "curvature.hutchinson_trace",
            {"probes": probes, "distribution": distribution},
            seed=seed,
            dtype=theta.dtype,
            device=theta.device,
        ),
        **_meta(theta, seed),
    )


# --------------------------------------------------------------------------------------------
# Stochastic Lanczos quadrature
# --------------------------------------------------------------------------------------------


def spectral_density(
    f: LossFunction,
    theta: torch.Tensor,
    runs: int = 10,
    steps: int = 80,
    seed: int = 0,
    *,
    sigma: float | None = None,
    sigma_rel: float = 0.01,
    grid: Any = None,
    grid_points: int = 1001,
    distribution: str = "rademacher",
    batch_size: int | None = None,
    return_probes: bool = False,
    hvp_method: str = "cached",
) -> DensityResult:
    """Hessian spectral density by stochastic Lanczos quadrature (SLQ).

    For each run a unit probe ``v = z / ||z||`` (Rademacher or Gaussian ``z``, so
    ``E[v v^T] = I / P``) starts ``m = steps`` Lanczos steps with full reorthogonalization;
    ``T_m = S diag(theta) S^T`` gives nodes ``theta_k`` and weights ``w_k = S_{1k}^2``, the
    Gauss quadrature of the spectral measure of ``H`` seen from ``v``: ``sum_k w_k
    theta_k^p = v^T H^p v`` for ``p <= 2m - 1`` [ref: Golub & Meurant 2010, Thm 6.2;
    Ghorbani, Krishnan & Xiao 2019, ICML, §2; Lin, Saad & Yang 2016]. Averaging over runs
    estimates ``(1/P) sum_i delta(t - lambda_i)``; the reported density is the Gaussian
    broadening ``phi(t) = (1/runs) sum_r sum_k w_rk N(t; theta_rk, sigma^2)``, which integrates
    to 1. Default ``sigma = sigma_rel * (max node - min node)`` per network (``sigma_rel`` times
    ``max(|node|, 1)`` if all nodes coincide); default grid: ``grid_points`` points from
    ``min node - 6 sigma`` to ``max node + 6 sigma``. A run whose Krylov space is exhausted
    (breakdown) stops early with an exact quadrature; its unused nodes have weight 0.
    ``steps`` is clipped to ``P``. All runs (and all networks of a batch) share batched HVPs;
    ``batch_size`` runs are processed at a time to bound the memory of the Lanczos bases.

    Args:
        f: loss (see :func:`hvp`).
        theta: ``(P,)`` or ``(count, P)``.
        runs: number of probe vectors (>= 1).
        steps: Lanczos steps per run (>= 1).
        seed: seed of the probes.
        sigma: broadening (> 0); overrides ``sigma_rel``.
        sigma_rel: broadening relative to the spectral range (> 0).
        grid: 1-D evaluation points shared by all networks (default: per-network grid).
        grid_points: size of the default grid (>= 2).
        distribution: ``"rademacher"`` or ``"gaussian"`` probes.
        batch_size: runs per chunk (default: memory-based).
        return_probes: keep the unit probe vectors.
        hvp_method: operator method.

    Returns:
        A :class:`DensityResult`.

    >>> A = torch.diag(torch.tensor([1.0, 2.0], dtype=torch.float64))
    >>> res = spectral_density(lambda t: 0.5 * t @ A @ t, torch.zeros(2, dtype=torch.float64),
    ...                        runs=2, steps=2)
    >>> np.round(res.nodes, 12).tolist(), round(res.moment(1), 12)
    ([[1.0, 2.0], [1.0, 2.0]], 1.5)
    """
    f = _check_f(f)
    theta = _check_theta(theta)
    runs = check_int("runs", runs, minimum=1)
    steps_req = check_int("steps", steps, minimum=1)
    seed = _check_seed(seed)
    sigma_rel = check_positive("sigma_rel", sigma_rel)
    if sigma is not None:
        sigma = check_positive("sigma", sigma)
    grid_points = check_int("grid_points", grid_points, minimum=2)
    distribution = check_choice("distribution", distribution, DISTRIBUTIONS)
    hvp_method = check_choice("hvp_method", hvp_method, OPERATOR_METHODS)
    grid_arr: np.ndarray | None = None
    if grid is not None:
        grid_arr = np.asarray(grid, dtype=np.float64)
        if grid_arr.ndim != 1 or grid_arr.size < 2 or not np.all(np.isfinite(grid_arr)):
            raise ValueError(f"grid must be a finite 1-D array of >= 2 points, got {grid!r}")
    batched = theta.ndim == 2
    count = int(theta.shape[0]) if batched else 1
    dim = int(theta.shape[-1])
    steps_eff = min(steps_req, dim)
    if batch_size is None:
        batch_size = max(1, min(runs, SLQ_BASIS_ELEMENTS // (count * (steps_eff + 1) * dim)))
    batch_size = check_int("batch_size", batch_size, minimum=1)
    op = HessianOperator(f, theta, method=hvp_method)

    z = _random((count, runs, dim), _generator(seed), distribution, theta)
    v = z / z.norm(dim=2, keepdim=True)
    nodes = np.zeros((count, runs, steps_eff))
    weights = np.zeros((count, runs, steps_eff))
    used = np.zeros((count, runs), dtype=np.int64)
    for start in range(0, runs, batch_size):
        chunk = v[:, start : start + batch_size]
        r = chunk.shape[1]

        def apply(x: torch.Tensor, r: int = r) -> torch.Tensor:
            return op.apply_rows(x.reshape(count, r, dim)).reshape(count * r, dim)

        run = lanczos(apply, chunk.reshape(count * r, dim), steps_eff)
        for lane, (th, s, _) in enumerate(all_ritz(run)):
            i, j = divmod(lane, r)
            m = th.shape[0]
            nodes[i, start + j, :m] = th.numpy()
            weights[i, start + j, :m] = (s[0, :] ** 2).numpy()
            used[i, start + j] = m

    sig = np.zeros(count)
    grids = []
    dens = []
    for i in range(count):
        live = weights[i] > 0
        lo = float(nodes[i][live].min()) if live.any() else 0.0
        hi = float(nodes[i][live].max()) if live.any() else 0.0
        if sigma is not None:
            sig[i] = sigma
        elif hi > lo:
            sig[i] = sigma_rel * (hi - lo)
        else:
            sig[i] = sigma_rel * max(abs(hi), 1.0)
        g = (
            grid_arr
            if grid_arr is not None
            else np.linspace(lo - 6 * sig[i], hi + 6 * sig[i], grid_points)
        )
        d = gaussian_broadening(nodes[i].reshape(-1), weights[i].reshape(-1) / runs, g, sig[i])
        grids.append(g)
        dens.append(d)
    probe_np = v.detach().cpu().to(torch.float64).numpy() if return_probes else None
    return DensityResult(
        nodes=_squeeze(nodes, batched),
        weights=_squeeze(weights, batched),
        grid=_squeeze(np.stack(grids), batched),
        density=_squeeze(np.stack(dens), batched),
        sigma=_scalar(sig, batched),
        runs=runs,
        steps=steps_eff,
        steps_used=_squeeze(used, batched),
        probe_vectors=None if probe_np is None else _squeeze(probe_np, batched),
        distribution=distribution,
        hvps=op.hvps,
        provenance=make_provenance(
            "curvature.spectral_density",
            {"runs": runs, "steps": steps_eff, "sigma": sigma, "sigma_rel": sigma_rel},
            seed=seed,
            dtype=theta.dtype,
            device=theta.device,
        ),
        **_meta(theta, seed),
    )


# --------------------------------------------------------------------------------------------
# flat functions of modules and network batches
# --------------------------------------------------------------------------------------------


class FlatFunction:
    """``f(theta) = loss_fn(module(x; theta), y)`` with the module's parameters flattened.

    ``theta`` is the concatenation of ``p.reshape(-1)`` over ``module.named_parameters()``;
    calling evaluates the module functionally (``torch.func.functional_call``), so the module's
    parameters are never modified (buffers are used as they are: put modules with batch norm in
    ``eval()`` mode, or their running statistics change at every call). Unpacks as
    ``f, theta = flat_function(...)``.

    Attributes:
        theta: the module's current parameters, flattened (detached copy).
        names, shapes: parameter names and shapes, in order.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        x: torch.Tensor,
        y: torch.Tensor,
    ) -> None:
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        named = [(n, p) for n, p in module.named_parameters()]
        if not named:
            raise ValueError("module has no parameters")
        dtypes = {p.dtype for _, p in named}
        if len(dtypes) != 1:
            raise ValueError(
                f"module parameters must share one dtype, got {sorted(map(str, dtypes))}"
            )
        self.module = module
        self.loss_fn = loss_fn
        self.x = x
        self.y = y
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.numels = [p.numel() for _, p in named]
        self.buffers = dict(module.named_buffers())
        self.theta = torch.cat([p.detach().reshape(-1) for _, p in named]).clone()

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``{name: tensor}`` views of the flat ``theta``."""
        if theta.ndim != 1 or theta.shape[0] != self.theta.shape[0]:
            raise ValueError(
                f"theta must have shape ({self.theta.shape[0]},), got {tuple(theta.shape)}"
            )
        parts = torch.split(theta, self.numels)
        return {n: t.reshape(s) for n, t, s in zip(self.names, parts, self.shapes, strict=True)}

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        params: dict[str, torch.Tensor] = dict(self.unflatten(theta))
        params.update(self.buffers)
        out = torch.func.functional_call(self.module, params, (self.x,))
        return self.loss_fn(out, self.y)

    def __iter__(self) -> Iterator[Any]:
        yield self
        yield self.theta


def flat_function(
    module: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
) -> FlatFunction:
    """Return the loss of ``module`` on ``(x, y)`` as a function of its flat parameters.

    Args:
        module: any ``torch.nn.Module`` (parameters of one dtype).
        loss_fn: ``loss_fn(module(x), y) -> scalar``, e.g. ``torch.nn.functional.mse_loss``.
        x, y: data.

    Returns:
        A :class:`FlatFunction` ``f`` with ``f.theta`` the current parameters; use
        ``f, theta = flat_function(...)``.

    >>> net = torch.nn.Linear(2, 1).double()
    >>> f, theta = flat_function(net, torch.nn.functional.mse_loss,
    ...                          torch.ones(4, 2, dtype=torch.float64),
    ...                          torch.zeros(4, 1, dtype=torch.float64))
    >>> tuple(theta.shape), tuple(dense_hessian(f, theta).shape)
    ((3,), (3, 3))
    """
    return FlatFunction(module, loss_fn, x, y)


LOSSES = ("mse", "cross_entropy")


class BatchFlatFunction:
    """Per-network losses of a network batch as a function of ``(count, P)`` parameters.

    ``theta[i]`` is the concatenation of ``p[i].reshape(-1)`` over ``nets.parameters()``; the
    call splits ``theta`` back into ``(count, *shape)`` tensors and evaluates
    ``nets.forward(x, params=...)`` -> ``(count, batch, out)``. Losses per network:
    ``"mse"``: ``mean_{batch, out} (out - y)^2`` (``torch.nn.functional.mse_loss`` per network);
    ``"cross_entropy"``: mean over the batch of the softmax cross-entropy with integer labels
    ``y``; or a callable ``loss(out, y) -> (count,)``. ``y`` is shared ``(batch, ...)`` or per
    network ``(count, batch, ...)``. Unpacks as ``f, theta = flat_function_batch(...)``.
    """

    def __init__(self, nets: Any, x: torch.Tensor, y: torch.Tensor, loss: Any = "mse") -> None:
        if not hasattr(nets, "parameters") or not hasattr(nets, "forward"):
            raise TypeError("nets must provide parameters() and forward(x, params=...)")
        params = list(nets.parameters())
        if not params or not all(isinstance(p, torch.Tensor) and p.ndim >= 1 for p in params):
            raise ValueError("nets.parameters() must be a non-empty list of tensors (count, ...)")
        count = int(params[0].shape[0])
        if any(int(p.shape[0]) != count for p in params):
            raise ValueError(
                f"every parameter tensor needs the leading network dim {count}, got "
                f"{[tuple(p.shape) for p in params]}"
            )
        if not callable(loss):
            loss = check_choice("loss", loss, LOSSES)
        self.nets = nets
        self.x = x
        self.y = y
        self.loss = loss
        self.count = count
        self.shapes = [tuple(p.shape[1:]) for p in params]
        self.numels = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        self.theta = torch.cat([p.detach().reshape(count, -1) for p in params], dim=1).clone()

    def unflatten(self, theta: torch.Tensor) -> list[torch.Tensor]:
        """Return the list of ``(count, *shape)`` parameter tensors of ``theta``."""
        if theta.ndim != 2 or tuple(theta.shape) != tuple(self.theta.shape):
            raise ValueError(
                f"theta must have shape {tuple(self.theta.shape)}, got {tuple(theta.shape)}"
            )
        parts = torch.split(theta, self.numels, dim=1)
        return [t.reshape((self.count, *s)) for t, s in zip(parts, self.shapes, strict=True)]

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        out = self.nets.forward(self.x, params=self.unflatten(theta))
        if callable(self.loss):
            return self.loss(out, self.y)  # type: ignore[no-any-return]
        if self.loss == "mse":
            diff = out - self.y
            return (diff * diff).reshape(self.count, -1).mean(dim=1)
        labels = self.y
        if labels.ndim == 1:
            labels = labels.expand(self.count, labels.shape[0])
        ce = torch.nn.functional.cross_entropy(
            out.reshape(-1, out.shape[-1]), labels.reshape(-1), reduction="none"
        )
        return ce.reshape(self.count, -1).mean(dim=1)

    def __iter__(self) -> Iterator[Any]:
        yield self
        yield self.theta


def flat_function_batch(nets: Any, x: torch.Tensor, y: torch.Tensor, loss: Any = "mse") -> Any:
    """Return ``f: (count, P) -> (count,)``, the per-network loss of a network batch.

    Args:
        nets: network batch with ``parameters()`` (list of ``(count, ...)`` tensors) and
            ``forward(x, params=list) -> (count, batch, out)``.
        x: inputs passed to ``nets.forward``.
        y: targets (``(batch, out)`` shared or ``(count, batch, out)``; integer labels for
            cross-entropy).
        loss: ``"mse"``, ``"cross_entropy"`` or a callable ``(out, y) -> (count,)``.

    Returns:
        A :class:`BatchFlatFunction`; ``f, theta = flat_function_batch(...)``.
    """
    return BatchFlatFunction(nets, x, y, loss)
