"""Benchmark: any torch network batched with ``torch.func`` vs a Python loop over the copies.

Run ``python -m benchmarks.bench_modules [--quick] [--networks CNN ...] [--repeats R]``; prints a
markdown table.

For 1,000 copies of three small networks built from plain ``torch.nn`` (a CNN: conv + ReLU +
pooling; a residual MLP with layer norm; a one-block transformer: multi-head attention + MLP),
each quantity is computed by :mod:`flatstart.montecarlo.modules` on all copies at once
(``stack_module_state`` + ``vmap(functional_call)``, one backward pass of the summed losses)
and by the naive way: a loop over the 1,000 ``nn.Module`` copies with plain autograd
(``torch.autograd.functional.hessian`` for Hessians). The loop is timed on a subset of the
copies and extrapolated linearly in their number. Every time is the best (minimum) of several
runs, the batched one of ``--repeats``, the loop of up to 3 (1 for the Hessian loop, which takes
seconds to minutes): on a shared machine the minimum is the least disturbed run. Target: ≥ 10x.
Building the copies (the factory called 1,000 times, then stacked) is reported apart; both ways
need it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from flatstart.montecarlo import modules as M


class SmallCNN(nn.Module):
    """conv 3x3 (4 channels) + ReLU + 2x2 average pooling + linear readout: (1, 6, 6) -> 1."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.head = nn.Linear(4 * 3 * 3, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.pool(torch.relu(self.conv(x))).flatten(1))


class ResidualLN(nn.Module):
    """Two residual blocks x + tanh(W LN(x)) of width 8 and a linear readout: 8 -> 1."""

    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.Tanh()) for _ in range(2)])
        self.out = nn.Linear(d, 1)

    def forward(self, x: Tensor) -> Tensor:
        for b in self.blocks:
            x = x + b(x)
        return self.out(x)


class Transformer(nn.Module):
    """One pre-norm block, d = 4, 2 heads, MLP 4 -> 8 -> 4, mean-pooled readout: (4, 4) -> 1."""

    def __init__(self, d: int = 4) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.out = nn.Linear(d, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, need_weights=False)
        x = x + a
        return self.out((x + self.mlp(self.ln2(x))).mean(dim=1))


NETWORKS: dict[str, tuple[Callable[[int], nn.Module], tuple[int, ...]]] = {
    "CNN": (lambda s: SmallCNN(), (1, 6, 6)),
    "residual MLP + LN": (lambda s: ResidualLN(), (8,)),
    "transformer block": (lambda s: Transformer(), (4, 4)),
}


def _time(fn: Callable[[], object], repeats: int) -> float:
    """Best (minimum) wall time of ``repeats`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _loss(net: nn.Module, x: Tensor, y: float) -> Tensor:
    out = net(x).reshape(x.shape[0], -1)
    return 0.5 * (out - y).square().sum(-1).mean()


def bench_network(name: str, count: int, subset: int, hess_subset: int, repeats: int,
                  batch: int, loop_repeats: int = 1) -> list[dict]:
    factory, shape = NETWORKS[name]
    t0 = time.perf_counter()
    mb = M.build_modules(factory, count, seed=0, input_shape=shape)
    build = time.perf_counter() - t0
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64)
    nets = [mb.module(i) for i in range(subset)]
    scale = count / subset

    def loop_outputs() -> None:
        with torch.no_grad(), M._math_attention():
            for net in nets:
                net(x)

    def loop_gradients() -> None:
        with M._math_attention():
            for net in nets:
                torch.autograd.grad(_loss(net, x, 1.0), list(net.parameters()))

    def loop_gram() -> None:
        with M._math_attention():
            for net in nets:
                ps = list(net.parameters())
                out = net(x).reshape(batch, -1)
                rows = []
                for i in range(batch):
                    g = torch.autograd.grad(0.5 * (out[i] - 1.0).square().sum(), ps,
                                            retain_graph=True)
                    rows.append(torch.cat([t.reshape(-1) for t in g]))
                gm = torch.stack(rows)
                gm @ gm.T

    hsub = mb.select(list(range(hess_subset)))
    rows = []
    p = mb.parameter_count
    label = f"{name} (P = {p}), {count} nets"
    for what, fast, slow, k in [
        ("output", lambda: M.outputs(mb, x), loop_outputs, scale),
        ("gradient_norm", lambda: M.gradients(mb, x, 1.0), loop_gradients, scale),
        (f"gradient_cosine ({batch}x{batch} Gram)", lambda: M.per_sample_gram(mb, x, 1.0),
         loop_gram, scale),
        ("hessian_trace (dense)", lambda: M.hessians(mb, x, 1.0),
         lambda: M.hessians_reference(hsub, x, 1.0), count / hess_subset),
    ]:
        hess = "hessian" in what
        if not hess:  # warm-up: first calls pay for lazy initialization (Hessians take seconds)
            fast(), slow()
        fast_t = _time(fast, repeats)
        slow_t = _time(slow, 1 if hess else loop_repeats) * k
        rows.append({"name": f"{label}: {what}", "fast": fast_t, "slow": slow_t,
                     "note": f"loop timed on {hess_subset if hess else subset} nets, x{count}; "
                             f"build {build:.2f} s"})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller loop subsets (~1 minute)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: robust on shared 2-core machines)")
    ap.add_argument("--networks", nargs="+", choices=list(NETWORKS), default=list(NETWORKS),
                    metavar="NAME", help=f"networks to time (default all: {list(NETWORKS)})")
    ap.add_argument("--repeats", type=int, default=None,
                    help="runs of each batched computation, the best reported (default 5, "
                         "2 with --quick); loops: the best of min(repeats, 3), Hessian loops 1")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    subset, hess_subset, repeats = (50, 5, 2) if args.quick else (200, 20, 5)
    if args.repeats is not None:
        if args.repeats < 1:
            ap.error(f"--repeats must be >= 1, got {args.repeats}")
        repeats = args.repeats
    rows: list[dict] = []
    for name in args.networks:
        rows += bench_network(name, 1000, subset, hess_subset, repeats, batch=4,
                              loop_repeats=min(repeats, 3))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), float64, CPU, "
          f"inputs: batch of 4, best of {repeats} batched / {min(repeats, 3)} loop runs "
          "(Hessian loops: 1)\n")
    print("| benchmark | batched (s) | loop (s) | speed-up | loop |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['fast']:.4f} | {r['slow']:.3f} | {r['slow'] / r['fast']:.0f}x "
              f"| {r['note']} |")


if __name__ == "__main__":
    main()
