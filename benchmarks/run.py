"""Run every benchmark and write ``benchmarks/RESULTS.md``.

Usage::

    python -m benchmarks.run            # full
    python -m benchmarks.run --quick    # a few minutes on 2 cores

Each ``benchmarks/bench_*.py`` module is runnable on its own (``python -m benchmarks.bench_x
[--quick]``) and prints a markdown section (tables with the measured ratios against the naive way
and the design's anchors). This driver runs each in a fresh process (one torch thread
unless ``--threads`` says otherwise) and collects their output into ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import platform
import subprocess
import sys

MODULES = [
    "benchmarks.bench_products",
    "benchmarks.bench_networks",
    "benchmarks.bench_curvature",
    "benchmarks.bench_training",
    "benchmarks.bench_modules",
]


def machine_info() -> str:
    """A markdown block describing the machine and library versions."""
    import numpy as np
    import scipy
    import torch

    lines = [
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- machine: {platform.machine()}, {os.cpu_count()} logical cores, {platform.platform()}",
        f"- processor: {platform.processor() or 'unknown'}",
        f"- python {platform.python_version()}, torch {torch.__version__} "
        f"(threads {torch.get_num_threads()}), numpy {np.__version__}, scipy {scipy.__version__}",
        f"- CUDA: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}",
    ]
    return "\n".join(lines)


def mutation_sections() -> list[str]:
    """The latest mutation benchmark tables (``benchmarks/mutation-<budget>.md``, written by
    ``python -m benchmarks.mutation``; too slow to rerun here, so they are included as run)."""
    here = pathlib.Path(__file__).parent
    out = []
    for budget in ("quick", "standard"):
        f = here / f"mutation-{budget}.md"
        if f.exists():
            out += [f.read_text().strip(), ""]
    if out:
        out = ["## Mutation benchmark (`python -m benchmarks.mutation`, see docs/mutation.md)",
               ""] + out
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes)")
    parser.add_argument("--only", nargs="*", default=None, help="module name substrings")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per benchmark")
    parser.add_argument("--out", default=str(pathlib.Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args(argv)
    sections = ["# Benchmark results", "", machine_info(), ""]
    for name in MODULES:
        if args.only and not any(s in name for s in args.only):
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        cmd = [sys.executable, "-m", name] + (["--quick"] if args.quick else [])
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        sections.append(f"## `{name}` ({'quick' if args.quick else 'full'})")
        sections.append("")
        sections.append(proc.stdout.strip() or f"(no output; exit {proc.returncode})")
        if proc.returncode != 0:
            sections.append(f"\n```\n{proc.stderr[-2000:]}\n```")
        sections.append("")
    sections += mutation_sections()
    text = "\n".join(sections)
    pathlib.Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
