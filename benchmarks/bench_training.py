"""Benchmarks for batched training and gradient-confusion statistics.

Run ``python -m benchmarks.bench_training [--quick]``; prints a markdown table.

1. Training 1,000 neural chains of depth 20 for 1,000 SGD steps: batched
   (:func:`flatstart.montecarlo.training.train`, all chains in one tensor program) vs a Python loop
   of ``nn.Module`` chains (``NetworkBatch.to_module``) with ``torch.optim.SGD``; the loop is timed
   on a subset and extrapolated linearly in the number of networks (target ≥ 50×).
2. Confusion statistics for a 256-sample batch on an MLP with ~10⁵ parameters: the layer-wise
   Gram route (:func:`flatstart.montecarlo.per_sample.per_sample_gram`) vs materialized per-sample
   gradients (``torch.func`` vjp/vmap) + matmul, each followed by
   :func:`flatstart.montecarlo.confusion.confusion_stats`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from flatstart.montecarlo.confusion import confusion_stats
from flatstart.montecarlo.networks import chains, mlps
from flatstart.montecarlo.per_sample import (
    gram_from_gradients,
    per_sample_gradients,
    per_sample_gram,
)
from flatstart.montecarlo.training import train


def _time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_chains(count: int, depth: int, steps: int, loop_subset: int, repeats: int) -> dict:
    nets = chains(count, depth, init="xavier_normal", seed=0)
    x = torch.ones(1, 1, dtype=torch.float64)
    y = torch.ones(1, 1, dtype=torch.float64)
    batched = _time(lambda: train(nets, (x, y), "sgd", 1e-3, steps, record_every=steps),
                    repeats)

    def loop() -> None:
        for k in range(loop_subset):
            mod = nets.to_module(k)
            opt = torch.optim.SGD(mod.parameters(), lr=1e-3)
            for _ in range(steps):
                opt.zero_grad()
                loss = (mod(x) - y).pow(2).mean()
                loss.backward()
                opt.step()

    per_net = _time(loop, 1) / loop_subset
    loop_total = per_net * count
    return {"name": f"train {count} chains depth {depth}, {steps} SGD steps",
            "fast": batched, "slow": loop_total,
            "slow_note": f"nn.Module + torch.optim loop, {loop_subset} nets timed, x{count}"}


def bench_confusion(width: int, depth: int, batch: int, repeats: int) -> dict:
    nets = mlps(1, width, depth, input_dim=width, output_dim=1, seed=0)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, width, generator=gen, dtype=torch.float64)
    y = torch.randn(batch, 1, generator=gen, dtype=torch.float64)
    p = nets.parameter_count
    gram_t = _time(lambda: confusion_stats(per_sample_gram(nets, x, y, "mse")), repeats)
    grads_t = _time(
        lambda: confusion_stats(gram_from_gradients(per_sample_gradients(nets, x, y, "mse"))),
        repeats)
    k1 = per_sample_gram(nets, x, y, "mse")
    k2 = gram_from_gradients(per_sample_gradients(nets, x, y, "mse"))
    err = float((k1 - k2).abs().max() / k2.abs().max())
    return {"name": f"confusion stats, N={batch}, MLP {p} params", "fast": gram_t,
            "slow": grads_t, "slow_note": f"per-sample grads + matmul (max rel diff {err:.1e})"}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller run (under ~2 minutes)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: robust on shared 2-core machines)")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    if args.quick:
        rows = [bench_chains(1000, 20, 1000, loop_subset=2, repeats=1),
                bench_confusion(128, 7, 256, repeats=2)]
    else:
        rows = [bench_chains(1000, 20, 1000, loop_subset=10, repeats=3),
                bench_confusion(128, 7, 256, repeats=5)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), float64, CPU\n")
    print("| benchmark | batched / Gram (s) | reference (s) | speed-up | reference |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['fast']:.3f} | {r['slow']:.3f} | {r['slow'] / r['fast']:.0f}x "
              f"| {r['slow_note']} |")


if __name__ == "__main__":
    main()
