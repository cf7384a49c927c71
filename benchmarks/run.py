"""Run every benchmark and write ``benchmarks/RESULTS.md``.

Usage::

    python -m benchmarks.run            # full
    python -m benchmarks.run --quick    # a few minutes on 2 cores

Each ``benchmarks/bench_*.py`` module exposes ``main(quick: bool) -> str`` returning a markdown
section (tables with the measured ratios against the naive way and the anchors of DESIGN.md §5).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import pathlib
import platform
import sys

MODULES = [
    "benchmarks.bench_products",
    "benchmarks.bench_networks",
    "benchmarks.bench_curvature",
    "benchmarks.bench_training",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes)")
    parser.add_argument("--only", nargs="*", default=None, help="module name substrings")
    parser.add_argument("--out", default=str(pathlib.Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args(argv)
    sections = ["# Benchmark results", "", machine_info(), ""]
    for name in MODULES:
        if args.only and not any(s in name for s in args.only):
            continue
        module = importlib.import_module(name)
        print(f"== {name}", file=sys.stderr, flush=True)
        sections.append(module.main(quick=args.quick))
        sections.append("")
    text = "\n".join(sections)
    pathlib.Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
