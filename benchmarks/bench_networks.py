"""Benchmarks of batched random networks against the naive ways, measured side by side.

Run ``python -m benchmarks.bench_networks [--quick] [--threads 1]``; prints a markdown table.
Every ratio is measured in the same run (medians of repeats after a warm-up). Times are CPU
time of this process (``time.process_time``: kernel time such as page faults included), so
that other load on a shared machine does not inflate them; with ``--threads 1`` that is also
the single-core time. Module loops are timed on a subset of the networks and extrapolated
linearly to the full count (said in the table).

Rows:
1. 100,000 linear chains of depth 100 (Xavier): forward + all per-layer gradients, batched
   autograd with one ``(count, 1, 1)`` leaf per layer vs a loop of ``nn.Sequential`` chains.
2. 1000 MLPs width 64 depth 50 (ReLU, He, no bias), batch 8, 64 and 256: forward + backward
   (``layer_gradients``), batched vs a loop of ``nn.Sequential`` networks; achieved GFLOP/s
   against this machine's float64 ``torch.matmul`` rate (large square, same dtype and
   threads) measured in the same run. FLOPs per network: ``2·B·Σ_l n_l n_{l−1}`` for the
   forward products, the same for ``∂/∂W_l``, and ``2·B·Σ_{l≥2} n_l n_{l−1}`` for the
   backpropagated signals (the input needs no gradient). The note also gives the "bmm
   ceiling": the rate of the same three batched products alone (into preallocated outputs).
3. Per-sample gradients: ``torch.func.vmap`` vs a Python loop over samples.
4. Per-sample gradient Gram matrix (N = 256): layer-wise identity vs vmap + ``g gᵀ``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from flatstart.montecarlo import derivatives as D
from flatstart.montecarlo import per_sample as PS
from flatstart.montecarlo.networks import chains, mlps

F64 = torch.float64


def median_time(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median CPU time (``time.process_time``) of ``fn()`` in seconds after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    """Best measured float64 ``torch.matmul`` rate (GFLOP/s) on ``n × n`` matrices.

    The fastest of ``repeats`` runs (CPU time): the machine's attainable rate, robust to
    other load.
    """
    g = torch.Generator().manual_seed(0)
    a = torch.randn((n, n), generator=g, dtype=F64)
    b = torch.randn((n, n), generator=g, dtype=F64)
    a @ b
    best = math.inf
    for _ in range(repeats):
        t0 = time.process_time()
        a @ b
        best = min(best, time.process_time() - t0)
    return 2 * n**3 / best / 1e9


def _module_loop(modules: list[torch.nn.Module], x: torch.Tensor) -> None:
    for m in modules:
        out = m(x)
        loss = 0.5 * out.square().mean()
        torch.autograd.grad(loss, list(m.parameters()))


def bench_chains(quick: bool) -> dict[str, Any]:
    count, depth = 100_000, 100
    n_loop = 100 if quick else 1000
    c = chains(count=count, depth=depth, init="xavier_normal", seed=0)
    x = torch.ones(1, 1, dtype=F64)
    t_batched = median_time(lambda: D.layer_gradients(c, x, 0.0), repeats=5 if quick else 11)
    t_full = median_time(lambda: D.chain_gradients(c, 1.0, 0.0), repeats=3 if quick else 7)
    sub = c.select(slice(0, n_loop))
    modules = [sub.to_module(i) for i in range(n_loop)]
    t_loop = median_time(lambda: _module_loop(modules, x), repeats=1 if quick else 3) * (
        count / n_loop
    )
    return {
        "name": f"{count:,} chains depth {depth}: forward + per-layer grads",
        "batched": t_batched,
        "reference": t_loop,
        "note": (f"loop of nn.Sequential chains timed on {n_loop} chains, extrapolated x"
                 f"{count // n_loop}; chain_gradients (numpy (count, depth) df/dw, dl/dw) "
                 f"{t_full:.3f} s"),
    }


def mlp_flops(widths: list[int], batch: int) -> int:
    """FLOPs of forward + backward of one bias-free MLP: forward, ``∂/∂W`` and signals."""
    layer = [a * b for a, b in zip(widths[:-1], widths[1:], strict=True)]
    return 2 * batch * (2 * sum(layer) + sum(layer[1:]))


def bmm_ceiling(count: int, width: int, depth: int, batch: int, repeats: int = 3) -> float:
    """GFLOP/s of the bare batched products of one layer (forward, signal, weight gradient).

    ``x Wᵀ``, ``g W`` and ``gᵀ x`` on ``(count, batch, width)`` blocks with preallocated
    outputs: what ``torch.bmm`` itself attains on these shapes (no autograd, no allocation).
    """
    g = torch.Generator().manual_seed(2)
    w = torch.randn((count, width, width), generator=g, dtype=F64)
    x = torch.randn((count, batch, width), generator=g, dtype=F64)
    d = torch.randn((count, batch, width), generator=g, dtype=F64)
    out_h, out_w = torch.empty_like(x), torch.empty_like(w)

    def layer() -> None:
        for _ in range(depth):
            torch.bmm(x, w.mT, out=out_h)
            torch.bmm(d, w, out=out_h)
            torch.bmm(d.mT, x, out=out_w)

    t = median_time(layer, repeats=repeats)
    return 3 * 2 * batch * width * width * count * depth / t / 1e9


def bench_mlps(quick: bool, peak: float) -> list[dict[str, Any]]:
    count, width, depth = 1000, 64, 50
    n_loop = 10 if quick else 50
    nets = mlps(count=count, width=width, depth=depth, input_dim=width, seed=0)
    sub = nets.select(slice(0, n_loop))
    modules = [sub.to_module(i) for i in range(n_loop)]
    rows = []
    for batch in (8, 64, 256):
        x = torch.randn((batch, width), generator=torch.Generator().manual_seed(1), dtype=F64)
        reps = 1 if batch > 64 and quick else 3
        t_batched = median_time(partial(D.layer_gradients, nets, x, 0.0), repeats=reps)
        rate = mlp_flops(nets.widths, batch) * count / t_batched / 1e9
        ceiling = bmm_ceiling(count, width, depth if not quick else 10, batch, repeats=reps)
        t_loop = median_time(partial(_module_loop, modules, x), repeats=reps) * (count / n_loop)
        rows.append({
            "name": f"{count} MLPs w{width} d{depth} (batch {batch}): forward + backward",
            "batched": t_batched,
            "reference": t_loop,
            "note": (f"{rate:.1f} GFLOP/s = {100 * rate / peak:.0f}% of measured fp64 matmul "
                     f"{peak:.1f} GFLOP/s (bare bmm ceiling {ceiling:.1f} GFLOP/s = "
                     f"{100 * ceiling / peak:.0f}%); loop on {n_loop} nets extrapolated"),
        })
    return rows


def bench_per_sample(quick: bool) -> list[dict[str, Any]]:
    count, width, depth, batch = 1, 64, 4, 256
    nets = mlps(count=count, width=width, depth=depth, input_dim=width, output_dim=1, seed=0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn((batch, width), generator=g, dtype=F64)
    y = torch.randn((batch, 1), generator=g, dtype=F64)
    t_vmap = median_time(lambda: PS.per_sample_gradients(nets, x, y, method="vmap"), repeats=5)
    t_layer = median_time(
        lambda: PS.per_sample_gradients(nets, x, y, method="layerwise"), repeats=5
    )
    t_loop = median_time(lambda: PS.per_sample_gradients_reference(nets, x, y),
                         repeats=3 if quick else 5)
    name = f"per-sample grads: {count} MLP w{width} d{depth}, N={batch}"
    return [
        {"name": name + " (vmap)", "batched": t_vmap, "reference": t_loop,
         "note": "torch.func vmap(grad) vs a Python loop over samples with autograd "
                 "(list outputs)"},
        {"name": name + " (layerwise)", "batched": t_layer, "reference": t_loop,
         "note": "δ_i a_iᵀ from one backward pass vs the same loop"},
    ]


def bench_gram(quick: bool) -> dict[str, Any]:
    count, width, depth, batch = (1 if quick else 4), 128, 4, 256
    nets = mlps(count=count, width=width, depth=depth, input_dim=64, output_dim=1, seed=0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn((batch, 64), generator=g, dtype=F64)
    y = torch.randn((batch, 1), generator=g, dtype=F64)
    t_fast = median_time(lambda: PS.per_sample_gram(nets, x, y), repeats=7)
    t_ref = median_time(lambda: PS.per_sample_gram_reference(nets, x, y), repeats=3)
    ref = PS.per_sample_gram_reference(nets, x, y)
    err = ((PS.per_sample_gram(nets, x, y) - ref).abs().max() / ref.abs().max()).item()
    return {
        "name": f"per-sample Gram: {count} MLP(s) in64 w{width} d{depth}, N={batch}, "
                f"P={nets.parameter_count:,}",
        "batched": t_fast,
        "reference": t_ref,
        "note": f"layer-wise A Aᵀ ⊙ D Dᵀ vs vmap per-sample grads + g gᵀ; max rel. diff {err:.1e}",
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run all benchmarks and print a markdown table; returns the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (< 2 minutes)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n_mm = 1024 if args.quick else 2048
    peak = max(matmul_rate(n_mm), matmul_rate(n_mm))
    rows = [
        bench_chains(args.quick),
        *bench_mlps(args.quick, peak),
        *bench_per_sample(args.quick),
        bench_gram(args.quick),
    ]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"fp64 matmul {peak:.1f} GFLOP/s, {'quick' if args.quick else 'full'} mode\n")
    print("| benchmark | batched (s) | naive (s) | speed-up | notes |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['name']} | {r['batched']:.4f} | {r['reference']:.3f} | "
              f"{r['reference'] / r['batched']:.0f}x | {r['note']} |")
    return rows


if __name__ == "__main__":
    main()
