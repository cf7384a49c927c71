"""Curvature benchmarks: HVP cost, Lanczos vs power iteration, a PyHessian baseline, batching.

Run ``python -m benchmarks.bench_curvature [--quick]``; prints markdown tables. Every ratio is
measured side by side in one run (interleaved repetitions, medians).

Sections:

1. HVP cost / gradient cost on a ~120k-parameter float64 MLP: cached double-backward graph,
   uncached reverse-over-reverse, ``jvp(grad)`` (forward over reverse), and 100 vectors batched
   through the cached graph (``is_grads_batched``). Targets (the design's): one HVP <= 2
   gradients, <= 1.5 per vector batched. Anchors: 1.7 / 4.7 / 1.4.
2. Lanczos vs 20-step power iteration for the top eigenvalue: HVPs Lanczos needs for 1e-8
   relative accuracy vs the relative error power iteration reaches after 20 HVPs and the HVPs it
   needs for 1e-5.
3. A local **re-implementation** of PyHessian's algorithms (``pyhessian`` is not installed here;
   the code below follows PyHessian 0.1's ``hessian.eigenvalues``, ``hessian.trace``,
   ``hessian.density`` and ``density_plot.density_generate`` with their defaults) against
   :mod:`flatstart.montecarlo.curvature` on the same model.
4. Batched over many small networks vs a Python loop over single-network calls.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from flatstart.montecarlo import curvature
from flatstart.montecarlo.curvature.lanczos import lanczos, ritz

DT = torch.float64

#: The clock of every measurement: CPU time of this process when torch runs single-threaded
#: (robust on a shared machine: other processes' load does not count), else wall time.
_CLOCK: Callable[[], float] = time.perf_counter


def clock() -> float:
    return _CLOCK()


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((out - y) ** 2).mean()


def mlp_problem(batch: int, seed: int = 0) -> tuple[curvature.FlatFunction, torch.Tensor]:
    """A 64-256-256-144-10 tanh MLP (120,890 parameters), MSE on Gaussian data, float64."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(64, 256),
        torch.nn.Tanh(),
        torch.nn.Linear(256, 256),
        torch.nn.Tanh(),
        torch.nn.Linear(256, 144),
        torch.nn.Tanh(),
        torch.nn.Linear(144, 10),
    ).to(DT)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, 64, generator=g, dtype=DT)
    y = torch.randn(batch, 10, generator=g, dtype=DT)
    f = curvature.flat_function(net, _mse, x, y)
    return f, f.theta


def side_by_side(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of each function; repetitions interleaved in a shuffled order per round
    (seeded), one warm-up each, so that load changes on a shared machine hit all alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    rng = np.random.default_rng(0)
    names = list(fns)
    for _ in range(repeats):
        for name in rng.permutation(names):
            fn = fns[name]
            t0 = clock()
            fn()
            times[name].append(clock() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = clock()
    out = fn()
    return out, clock() - t0


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# 1. HVP cost
# --------------------------------------------------------------------------------------------


def bench_hvp(quick: bool) -> str:
    batch = 64 if quick else 256
    f, theta = mlp_problem(batch)
    p = theta.numel()
    g = torch.Generator().manual_seed(0)
    v = torch.randn(p, generator=g, dtype=DT)
    nvec = 100
    vs = torch.randn(p, nvec, generator=g, dtype=DT)
    op = curvature.hvp_operator(f, theta)
    op_vmap = curvature.hvp_operator(f, theta, vectors="vmap")
    op_loop = curvature.hvp_operator(f, theta, vectors="loop")

    def gradient() -> torch.Tensor:
        leaf = theta.detach().requires_grad_(True)
        (gr,) = torch.autograd.grad(f(leaf), leaf)
        return gr

    fns: dict[str, Callable[[], Any]] = {
        "gradient": gradient,
        "build cached graph": lambda: curvature.hvp_operator(f, theta),
        "cached double-backward": lambda: op.matvec(v),
        "rev_rev uncached": lambda: curvature.hvp(f, theta, v, method="rev_rev"),
        "jvp(grad) fwd_rev": lambda: curvature.hvp(f, theta, v, method="fwd_rev"),
        f"batched {nvec} vectors, vmap (is_grads_batched)": lambda: op_vmap.matmat(vs),
        f"batched {nvec} vectors, loop on cached graph": lambda: op_loop.matmat(vs),
    }
    t = side_by_side(fns, repeats=5 if quick else 21)
    tg = t["gradient"]
    per = {k: (t[k] / nvec if k.startswith("batched") else t[k]) for k in t}
    targets = {
        "cached double-backward": "<= 2 (anchor 1.7)",
        "jvp(grad) fwd_rev": "(anchor 4.7)",
        f"batched {nvec} vectors, vmap (is_grads_batched)": "<= 1.5 per vector (anchor 1.4)",
        f"batched {nvec} vectors, loop on cached graph": "<= 1.5 per vector",
    }
    rows = [[k, f"{per[k] * 1e3:.2f}", f"{per[k] / tg:.2f}", targets.get(k, "")] for k in fns]
    # correctness of the fast paths against each other
    ref = curvature.hvp(f, theta, v, method="fwd_rev")
    err = float((op.matvec(v) - ref).norm() / ref.norm())
    errb = float((op_vmap.matmat(vs[:, :3])[:, 0] - op.matvec(vs[:, 0])).norm() / ref.norm())
    return (
        f"### 1. HVP cost / gradient cost (MLP 64-256-256-144-10 tanh, P = {p:,}, batch {batch},"
        f" float64, {torch.get_num_threads()} threads)\n\n"
        + table(["method", "ms per HVP", "× gradient", "target"], rows)
        + f"\n\ncached vs jvp(grad): relative difference {err:.1e}; batched vs single column:"
        f" {errb:.1e}. ``build cached graph`` is paid once per theta. `matmat` default"
        f" (vectors='auto') on this device: {'vmap' if op._batch_ok else 'loop'}.\n"
    )


# --------------------------------------------------------------------------------------------
# 2. Lanczos vs power iteration; 3. PyHessian re-implementation
# --------------------------------------------------------------------------------------------


class PyHessianBaseline:
    """Re-implementation of PyHessian's algorithms on a flat parameter vector.

    Follows PyHessian (Yao et al. 2020, github.com/amirgholami/PyHessian, ``pyhessian/
    hessian.py`` and ``density_plot.py``): the gradient graph is built once
    (``create_graph=True``) and HVPs are ``torch.autograd.grad(gradsH, params, v,
    retain_graph=True)``; randomness from the global torch RNG. This is NOT the pyhessian
    package (not installed here), only its algorithms with their default arguments.
    """

    def __init__(self, f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor) -> None:
        self.params = theta.detach().clone().requires_grad_(True)
        loss = f(self.params)
        (self.gradsH,) = torch.autograd.grad(loss, self.params, create_graph=True)
        self.hvps = 0

    def hv(self, v: torch.Tensor) -> torch.Tensor:
        self.hvps += 1
        (out,) = torch.autograd.grad(self.gradsH, self.params, grad_outputs=v, retain_graph=True)
        return out

    @staticmethod
    def _normalization(v: torch.Tensor) -> torch.Tensor:
        return v / (torch.sqrt(v @ v) + 1e-6)  # PyHessian adds 1e-6 to the norm

    @classmethod
    def _orthnormal(cls, w: torch.Tensor, v_list: list[torch.Tensor]) -> torch.Tensor:
        for v in v_list:
            w = w - (w @ v) * v
        return cls._normalization(w)

    def eigenvalues(self, maxIter: int = 100, tol: float = 1e-3) -> tuple[float, int]:  # noqa: N803
        """PyHessian ``eigenvalues(maxIter=100, tol=1e-3, top_n=1)``: power iteration."""
        v = self._normalization(torch.randn_like(self.params))
        eigenvalue: float | None = None
        its = 0
        for _ in range(maxIter):
            its += 1
            hv = self.hv(v)
            tmp = float(hv @ v)
            v = self._normalization(hv)
            if eigenvalue is None:
                eigenvalue = tmp
            elif abs(eigenvalue - tmp) / (abs(eigenvalue) + 1e-6) < tol:
                break
            else:
                eigenvalue = tmp
        assert eigenvalue is not None
        return eigenvalue, its

    def trace(self, maxIter: int = 100, tol: float = 1e-3) -> list[float]:  # noqa: N803
        """PyHessian ``trace(maxIter=100, tol=1e-3)``: Hutchinson with a relative stop."""
        trace_vhv: list[float] = []
        trace = 0.0
        for _ in range(maxIter):
            v = torch.randint_like(self.params, high=2)
            v[v == 0] = -1
            trace_vhv.append(float(self.hv(v) @ v))
            if abs(np.mean(trace_vhv) - trace) / (abs(trace) + 1e-6) < tol:
                return trace_vhv
            trace = float(np.mean(trace_vhv))
        return trace_vhv

    def density(self, iter: int = 100, n_v: int = 1) -> tuple[list[Any], list[Any]]:  # noqa: A002
        """PyHessian ``density(iter=100, n_v=1)``: SLQ with one Gram-Schmidt pass."""
        eigen_full, weight_full = [], []
        for _ in range(n_v):
            v = torch.randint_like(self.params, high=2)
            v[v == 0] = -1
            v = self._normalization(v)
            v_list = [v]
            alpha_list: list[float] = []
            beta_list: list[float] = []
            w = torch.zeros_like(v)
            for i in range(iter):
                if i == 0:
                    w_prime = self.hv(v)
                    alpha = w_prime @ v
                    alpha_list.append(float(alpha))
                    w = w_prime - alpha * v
                else:
                    beta = torch.sqrt(w @ w)
                    beta_list.append(float(beta))
                    if beta_list[-1] != 0.0:
                        v = self._orthnormal(w, v_list)
                    else:
                        v = self._orthnormal(torch.randn_like(w), v_list)
                    v_list.append(v)
                    w_prime = self.hv(v)
                    alpha = w_prime @ v
                    alpha_list.append(float(alpha))
                    w = w_prime - alpha * v - beta * v_list[-2]
            t = torch.zeros(iter, iter, dtype=torch.float64)
            for i in range(len(alpha_list)):
                t[i, i] = alpha_list[i]
                if i < len(alpha_list) - 1:
                    t[i + 1, i] = beta_list[i]
                    t[i, i + 1] = beta_list[i]
            a_, b_ = torch.linalg.eigh(t)  # PyHessian: torch.eig(T, eigenvectors=True)
            eigen_full.append(list(a_.numpy()))
            weight_full.append(list((b_[0, :] ** 2).numpy()))
        return eigen_full, weight_full

    @staticmethod
    def density_generate(
        eigenvalues: list[Any],
        weights: list[Any],
        num_bins: int = 10000,
        sigma_squared: float = 1e-5,
        overhead: float = 0.01,
    ) -> tuple[np.ndarray, np.ndarray]:
        """PyHessian ``density_plot.density_generate`` (loops over bins as in the original)."""
        eig = np.array(eigenvalues)
        wts = np.array(weights)
        lambda_max = np.mean(np.max(eig, axis=1), axis=0) + overhead
        lambda_min = np.mean(np.min(eig, axis=1), axis=0) - overhead
        grids = np.linspace(lambda_min, lambda_max, num=num_bins)
        sigma = sigma_squared * max(1, (lambda_max - lambda_min))
        num_runs = eig.shape[0]
        density_output = np.zeros((num_runs, num_bins))
        for i in range(num_runs):
            for j in range(num_bins):
                x = grids[j]
                tmp = np.exp(-((x - eig[i, :]) ** 2) / (2.0 * sigma)) / np.sqrt(2 * np.pi * sigma)
                density_output[i, j] = np.sum(tmp * wts[i, :])
        density = np.mean(density_output, axis=0)
        normalization = np.sum(density) * (grids[1] - grids[0])
        return density / normalization, grids


def bench_eigen(quick: bool) -> tuple[str, tuple[Any, torch.Tensor, float, Any]]:
    batch = 64 if quick else 256
    f, theta = mlp_problem(batch, seed=1)
    p = theta.numel()
    op = curvature.hvp_operator(f, theta)
    ref_steps = 60 if quick else 200

    # reference run: fixed-length Lanczos; top Ritz value of every prefix T_m
    def apply(x: torch.Tensor) -> torch.Tensor:
        return op.apply_rows(x[:, None, :])[:, 0, :]

    v0 = torch.randn(1, p, generator=torch.Generator().manual_seed(123), dtype=DT)
    run, t_ref = timed(lambda: lanczos(apply, v0, ref_steps))
    m_tot = int(run.lengths[0])
    tops = []
    for m in range(1, m_tot + 1):
        th, _ = ritz(run.alpha[0, :m], run.beta[0, :m])
        tops.append(float(th[-1]))
    th, s = ritz(run.alpha[0, :m_tot], run.beta[0, :m_tot])
    lam_ref = float(th[-1])
    lam_min = float(th[0])
    ref_res = abs(float(run.beta[0, m_tot - 1]) * float(s[-1, -1]))
    rel_lz = [abs(t - lam_ref) / abs(lam_ref) for t in tops]
    m8 = next((i + 1 for i, e in enumerate(rel_lz) if e <= 1e-8), None)
    m5 = next((i + 1 for i, e in enumerate(rel_lz) if e <= 1e-5), None)

    # production stopping rule, from the package's own seed
    res, t_lz = timed(
        lambda: curvature.extreme_eigenvalues(f, theta, k=1, which="largest", tol=1e-8)
    )
    err_lz = abs(float(res.values[-1]) - lam_ref) / abs(lam_ref)

    cap = 200 if quick else 1000
    pw, t_pw_all = timed(lambda: curvature.power_iteration(f, theta, iters=cap))
    rel_pw = np.abs(pw.history - lam_ref) / abs(lam_ref)
    err20 = float(rel_pw[19])
    n5 = next((i + 1 for i, e in enumerate(rel_pw) if e <= 1e-5), None)
    t_pw20 = t_pw_all * 20 / cap

    torch.manual_seed(0)
    pyh = PyHessianBaseline(f, theta)
    (pyh_val, pyh_its), t_pyh = timed(lambda: pyh.eigenvalues())
    err_pyh = abs(pyh_val - lam_ref) / abs(lam_ref)

    rows = [
        ["Lanczos (prefix of the reference run)", m8, "1e-8 reached", ""],
        [
            "Lanczos, `extreme_eigenvalues(tol=1e-8)` stopping rule",
            res.hvps,
            f"{err_lz:.1e}",
            f"{t_lz:.2f}",
        ],
        ["power iteration, 20 HVPs", 20, f"{err20:.1e}", f"{t_pw20:.2f}"],
        ["power iteration to 1e-5", n5 if n5 is not None else f"> {cap}", "1e-5 reached", ""],
        ["Lanczos to 1e-5 (prefix)", m5, "1e-5 reached", ""],
        [
            "PyHessian `eigenvalues()` re-impl. (maxIter=100, tol=1e-3)",
            pyh_its,
            f"{err_pyh:.1e}",
            f"{t_pyh:.2f}",
        ],
    ]
    out = (
        f"### 2. Top Hessian eigenvalue: Lanczos vs power iteration (same MLP, batch {batch})\n\n"
        f"Reference: {m_tot}-step Lanczos with full reorthogonalization, lambda_max = "
        f"{lam_ref:.12g} (Ritz residual {ref_res:.1e}), lambda_min = {lam_min:.6g} "
        f"(so power iteration targets lambda_max: |lambda_max| > |lambda_min| is "
        f"{abs(lam_ref) > abs(lam_min)}). One cached HVP ≈ {t_ref / m_tot * 1e3:.1f} ms here.\n\n"
        + table(["method", "HVPs", "relative error", "seconds"], rows)
        + "\n"
    )
    return out, (f, theta, lam_ref, pyh)


def bench_pyhessian(quick: bool, f: Any, theta: torch.Tensor, lam_ref: float, pyh: Any) -> str:
    rows = []
    # trace
    torch.manual_seed(1)
    pyh.hvps = 0
    samples, t_ptr = timed(lambda: pyh.trace())
    n_pyh = len(samples)
    pyh_tr = float(np.mean(samples))
    pyh_se = float(np.std(samples, ddof=1) / math.sqrt(n_pyh)) if n_pyh > 1 else math.inf
    ours, t_tr = timed(lambda: curvature.hutchinson_trace(f, theta, probes=n_pyh, seed=1))
    ours100, t_tr100 = timed(lambda: curvature.hutchinson_trace(f, theta, probes=100, seed=2))
    rows.append(
        [
            "trace, PyHessian re-impl. (maxIter=100, tol=1e-3)",
            n_pyh,
            f"{pyh_tr:.6g} ± {pyh_se:.2g}",
            f"{t_ptr:.2f}",
        ]
    )
    rows.append(
        [
            f"trace, `hutchinson_trace(probes={n_pyh})` (batched)",
            ours.hvps,
            f"{ours.estimate:.6g} ± {ours.stderr:.2g}",
            f"{t_tr:.2f}",
        ]
    )
    rows.append(
        [
            "trace, `hutchinson_trace(probes=100)`",
            ours100.hvps,
            f"{ours100.estimate:.6g} ± {ours100.stderr:.2g}",
            f"{t_tr100:.2f}",
        ]
    )
    # density
    steps = 60 if quick else 100
    torch.manual_seed(2)
    (eigs, wts), t_pl = timed(lambda: pyh.density(iter=steps, n_v=1))
    (dens, grid), t_pg = timed(lambda: pyh.density_generate(eigs, wts))
    ours_d, t_d = timed(
        lambda: curvature.spectral_density(f, theta, runs=1, steps=steps, seed=3, grid_points=10000)
    )
    top_p = abs(max(eigs[0]) - lam_ref) / abs(lam_ref)
    top_o = abs(float(ours_d.nodes.max()) - lam_ref) / abs(lam_ref)
    ghost_p = int(np.sum(np.abs(np.array(eigs[0]) - lam_ref) < 1e-6 * abs(lam_ref)))
    ghost_o = int(np.sum(np.abs(ours_d.nodes - lam_ref) < 1e-6 * abs(lam_ref)))
    rows.append(
        [
            f"density, PyHessian re-impl. (iter={steps}, n_v=1): Lanczos",
            steps,
            f"top node err {top_p:.1e}, copies of λmax {ghost_p}",
            f"{t_pl:.2f}",
        ]
    )
    rows.append(
        [
            "density, PyHessian `density_generate` (10000 bins, loop)",
            0,
            f"∫ = {np.trapezoid(dens, grid):.6f}",
            f"{t_pg:.2f}",
        ]
    )
    rows.append(
        [
            f"density, `spectral_density(runs=1, steps={steps}, grid_points=10000)`",
            ours_d.hvps,
            f"top node err {top_o:.1e}, copies of λmax {ghost_o}, "
            f"∫ = {np.trapezoid(ours_d.density, ours_d.grid):.6f}",
            f"{t_d:.2f}",
        ]
    )
    runs, st = (4, 30) if quick else (10, 80)
    dr, t_10 = timed(lambda: curvature.spectral_density(f, theta, runs=runs, steps=st, seed=4))
    rows.append(
        [
            f"density, `spectral_density(runs={runs}, steps={st})` (runs batched)",
            dr.hvps,
            f"tr/P estimate {dr.moment(1):.4g}",
            f"{t_10:.2f}",
        ]
    )
    return (
        "### 3. Against a PyHessian re-implementation (same model; `pyhessian` is not installed,"
        " the baseline re-implements its algorithms with their defaults)\n\n"
        + table(["quantity / method", "HVPs", "result", "seconds"], rows)
        + f"\n\nPyHessian SLQ time = Lanczos {t_pl:.2f} s + density_generate {t_pg:.2f} s = "
        f"{t_pl + t_pg:.2f} s vs ours {t_d:.2f} s (same number of HVPs).\n"
    )


# --------------------------------------------------------------------------------------------
# 4. batched over many small networks
# --------------------------------------------------------------------------------------------


def _small_nets(count: int) -> Any:
    try:
        from flatstart.montecarlo.networks import mlps

        return mlps(
            count=count,
            width=16,
            depth=2,
            activation="tanh",
            init="xavier_normal",
            input_dim=8,
            output_dim=1,
            bias=True,
            seed=0,
        )
    except Exception:  # pragma: no cover - networks.py absent or changed
        return None


def bench_batched(quick: bool) -> str:
    count = 16 if quick else 256
    nets = _small_nets(count)
    if nets is None:
        return ("### 4. Batched over networks\n\n"
                "skipped: flatstart.montecarlo.networks.mlps unavailable\n")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 8, generator=g, dtype=DT)
    y = torch.randn(32, 1, generator=g, dtype=DT)
    fb, theta = curvature.flat_function_batch(nets, x, y)
    p = theta.shape[1]

    singles = []
    for i in range(count):
        fi_b = curvature.flat_function_batch(nets.select([i]), x, y)

        def fi(t: torch.Tensor, fi_b: Any = fi_b) -> torch.Tensor:
            return fi_b(t[None, :])[0]

        singles.append(fi)

    rows = []
    tasks: list[tuple[str, Callable[..., Any]]] = [
        (
            "extreme eigenvalues (k=1, both, tol=1e-10)",
            lambda f, t: curvature.extreme_eigenvalues(f, t, k=1, which="both"),
        ),
        ("Hutchinson trace (50 probes)", lambda f, t: curvature.hutchinson_trace(f, t, probes=50)),
        ("SLQ (runs=4, steps=30)", lambda f, t: curvature.spectral_density(f, t, runs=4, steps=30)),
    ]
    for name, task in tasks:

        def batched(task: Callable[..., Any] = task) -> Any:
            return task(fb, theta)

        def loop(task: Callable[..., Any] = task) -> Any:
            return [task(singles[i], theta[i]) for i in range(count)]

        rb, tb = timed(batched)
        rl, tl = timed(loop)
        if name.startswith("extreme"):
            diff = max(
                float(np.abs(rb.values[i] - rl[i].values).max() / np.abs(rl[i].values).max())
                for i in range(count)
            )
            check = f"max rel. diff {diff:.1e}"
        elif name.startswith("Hutch"):
            d0 = np.abs(rb.samples[0] - rl[0].samples).max() / np.abs(rl[0].samples).max()
            check = f"network 0 (same probes) samples rel. diff {d0:.1e}"
        else:
            check = f"network 0 nodes diff {np.abs(rb.nodes[0] - rl[0].nodes).max():.1e}"
        rows.append([name, f"{tb:.2f}", f"{tl:.2f}", f"{tl / tb:.1f}×", check])
    return (
        f"### 4. Batched over {count} small networks (tanh MLP 8-16-16-1 with biases, P = {p},"
        " `flatstart.montecarlo.networks.mlps`) vs a loop of single-network calls\n\n"
        + table(["task", "batched s", "loop s", "speed-up", "agreement"], rows)
        + "\n"
    )


# --------------------------------------------------------------------------------------------


def main(quick: bool = False, threads: int | None = 1) -> str:
    """Run all curvature benchmarks and return a markdown section.

    With ``threads=1`` (default) torch runs single-threaded and times are CPU seconds of this
    process (``time.process_time``), which other jobs on a shared machine do not inflate; with
    ``threads=None`` torch keeps its thread count and times are wall-clock seconds.
    """
    global _CLOCK
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    _CLOCK = time.process_time if torch.get_num_threads() == 1 else time.perf_counter
    try:
        return _main(quick)
    finally:
        torch.set_num_threads(old_threads)
        _CLOCK = time.perf_counter


def _main(quick: bool) -> str:
    torch.manual_seed(0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    parts = [
        "## Curvature (`flatstart.montecarlo.curvature`)",
        "",
        f"Shared machine: load average {load:.1f} on {os.cpu_count()} cores at the start. torch"
        f" threads: {torch.get_num_threads()}; times are "
        + ("CPU seconds of this process" if _CLOCK is time.process_time else "wall seconds")
        + ". HVP counts and side-by-side ratios are the robust numbers.",
        "",
    ]
    t0 = time.perf_counter()
    parts.append(bench_hvp(quick))
    print(f"[hvp done {time.perf_counter() - t0:.0f}s]", file=sys.stderr, flush=True)
    eig_md, (f, theta, lam_ref, pyh) = bench_eigen(quick)
    parts.append(eig_md)
    print(f"[eigen done {time.perf_counter() - t0:.0f}s]", file=sys.stderr, flush=True)
    parts.append(bench_pyhessian(quick, f, theta, lam_ref, pyh))
    print(f"[pyhessian done {time.perf_counter() - t0:.0f}s]", file=sys.stderr, flush=True)
    parts.append(bench_batched(quick))
    parts.append(f"_total {time.perf_counter() - t0:.0f} s ({'quick' if quick else 'full'})_\n")
    return "\n".join(parts)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (under ~2 minutes)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: CPU-time clock, robust on a shared machine; 0: torch default"
        " threads and wall-clock time)",
    )
    args = parser.parse_args()
    print(main(quick=args.quick, threads=args.threads or None))
