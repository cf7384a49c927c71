"""Extreme Hessian eigenvalues: Lanczos with full reorthogonalization, ARPACK, power iteration.

:func:`extreme_eigenvalues` Lanczos (``method="lanczos"``) vs ARPACK (``method="eigsh"``) vs
``torch.linalg.eigvalsh`` of the dense Hessian (the tests); baseline :func:`power_iteration`
(PyHessian style). Shapes and conventions: :mod:`flatstart.montecarlo.curvature`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_choice, check_int, check_positive
from flatstart.montecarlo.curvature._common import (
    LossFunction,
    check_f,
    check_seed,
    check_theta,
    generator,
    random_vectors,
    result_meta,
    scalar,
    squeeze,
)
from flatstart.montecarlo.curvature.lanczos import (
    all_ritz,
    lanczos,
    needed_steps,
    select_indices,
)
from flatstart.montecarlo.curvature.operator import OPERATOR_METHODS, HessianOperator
from flatstart.montecarlo.provenance import make_provenance

__all__ = [
    "WHICH",
    "EigenResult",
    "PowerResult",
    "extreme_eigenvalues",
    "power_iteration",
]

WHICH = ("both", "largest", "smallest")


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
    f = check_f(f)
    theta = check_theta(theta)
    dim = int(theta.shape[-1])
    k = check_int("k", k, minimum=1, maximum=dim)
    which = check_choice("which", which, WHICH)
    seed = check_seed(seed)
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
    meta = result_meta(theta, seed)
    prov = make_provenance(
        "curvature.extreme_eigenvalues", params, seed=seed, dtype=theta.dtype, device=theta.device
    )
    if method == "eigsh":
        return _eigsh(op, theta, k, which, seed, tol, max_iter, return_vectors, meta, prov)

    gen = generator(seed)
    v0 = random_vectors((op.count, dim), gen, "gaussian", theta)

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
        values=squeeze(values, batched),
        vectors=squeeze(np.stack(vecs), batched) if return_vectors else None,
        residuals=squeeze(residuals, batched),
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
    f = check_f(f)
    theta = check_theta(theta)
    iters = check_int("iters", iters, minimum=1)
    seed = check_seed(seed)
    op = HessianOperator(f, theta, method=check_choice("hvp_method", hvp_method, OPERATOR_METHODS))
    gen = generator(seed)
    v = random_vectors((op.count, op.dim), gen, "gaussian", theta)
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
        value=scalar(history[:, -1], batched),
        history=squeeze(history, batched),
        vector=squeeze(v.detach().cpu().to(torch.float64).numpy(), batched),
        hvps=op.hvps,
        provenance=make_provenance(
            "curvature.power_iteration",
            {"iters": iters},
            seed=seed,
            dtype=theta.dtype,
            device=theta.device,
        ),
        **result_meta(theta, seed),
    )
