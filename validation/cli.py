"""The ``flatstart`` command line.

Subcommands: ``list``, ``show ID``, ``verify [IDS...]``, ``plot ID``, ``calibrate ID``,
``check-bound FILE``, ``cache info|clear``. ``list``, ``show``, ``verify``, ``plot`` and
``calibrate`` take ``--claims FILE_OR_MODULE`` (repeatable): a user's claim module loaded
before the command runs (:func:`flatstart.validation.plugins.load_claims`; docs/user-claims.md).
Exit status: 0 success (for ``verify``: nothing refuted and no error);
1 when ``verify`` finds a refuted claim or a claim that raised (error), ``calibrate`` finds
the false-rejection rate above alpha, or ``check-bound`` finds the bound violated; 2 for usage
errors (unknown id, budget, device, family; ``cuda`` without a GPU; a bad bound file; a dask
scheduler that does not answer or gets no worker within ``--worker-timeout``; a bad ``plot
--style``/``--format``/``--dpi`` or ``--format pgf`` without LaTeX); 3 when
``check-bound`` is underpowered or inconclusive. See docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` for options with a real default (not None/False/suppressed)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        d = action.default
        if d is None or d is False or d == argparse.SUPPRESS or "default" in text:
            return text
        return super()._get_help_string(action) or text


class _UsageError(Exception):
    """A one-line usage error (exit status 2)."""


def _parser() -> argparse.ArgumentParser:
    from flatstart.validation.claims import BUDGETS, DEVICES, FAMILIES

    fmt = _HelpFormatter
    p = argparse.ArgumentParser(
        prog="flatstart", formatter_class=fmt,
        description="Check the theory of randomly initialized deep networks against Monte Carlo.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    real_add = sub.add_parser

    def add_parser(*a: Any, **k: Any) -> argparse.ArgumentParser:
        """Every subcommand's --help shows the defaults."""
        k.setdefault("formatter_class", fmt)
        return real_add(*a, **k)

    sub.add_parser = add_parser  # type: ignore[method-assign]
    sub.required = True

    def claims_opt(q: argparse.ArgumentParser) -> None:
        """--claims, shared by list, show, verify, plot and calibrate."""
        q.add_argument("--claims", action="append", default=None, metavar="FILE_OR_MODULE",
                       help="also load the claims of this Python file or dotted module "
                            "(repeatable; see docs/user-claims.md)")

    lp = sub.add_parser("list", help="list the claims of the catalogue")
    lp.add_argument("--family", metavar="F",
                    help=f"only this family: one of {', '.join(FAMILIES)} or a family of "
                         "--claims")
    lp.add_argument("--json", action="store_true", help="print JSON")
    claims_opt(lp)

    sp = sub.add_parser("show", help="show one claim")
    sp.add_argument("id")
    sp.add_argument("--json", action="store_true", help="print JSON")
    claims_opt(sp)

    def run_opts(q: argparse.ArgumentParser) -> None:
        """Options shared by verify, plot and calibrate."""
        q.add_argument("--budget", default="quick", help=f"one of {', '.join(BUDGETS)}")
        q.add_argument("--device", default="cpu", help=f"one of {', '.join(DEVICES)}")
        q.add_argument("--seed", type=int, default=0, help="run seed (>= 0)")
        q.add_argument("--workers", type=int, default=None,
                       help="local worker processes (default: run in this process)")
        q.add_argument("--progress", default="auto", choices=["auto", "bar", "log", "none"],
                       help="progress on stderr: a bar with ETA on a terminal, timestamped log "
                            "lines otherwise (auto), or forced")
        claims_opt(q)

    vp = sub.add_parser("verify", help="verify claims and write the report")
    vp.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all claims)")
    vp.add_argument("--family", action="append", help="only this family (repeatable)")
    vp.add_argument("--out", default="flatstart-report", help="report folder")
    run_opts(vp)
    vp.add_argument("--scheduler", default=None, help="dask.distributed scheduler address")
    vp.add_argument("--worker-timeout", type=float, default=60.0, metavar="SECONDS",
                    help="with --scheduler: how long to wait for the scheduler to answer and "
                         "for a first worker to join (0: forever)")
    vp.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    vp.add_argument("--cache-dir", default=None,
                    help="cache folder (default $FLATSTART_CACHE or .flatstart-cache)")
    vp.add_argument("--no-holm-across", action="store_true",
                    help="do not apply Holm across the claims of the run")
    vp.add_argument("--no-figures", action="store_true", help="skip the figures")
    vp.add_argument("--resolution-reps", type=int, default=1, metavar="N",
                    help="resolution = smallest relative error of a prediction rejected with "
                         "probability >= 0.8 over N run seeds (seed .. seed+N-1, cached like "
                         "verify at those seeds); 1: the one-run estimate")

    pp = sub.add_parser("plot", help="verify one claim (cached) and draw its figure")
    pp.add_argument("id")
    pp.add_argument("--out", default="flatstart-report", help="folder for figures/")
    run_opts(pp)
    pp.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    pp.add_argument("--style", default="report",
                    help="report: the report's figure (verdict title, footer); paper: "
                         "3.4 in wide, 8-9 pt text, no title, its data beside it as CSV")
    pp.add_argument("--format", action="append", default=None, metavar="FMT",
                    help="png, svg, pdf or pgf (repeatable or comma-separated; default: png "
                         "and svg for --style report, pdf for paper; pgf needs LaTeX)")
    pp.add_argument("--dpi", type=int, default=None,
                    help="resolution of PNG output, 10..2400 (default: 110 for --style "
                         "report, 300 for paper)")

    cp = sub.add_parser("calibrate", help="measure the false-rejection rate of a claim")
    cp.add_argument("id")
    cp.add_argument("--reps", type=int, default=100, help="repetitions (run seeds)")
    run_opts(cp)

    kp = sub.add_parser("cache", help="show or clear the result cache")
    kp.add_argument("action", choices=["info", "clear"], help="info: what is stored; "
                    "clear: remove every entry")
    kp.add_argument("--cache-dir", default=None,
                    help="cache folder (default $FLATSTART_CACHE or .flatstart-cache)")
    kp.add_argument("--json", action="store_true", help="print JSON (info)")

    bp = sub.add_parser("check-bound", help="check a user's bound against real networks")
    bp.add_argument("file", help="a Python file defining bound, quantity, statement, grid, network")
    bp.add_argument("--out", default=None, help="folder for the figure (default: next to FILE)")
    return p


class _Progress:
    """Progress on stderr: ``bar`` rewrites one line with a bar, the point running and an ETA
    (terminals); ``log`` prints one timestamped line per event (pipes, nohup, CI, cluster logs).

    Lines come from :func:`flatstart.validation.claims.verify_all`: a header ``N claim(s), M grid
    point(s), K cached, T to compute``, ``start CLAIM point I`` when a point starts (in-process
    runs) and ``[d/T] CLAIM point I p=... (s)`` when one finishes.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.t0 = __import__("time").monotonic()
        self.total = 0
        self.done = 0
        self.running = ""

    def _eta(self) -> str:
        import time

        elapsed = time.monotonic() - self.t0
        if self.done == 0 or self.total == 0:
            return f"{elapsed:.0f}s elapsed"
        left = elapsed / self.done * (self.total - self.done)
        return f"{elapsed:.0f}s elapsed, ETA {left:.0f}s"

    def __call__(self, line: str) -> None:
        import re
        import time

        m = re.match(r"\d+ claim\(s\), \d+ grid point\(s\), \d+ cached, (\d+) to compute", line)
        if m:
            self.total = int(m.group(1))
        m = re.match(r"\[(\d+)/(\d+)\]", line)
        if m:
            self.done, self.total = int(m.group(1)), int(m.group(2))
        if line.startswith("start "):
            self.running = line[len("start "):]
        if self.mode == "log":
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            extra = f" ({self._eta()})" if m else ""
            sys.stderr.write(f"{stamp} flatstart: {line}{extra}\n")
        else:
            width = 24
            frac = self.done / self.total if self.total else 0.0
            bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
            text = f"[{bar}] {self.done}/{self.total} {self._eta()}; running {self.running}"
            sys.stderr.write("\r\033[K" + text[:150])
        sys.stderr.flush()

    def close(self) -> None:
        if self.mode == "bar":
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _progress_printer(mode: str) -> _Progress | None:
    if mode == "auto":
        mode = "bar" if sys.stderr.isatty() else "log"
    return None if mode == "none" else _Progress(mode)


def _check_writable_dir(option: str, path: str) -> None:
    """Fail early (usage error, exit 2) when ``path`` cannot be a writable folder."""
    from pathlib import Path

    p = Path(path)
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is a file" if probe == p else f"lies under the file {str(probe)!r}"
        raise _UsageError(f"{option} {path!r} {where}; give a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        import tempfile

        with tempfile.NamedTemporaryFile(dir=p, prefix=".flatstart-write-test-"):
            pass
    except OSError as exc:
        raise _UsageError(f"{option} {path!r} is not writable ({exc.strerror or exc})") from None


def _check_common(args: argparse.Namespace) -> None:
    from flatstart.validation.claims import BUDGETS, DEVICES, check_device

    if getattr(args, "budget", "quick") not in BUDGETS:
        raise _UsageError(f"unknown budget {args.budget!r}; allowed: {', '.join(BUDGETS)}")
    if getattr(args, "device", "cpu") not in DEVICES:
        raise _UsageError(f"unknown device {args.device!r}; allowed: {', '.join(DEVICES)}")
    try:
        check_device(getattr(args, "device", "cpu"))
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    if getattr(args, "seed", 0) < 0:
        raise _UsageError(f"--seed must be >= 0, got {args.seed}")
    workers = getattr(args, "workers", None)
    if workers is not None and workers < 1:
        raise _UsageError(f"--workers must be >= 1, got {workers}")
    timeout = getattr(args, "worker_timeout", 0.0)
    if not 0 <= timeout < float("inf"):
        raise _UsageError(f"--worker-timeout must be a number of seconds >= 0 (0: wait "
                          f"forever), got {timeout}")


def _load_user_claims(args: argparse.Namespace) -> None:
    """Load the modules of ``--claims`` (a usage error, exit 2, when one fails)."""
    specs = getattr(args, "claims", None) or []
    if not specs:
        return
    from flatstart.validation.plugins import is_file_spec, load_claims

    files = [s for s in specs if is_file_spec(s)]
    parallel = ("--scheduler" if getattr(args, "scheduler", None)
                else "--workers" if (getattr(args, "workers", None) or 1) > 1 else None)
    if files and parallel:
        raise _UsageError(
            f"--claims {files[0]!r} is a file, loaded in this process only; {parallel} runs "
            "claims in other processes, which import them by module name: give --claims a "
            "dotted module name that they can import (on PYTHONPATH), or drop " + parallel)
    for spec in specs:
        try:
            load_claims(spec)
        except ValueError as exc:
            raise _UsageError(" ".join(str(exc).split())) from None


def _check_family(family: str) -> None:
    """Usage error unless ``family`` is flatstart's or one of the loaded user claims'."""
    from flatstart.validation.claims import known_families, load_catalogue

    load_catalogue()
    known = known_families()
    if family not in known:
        raise _UsageError(f"unknown family {family!r}; allowed: {', '.join(known)}")


def _known(claim_id: str) -> Any:
    from flatstart.validation.claims import get, ids

    try:
        return get(claim_id)
    except KeyError:
        known = ", ".join(ids()) or "(none)"
        raise _UsageError(f"unknown claim id {claim_id!r}; known ids: {known}") from None


def _cmd_list(args: argparse.Namespace) -> int:
    from flatstart.validation.claims import catalogue_errors, claims

    if args.family is not None:
        _check_family(args.family)
    items = claims(args.family)
    if args.json:
        print(json.dumps(items, indent=2))
        return EXIT_OK
    if not items:
        print("no claims registered")
    width = max((len(c["id"]) for c in items), default=0)
    for c in items:
        print(f"{c['id']:<{width}}  {c['title']}  [{c['source']}]")
    for module in catalogue_errors():
        print(f"warning: catalogue module {module} failed to import", file=sys.stderr)
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    claim = _known(args.id)
    info = claim.summary()
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    print(f"{info['id']}: {info['title']}")
    print(f"family: {info['family']}   kind: {info['kind']}   alpha: {info['alpha']}   "
          f"version: {info['version']}")
    print(f"source: {info['source']}")
    print("statement:\n" + textwrap.indent(textwrap.fill(info["statement"], 90), "  "))
    if info["latex"]:
        print(f"latex: {info['latex']}")
    if info["mutant"]:
        print(f"mutant: {info['mutant']}")
    print("grid points: " + ", ".join(f"{b} {n}" for b, n in info["grids"].items()))
    for b in ("quick",):
        for params in claim.grid(b):
            print(f"  {b}: {json.dumps(params, default=str)}")
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    from flatstart.validation.claims import FAMILIES, verify_all
    from flatstart.validation.report import problems_first, summary_table, write_report

    _check_common(args)
    fams = args.family
    if fams:
        for f in fams:
            if f not in FAMILIES:
                _check_family(f)
    for cid in args.ids:
        _known(cid)
    if not 1 <= args.resolution_reps <= 1000:
        raise _UsageError(f"--resolution-reps must be in 1..1000, got {args.resolution_reps}")
    cache: Any = False if args.no_cache else (args.cache_dir or True)
    _check_writable_dir("--out", args.out)
    if not args.no_cache:
        from flatstart.validation.cache import default_cache_dir

        _check_writable_dir("--cache-dir", str(args.cache_dir or default_cache_dir()))
    executor = _dask_executor(args)
    progress = _progress_printer(args.progress)
    try:
        results = verify_all(
            args.ids or None, args.budget, args.seed, args.device, family=fams, cache=cache,
            workers=args.workers, scheduler=args.scheduler, executor=executor,
            holm_across=not args.no_holm_across, progress=progress,
            resolution_reps=args.resolution_reps,
        )
    except OSError as exc:
        from flatstart.validation.executors import SchedulerUnavailable

        if isinstance(exc, SchedulerUnavailable):
            raise _UsageError(str(exc)) from None
        if args.scheduler:
            raise _UsageError(f"cannot use the dask scheduler {args.scheduler!r}: "
                              f"{type(exc).__name__}: {exc}") from None
        raise
    finally:
        if executor is not None:
            executor.close()
    if progress is not None:
        progress.close()
    records = results.records
    paths = write_report(results, args.out, records=records, figures=not args.no_figures,
                         figure_cache=cache)
    print(summary_table(problems_first(results)))
    print(f"report: {paths['index']}")
    bad = [r for r in results if r.verdict in ("refuted", "error")]
    return EXIT_FAIL if bad else EXIT_OK


def _cmd_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flatstart.validation.claims import verify
    from flatstart.validation.plots import claim_figure, save_figure
    from flatstart.validation.report import figure_stem

    _check_common(args)
    claim = _known(args.id)
    style, formats, dpi = _figure_options(args)
    _check_writable_dir("--out", args.out)
    result = verify(claim.id, args.budget, args.seed, args.device,
                    cache=not args.no_cache, workers=args.workers)
    folder = Path(args.out) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fig = claim_figure(claim, result.records, result, style=style)
        paths = save_figure(fig, str(folder / figure_stem(claim.id)), formats=formats, dpi=dpi)
    except RuntimeError as exc:  # a failing plot hook (paper style) or LaTeX for pgf
        print(f"flatstart plot: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAIL
    print(f"{claim.id}: {result.verdict}; figures: {', '.join(paths)}")
    return EXIT_OK


def _figure_options(args: argparse.Namespace) -> tuple[str, tuple[str, ...], int | None]:
    """``--style``, ``--format`` and ``--dpi`` of ``plot``, checked (usage errors, exit 2)
    before anything runs; pgf without a TeX install is one too."""
    from flatstart.validation.plots import (
        STYLES,
        check_formats,
        check_pgf_available,
    )

    if args.style not in STYLES:
        raise _UsageError(f"unknown --style {args.style!r}; allowed: {', '.join(STYLES)}")
    paper = args.style == "paper"
    try:
        formats = check_formats(",".join(args.format) if args.format
                                else ("pdf" if paper else "png,svg"))
    except ValueError as exc:
        raise _UsageError("--format: " + str(exc).removeprefix("formats: ")) from None
    dpi = args.dpi if args.dpi is not None else (300 if paper else None)  # None: as report
    if dpi is not None and not 10 <= dpi <= 2400:
        raise _UsageError(f"--dpi must be in 10..2400, got {dpi}")
    if "pgf" in formats:
        try:
            check_pgf_available()
        except RuntimeError as exc:
            raise _UsageError(f"--format pgf: {exc}") from None
    return args.style, formats, dpi


def _dask_executor(args: argparse.Namespace) -> Any:
    """The dask executor of ``verify --scheduler`` (None without it), connected within
    ``--worker-timeout`` seconds (a usage error, exit 2, when the scheduler does not answer)."""
    timeout = args.worker_timeout
    if not args.scheduler:
        return None
    from flatstart.validation.executors import DaskExecutor, SchedulerUnavailable

    try:
        return DaskExecutor(args.scheduler, worker_timeout=timeout or None)
    except SchedulerUnavailable as exc:
        raise _UsageError(str(exc)) from None


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from flatstart.validation.claims import calibrate

    _check_common(args)
    claim = _known(args.id)
    if args.reps < 1:
        raise _UsageError(f"--reps must be >= 1, got {args.reps}")
    progress = _progress_printer(args.progress)
    cal = calibrate(claim.id, reps=args.reps, seed=args.seed, budget=args.budget,
                    device=args.device, workers=args.workers, progress=progress)
    if progress is not None:
        progress.close()
    lo, hi = cal.ci
    print(f"{cal.claim_id}: {cal.rejections}/{cal.reps} false rejections under the true "
          f"prediction, rate {cal.rate:.4f} (95% CI {lo:.4f}..{hi:.4f}), alpha {cal.alpha}: "
          + ("calibrated" if cal.ok else "TOO MANY REJECTIONS"))
    if cal.resolution is not None:
        e = cal.resolution.get("relative_error")
        print(f"{cal.claim_id}: resolution "
              + (f"±{100 * e:g}%" if e is not None else "none on the ladder (up to ±200%)")
              + f" ({cal.resolution.get('basis')})")
    return EXIT_OK if cal.ok else EXIT_FAIL


def _cmd_cache(args: argparse.Namespace) -> int:
    from flatstart.validation.cache import Cache, default_cache_dir

    store = Cache(args.cache_dir or default_cache_dir())
    if args.action == "clear":
        n = store.clear()
        print(f"removed {n} cached grid point(s) and the cached figures from {store.root}")
        return EXIT_OK
    info = store.info()
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    print(f"cache: {info['root']}: {info['entries']} grid point(s), "
          f"{info['bytes'] / 1e6:.1f} MB" + (f", {info['unreadable']} unreadable"
                                              if info["unreadable"] else "")
          + (f", {info['figures']} figure file(s)" if info.get("figures") else ""))
    width = max((len(c) for c in info["claims"]), default=0)
    for cid, n in info["claims"].items():
        print(f"  {cid:<{width}}  {n}")
    print("keys cover the claim, parameters, budget, seed, device, the source of theory/, "
          "montecarlo/, validation/ and the library versions: edited code is never served")
    return EXIT_OK


def _cmd_check_bound(args: argparse.Namespace) -> int:
    from flatstart.validation import toolkit

    if args.out is not None:
        _check_writable_dir("--out", args.out)
    return int(toolkit.main_check_bound(args.file, out=args.out))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flatstart`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    # Claims run many small batched torch programs: one intra-op thread is both faster on small
    # machines (no oversubscription) and reproducible (fixed reduction order). An explicit
    # OMP_NUM_THREADS from the user wins.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    if "torch" in sys.modules and "OMP_NUM_THREADS" in os.environ:
        sys.modules["torch"].set_num_threads(max(1, int(os.environ["OMP_NUM_THREADS"])))
    commands = {
        "list": _cmd_list, "show": _cmd_show, "verify": _cmd_verify, "plot": _cmd_plot,
        "calibrate": _cmd_calibrate, "check-bound": _cmd_check_bound,
        "cache": _cmd_cache,
    }
    try:
        _load_user_claims(args)
        return commands[args.command](args)
    except _UsageError as exc:
        print(f"flatstart {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted; finished grid points are cached (rerun to resume)",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
