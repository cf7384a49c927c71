"""Plot helpers for claim authors, and the default figure of a claim run (matplotlib Agg).

Every helper draws on a given ``Axes`` and returns it; :func:`claim_figure` builds the figure of
one claim (the claim's own ``plot`` hook, else :func:`default_plot`) and stamps it with the
claim id, parameters, n, seed and verdict (``style="report"``), or draws it bare for a paper
(``style="paper"``: single-column width, 8-9 pt fonts, no verdict title).
:func:`save_figure` writes PNG, SVG, PDF or PGF files and, for paper figures, the plotted data
beside them as CSV (:func:`figure_data`) so that an author can redraw the figure.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from flatstart._checks import check_choice, check_int  # noqa: E402
from flatstart.validation.records import PointRecord, ensure_predictions, relative_paths  # noqa: E402
from flatstart.validation.stats import dkw_epsilon  # noqa: E402

if TYPE_CHECKING:
    from flatstart.validation.claim import Claim
    from flatstart.validation.result import Result

__all__ = [
    "FORMATS",
    "PAPER_WIDTH",
    "STYLES",
    "VERDICT_COLORS",
    "check_formats",
    "check_pgf_available",
    "claim_figure",
    "default_plot",
    "figure_data",
    "plot_cdf_vs_empirical",
    "plot_density_vs_hist",
    "plot_median_vs_depth",
    "plot_spectrum",
    "plot_trend",
    "save_figure",
    "write_figure_data",
]

VERDICT_COLORS: dict[str, str] = {
    "consistent": "#2e7d32",
    "refuted": "#c62828",
    "underpowered": "#ef6c00",
    "error": "#6a1b9a",
}

STYLES: tuple[str, ...] = ("report", "paper")
"""Figure styles of :func:`claim_figure`: the report's (verdict title, footer) or a paper's."""

FORMATS: tuple[str, ...] = ("png", "svg", "pdf", "pgf")
"""File formats of :func:`save_figure` (all vector but PNG; PGF needs a LaTeX install)."""

PAPER_WIDTH = 3.4
"""Width (inches) of a paper figure: one column of a two-column page (IEEE: 3.5 in, ACM and
most conference templates: 3.3 in)."""

PAPER_FONT_PT = 8.0
PAPER_TITLE_PT = 9.0

PAPER_RC: dict[str, Any] = {
    "font.size": PAPER_FONT_PT, "axes.titlesize": PAPER_TITLE_PT,
    "axes.labelsize": PAPER_FONT_PT, "xtick.labelsize": PAPER_FONT_PT,
    "ytick.labelsize": PAPER_FONT_PT, "legend.fontsize": PAPER_FONT_PT,
    "figure.titlesize": PAPER_TITLE_PT, "lines.linewidth": 1.0, "lines.markersize": 3.0,
    "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4, "ytick.minor.width": 0.4, "legend.borderaxespad": 0.3,
}
"""matplotlib settings while a paper figure is drawn (8 pt text, 9 pt panel titles)."""

_SAVE_RC: dict[str, Any] = {"pdf.fonttype": 42, "ps.fonttype": 42}
"""Embed TrueType (Type 42) fonts in PDF: publishers' checkers (IEEE PDF eXpress, ...)
reject the Type 3 fonts that matplotlib writes by default. PNG and SVG are unaffected."""


def plot_cdf_vs_empirical(
    ax: Axes, cdf: Callable[[np.ndarray], Any], samples: Any, alpha: float = 0.01,
    label: str = "exact CDF",
) -> Axes:
    r"""Empirical CDF of ``samples`` with its DKW band, and the exact CDF on top.

    The band ``F_n(x) +- sqrt(log(2/alpha)/(2n))`` covers the true CDF everywhere with
    probability >= 1 - alpha (Dvoretzky-Kiefer-Wolfowitz-Massart) [ref]; an exact CDF leaving
    it is a KS rejection at level alpha (the KS test is slightly sharper).
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = x.size
    if n == 0:
        raise ValueError("samples must hold at least one value")
    fn = np.arange(1, n + 1) / n
    eps = dkw_epsilon(n, alpha)
    ax.step(x, fn, where="post", color="0.3", lw=1, label=f"empirical (n={n})")
    ax.fill_between(x, np.clip(fn - eps, 0, 1), np.clip(fn + eps, 0, 1), step="post",
                    color="0.7", alpha=0.4, label=f"DKW band, alpha={alpha:g}")
    lo, hi = x[0], x[-1]
    pad = 0.05 * (hi - lo) if hi > lo else 1.0
    grid = np.linspace(lo - pad, hi + pad, 400)
    ax.plot(grid, np.asarray(cdf(grid), dtype=np.float64), color="C0", lw=1.5, label=label)
    ax.set_ylabel("CDF")
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_density_vs_hist(
    ax: Axes, pdf: Callable[[np.ndarray], Any], samples: Any, bins: int | str = "auto",
    log: bool = False, label: str = "exact density",
) -> Axes:
    """Normalized histogram of ``samples`` with the exact density drawn over it."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("samples must hold at least one finite value")
    lo, hi = np.quantile(x, [0.005, 0.995]) if x.size > 200 else (x.min(), x.max())
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    ax.hist(x, bins=bins, range=(lo, hi), density=True, color="0.75", label=f"samples (n={x.size})")
    grid = np.linspace(lo, hi, 400)
    ax.plot(grid, np.asarray(pdf(grid), dtype=np.float64), color="C0", lw=1.5, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("density")
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_median_vs_depth(
    ax: Axes, depths: Sequence[float], predicted: Sequence[float], measured: Sequence[float],
    ci: Sequence[Sequence[float]] | None = None, ylabel: str = "median",
) -> Axes:
    """Predicted curve and measured points (with a CI band) against depth, log y-axis.

    ``ci`` is a list of (low, high) per depth, e.g. from the binomial order-statistic interval.
    """
    d = np.asarray(depths, dtype=np.float64)
    ax.plot(d, np.asarray(predicted, dtype=np.float64), "-", color="C0", label="predicted")
    ax.plot(d, np.asarray(measured, dtype=np.float64), "o", color="C3", ms=4, label="measured")
    if ci is not None:
        band = np.asarray(ci, dtype=np.float64)
        ax.fill_between(d, band[:, 0], band[:, 1], color="C3", alpha=0.2, label="CI")
    ax.set_yscale("log")
    ax.set_xlabel("depth")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_trend(
    ax: Axes, x: Sequence[float], y: Sequence[float], slope_fit: tuple[float, float],
    predicted: float | tuple[float, float], xlabel: str = "x", ylabel: str = "y",
) -> Axes:
    """Data points, the fitted line ``(slope, intercept)`` and the predicted slope.

    ``predicted`` is a slope (drawn through the data's centroid) or ``(slope, intercept)``.
    """
    xx = np.asarray(x, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    ax.plot(xx, yy, "o", ms=3, color="0.4", label="measured")
    grid = np.linspace(xx.min(), xx.max(), 100)
    b, a = slope_fit
    ax.plot(grid, a + b * grid, "-", color="C3", label=f"fit, slope {b:.3g}")
    if isinstance(predicted, tuple):
        pb, pa = predicted
    else:
        pb = float(predicted)
        pa = float(yy.mean() - pb * xx.mean())
    ax.plot(grid, pa + pb * grid, "--", color="C0", label=f"predicted slope {pb:.3g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_spectrum(
    ax: Axes, eigenvalues: Any, density: Callable[[np.ndarray], Any] | None = None,
    bins: int = 60, support: tuple[float, float] | None = None, label: str = "predicted",
) -> Axes:
    """Histogram of eigenvalues (pooled over samples), with a predicted density if given.

    ``support`` marks predicted spectrum edges with vertical lines.
    """
    ev = np.asarray(eigenvalues, dtype=np.float64).ravel()
    ev = ev[np.isfinite(ev)]
    if ev.size == 0:
        raise ValueError("eigenvalues must hold at least one finite value")
    ax.hist(ev, bins=bins, density=True, color="0.75", label=f"eigenvalues (n={ev.size})")
    if density is not None:
        grid = np.linspace(ev.min(), ev.max(), 400)
        ax.plot(grid, np.asarray(density(grid), dtype=np.float64), color="C0", label=label)
    if support is not None:
        for edge in support:
            ax.axvline(edge, color="C0", ls=":", lw=1)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.legend(fontsize=7, loc="best")
    return ax


def default_plot(fig: Figure, records: Sequence[PointRecord], alpha: float = 0.01) -> None:
    """Default figure: per-point p-values (claim and mutant, log scale) and, for scalar
    predictions, measured-vs-predicted."""
    ax = fig.add_subplot(1, 1, 1)
    idx = np.arange(len(records))
    ps = [r.outcome.p_value if r.outcome is not None else math.nan for r in records]
    ms = [r.mutant.p_value if r.mutant is not None else math.nan for r in records]
    floor = 1e-300
    ax.semilogy(idx, np.maximum(ps, floor), "o", color="C0", label="claim p-value")
    ax.semilogy(idx, np.maximum(ms, floor), "x", color="C3", label="mutant p-value")
    ax.axhline(alpha, color="0.5", ls="--", lw=1, label=f"alpha = {alpha:g}")
    ax.set_xticks(idx)
    ax.set_xticklabels([_short_params(r.params) for r in records], rotation=30, ha="right",
                       fontsize=6)
    ax.set_ylabel("p-value (unadjusted)")
    ax.legend(fontsize=7, loc="best")


def _short_params(params: dict[str, Any], limit: int = 40) -> str:
    text = ", ".join(f"{k}={v}" for k, v in params.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def claim_figure(
    claim: Claim, records: Sequence[PointRecord], result: Result | None = None, *,
    style: str = "report",
) -> Figure:
    """Figure of one claim run: the claim's ``plot`` hook (or :func:`default_plot`) plus a
    title with the claim id and verdict and a footer with parameters, n and seed.

    If the hook raises, the default figure is drawn instead and the error is printed on it.

    Args:
        claim: the claim.
        records: its point records (with measurements for the hook).
        result: its result (verdict, p-value, n and seed of the title and footer).
        style: ``"report"`` (8 x 4.8 in, verdict title, footer: the report's figures) or
            ``"paper"``: :data:`PAPER_WIDTH` inches wide, 8 pt text (9 pt panel titles), no
            title or footer; a hook that raises is an error (``RuntimeError``) instead of a
            fallback. :func:`save_figure` writes a paper figure's data beside it as CSV.
    """
    style = check_choice("style", style, STYLES)
    if style == "paper":
        return _paper_figure(claim, records)
    fig = plt.figure(figsize=(8, 4.8))
    good = [r for r in records if r.error is None and r.outcome is not None]
    hook_error = None
    if claim.plot is not None and good and len(good) == len(records):
        try:

            claim.plot(fig, ensure_predictions(claim, list(records)))
        except Exception as exc:  # the figure must not break the report
            fig.clf()
            hook_error = f"plot hook failed: {type(exc).__name__}: {exc}"
    if claim.plot is None or hook_error is not None or not good or len(good) != len(records):
        default_plot(fig, records, alpha=claim.alpha)
    verdict = result.verdict if result is not None else "?"
    n = result.n if result is not None else sum(r.outcome.n for r in good if r.outcome)
    seed = result.seed if result is not None else (records[0].seed if records else "?")
    p = result.p_value if result is not None else None
    title = f"{claim.id} — {verdict}" + (f" (p = {p:.3g})" if p is not None else "")
    fig.suptitle(title, color=VERDICT_COLORS.get(verdict, "black"), fontsize=11)
    params = json.dumps([r.params for r in records], default=str)
    if len(params) > 160:
        params = params[:157] + "..."
    footer = f"n = {n}, seed = {seed}, parameters: {params}"
    if hook_error:
        footer += f"\n{hook_error}"
    failed = [r for r in records if r.error]
    if failed:

        last = relative_paths((failed[0].error or "").strip()).splitlines()[-1:] or [""]
        footer += f"\nerror at {_short_params(failed[0].params)}: {last[0][:120]}"
    fig.text(0.01, 0.005, footer, fontsize=6, ha="left", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.06, 1, 0.94))
    return fig


def _paper_figure(claim: Claim, records: Sequence[PointRecord]) -> Figure:
    """The paper style of :func:`claim_figure`: the hook (or default plot) alone, resized."""
    with plt.rc_context(PAPER_RC):  # type: ignore[arg-type]
        fig = plt.figure(figsize=(PAPER_WIDTH, 2.4))
        complete = bool(records) and all(r.error is None and r.outcome is not None
                                         for r in records)
        if claim.plot is not None and complete:

            try:
                claim.plot(fig, ensure_predictions(claim, list(records)))
            except Exception as exc:
                plt.close(fig)
                raise RuntimeError(f"the plot hook of {claim.id} failed: "
                                   f"{type(exc).__name__}: {exc}") from exc
        else:
            default_plot(fig, records, alpha=claim.alpha)
        _paper_layout(fig)
    setattr(fig, "_flatstart_style", "paper")  # noqa: B010 - read by save_figure
    return fig


def _paper_layout(fig: Figure) -> None:
    """Single-column size (height from the panel grid) and 8 pt text everywhere (9 pt panel
    titles), overriding sizes that a hook set for the report's larger figure."""
    import warnings

    from matplotlib.text import Text

    axes = fig.get_axes()
    nrows = ncols = 1
    for ax in axes:
        spec = ax.get_subplotspec()
        if spec is not None:
            r, c = spec.get_gridspec().get_geometry()
            nrows, ncols = max(nrows, r), max(ncols, c)
    row_height = 2.4 if ncols == 1 else 1.9
    fig.set_size_inches(PAPER_WIDTH, min(9.0, row_height * nrows))

    def size(texts: Iterable[Text], pt: float) -> None:
        for t in texts:
            t.set_fontsize(pt)

    for ax in axes:
        ax.tick_params(which="both", labelsize=PAPER_FONT_PT)
        size([ax.xaxis.label, ax.yaxis.label, ax.xaxis.get_offset_text(),
              ax.yaxis.get_offset_text()], PAPER_FONT_PT)
        titles = [getattr(ax, n, None) for n in ("title", "_left_title", "_right_title")]
        size([t for t in titles if isinstance(t, Text)], PAPER_TITLE_PT)
        size(ax.texts, PAPER_FONT_PT)
    size(fig.texts, PAPER_FONT_PT)
    # Several panels at one column's width leave no room for a legend in each: one legend
    # of the distinct entries goes above the panels instead (when it stays short).
    legends = [leg for leg in (ax.get_legend() for ax in axes) if leg is not None]
    entries: dict[str, Any] = {}
    for ax in axes:
        if ax.get_legend() is not None:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=False):
                entries.setdefault(label, handle)
    if len(axes) > 1 and legends and len(entries) <= 6:
        for legend in legends:
            legend.remove()
        fig.legend(list(entries.values()), list(entries), loc="outside upper center",
                   ncols=min(len(entries), 2), frameon=False, fontsize=PAPER_FONT_PT,
                   handlelength=1.5, columnspacing=1.0)
    else:
        for legend in legends:
            size([*legend.get_texts(), legend.get_title()], PAPER_FONT_PT)
    for legend in fig.legends:
        size([*legend.get_texts(), legend.get_title()], PAPER_FONT_PT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a hook's own layout calls
        fig.set_layout_engine("constrained", w_pad=0.02, h_pad=0.02, wspace=0.05,
                              hspace=0.05)


def check_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    """File formats from ``"pdf"``, ``"pdf,png"`` or ``["pdf", "png"]``, each one of
    :data:`FORMATS` (duplicates dropped, order kept).

    >>> check_formats("pdf, png,pdf")
    ('pdf', 'png')
    """
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"formats must hold strings, got {item!r}")
        f = item.strip().lower()
        if f not in FORMATS:
            raise ValueError(f"formats: unknown format {item!r}; allowed: {', '.join(FORMATS)}")
        if f not in out:
            out.append(f)
    if not out:
        raise ValueError(f"formats must name at least one of {', '.join(FORMATS)}, "
                         f"got {formats!r}")
    return tuple(out)


def check_pgf_available() -> None:
    """Raise ``RuntimeError`` (one line) unless the TeX engine of PGF output is installed.

    matplotlib's PGF backend runs LaTeX (``rcParams["pgf.texsystem"]``, xelatex by default)
    to measure every piece of text while it writes the ``.pgf`` file, so PGF output needs a
    TeX install even though the file itself is plain text.
    """
    tex = str(matplotlib.rcParams["pgf.texsystem"])
    if shutil.which(tex) is None:
        raise RuntimeError(
            f"pgf output needs a LaTeX install to lay out the figure's text, and {tex} "
            "(matplotlib's pgf.texsystem) is not on PATH: install TeX Live or MiKTeX, or "
            "choose the pdf or svg format (vector too)")


def _num(v: Any) -> str:
    try:
        return repr(float(v))
    except (TypeError, ValueError):
        return str(v)


def _band(path: Any) -> tuple[int, np.ndarray, np.ndarray, np.ndarray] | None:
    """Decode the polygon of ``fill_between(t, f1, f2)`` (start, t along f1, end, t back
    along f2): ``(axis of t, t, f1, f2)``, or None for any other polygon."""
    from matplotlib.path import Path as MplPath

    v = np.asarray(path.vertices, dtype=np.float64)
    if path.codes is not None and len(v) and path.codes[-1] == MplPath.CLOSEPOLY:
        v = v[:-1]
    m = len(v)
    if m < 4 or m % 2:
        return None
    n = (m - 2) // 2
    for a in (0, 1):
        t1, t2 = v[1:n + 1, a], v[n + 2:, a][::-1]
        if (np.array_equal(t1, t2, equal_nan=True) and v[0, a] == t1[0]
                and v[n + 1, a] == t1[-1]):
            b = 1 - a
            return a, t1, v[1:n + 1, b], v[n + 2:, b][::-1]
    return None


def _joined(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate with a NaN between parts (a break in a redrawn line)."""
    out: list[np.ndarray] = []
    for i, part in enumerate(parts):
        if i:
            out.append(np.array([math.nan]))
        out.append(np.asarray(part, dtype=np.float64).ravel())
    return np.concatenate(out) if out else np.array([])


def figure_data(fig: Figure) -> dict[str, list[str]]:
    """The data of every plotted series of ``fig``, as named columns of text numbers.

    Column names are ``"<panel>: <series>: <coordinate>"``: panel ``ax1``, ``ax2``, ... (with
    the panel title in parentheses), series the artist's legend label (``line 1``, ``band 1``,
    ... when it has none), coordinate ``x``/``y`` with the axis label in parentheses. Lines
    give ``x``, ``y`` (a step line says ``[steps-post]``); horizontal/vertical reference lines
    one ``y``/``x``; ``fill_between`` bands ``x``, ``y1``, ``y2`` (other polygons their
    outline); scatter points ``x``, ``y``; bars and histograms ``left``, ``right``, ``height``
    (and ``bottom`` when not 0); fixed tick labels (e.g. the default figure's grid points) a
    ``tick position`` and ``tick label`` column. Numbers are written with ``repr`` (they read
    back exactly), parts of one series are separated by ``nan``.
    """
    from matplotlib.collections import LineCollection, PathCollection, PolyCollection
    from matplotlib.container import BarContainer
    from matplotlib.patches import Polygon, Rectangle
    from matplotlib.ticker import FixedFormatter, FuncFormatter

    cols: dict[str, list[str]] = {}

    def add(name: str, values: Iterable[Any]) -> None:
        base, k = name, 2
        while name in cols:
            name, k = f"{base} #{k}", k + 1
        cols[name] = [_num(v) for v in values]

    for i, ax in enumerate(fig.get_axes(), start=1):
        title = ax.get_title() or ax.get_title("left") or ax.get_title("right")
        panel = f"ax{i}" + (f" ({title})" if title else "")
        xl, yl = ax.get_xlabel(), ax.get_ylabel()
        xn = "x" + (f" ({xl})" if xl else "")
        yn = "y" + (f" ({yl})" if yl else "")
        counts: dict[str, int] = {}

        def series(artist: Any, kind: str, _panel: str = panel,
                   _counts: dict[str, int] = counts) -> str:
            label = str(artist.get_label() or "")
            if not label or label.startswith("_"):
                _counts[kind] = _counts.get(kind, 0) + 1
                label = f"{kind} {_counts[kind]}"
            return f"{_panel}: {label}"

        for line in ax.get_lines():
            try:
                x = np.asarray(line.get_xdata(), dtype=np.float64)
                y = np.asarray(line.get_ydata(), dtype=np.float64)
            except (TypeError, ValueError):
                continue
            name = series(line, "line")
            transform = line.get_transform()
            if transform is ax.get_yaxis_transform(which="grid") and y.size:
                add(f"{name} (horizontal line): {yn}", y[:1])
            elif transform is ax.get_xaxis_transform(which="grid") and x.size:
                add(f"{name} (vertical line): {xn}", x[:1])
            else:
                style = line.get_drawstyle()
                if style and style != "default":
                    name += f" [{style}]"
                add(f"{name}: {xn}", x)
                add(f"{name}: {yn}", y)
        for coll in ax.collections:
            if isinstance(coll, PathCollection):
                xy = np.asarray(coll.get_offsets(), dtype=np.float64).reshape(-1, 2)
                name = series(coll, "points")
                add(f"{name}: {xn}", xy[:, 0])
                add(f"{name}: {yn}", xy[:, 1])
            elif isinstance(coll, LineCollection):
                segs = [np.asarray(s, dtype=np.float64) for s in coll.get_segments()]
                name = series(coll, "segments")
                add(f"{name}: {xn}", _joined([s[:, 0] for s in segs]))
                add(f"{name}: {yn}", _joined([s[:, 1] for s in segs]))
            elif isinstance(coll, PolyCollection):
                name = series(coll, "band")
                bands = [_band(p) for p in coll.get_paths()]
                if bands and all(b is not None for b in bands):
                    a = bands[0][0]  # type: ignore[index]
                    t_name, f_name = (xn, "y") if a == 0 else (yn, "x")
                    f_label = (f" ({yl})" if yl else "") if a == 0 else (f" ({xl})" if xl else "")
                    add(f"{name}: {t_name}", _joined([b[1] for b in bands if b]))
                    add(f"{name}: {f_name}1{f_label}", _joined([b[2] for b in bands if b]))
                    add(f"{name}: {f_name}2{f_label}", _joined([b[3] for b in bands if b]))
                else:
                    verts = [np.asarray(p.vertices, dtype=np.float64) for p in coll.get_paths()]
                    add(f"{name} (outline): {xn}", _joined([v[:, 0] for v in verts]))
                    add(f"{name} (outline): {yn}", _joined([v[:, 1] for v in verts]))
        in_bars: set[int] = set()
        for container in ax.containers:
            if not isinstance(container, BarContainer):
                continue
            rects = [p for p in container.patches if isinstance(p, Rectangle)]
            in_bars.update(id(p) for p in container.patches)
            if not rects:
                continue
            # bar() labels the container, hist() its first patch
            labelled = next((a for a in (container, rects[0])
                             if not str(a.get_label() or "_").startswith("_")), container)
            name = series(labelled, "bars")
            left = np.array([r.get_x() for r in rects], dtype=np.float64)
            width = np.array([r.get_width() for r in rects], dtype=np.float64)
            bottom = np.array([r.get_y() for r in rects], dtype=np.float64)
            add(f"{name}: left", left)
            add(f"{name}: right", left + width)
            add(f"{name}: height" + (f" ({yl})" if yl else ""),
                [r.get_height() for r in rects])
            if np.any(bottom != 0):
                add(f"{name}: bottom", bottom)
        for patch in ax.patches:
            if id(patch) in in_bars or not isinstance(patch, Polygon):
                continue
            xy = np.asarray(patch.get_xy(), dtype=np.float64)
            name = series(patch, "polygon")
            add(f"{name}: {xn}", xy[:, 0])
            add(f"{name}: {yn}", xy[:, 1])
        for axis, letter in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            fmt = axis.get_major_formatter()
            if isinstance(fmt, (FixedFormatter, FuncFormatter)):  # labels set by the plot
                ticks = list(axis.get_ticklocs())
                labels = [str(t) for t in fmt.format_ticks(ticks)]
                if any(labels):
                    add(f"{panel}: {letter} tick position", ticks)
                    cols[f"{panel}: {letter} tick label"] = labels
    return cols


def write_figure_data(fig: Figure, path: str | os.PathLike[str]) -> str:
    """Write :func:`figure_data` as a CSV file (one column per series coordinate, shorter
    columns padded with empty cells); returns the path."""
    cols = figure_data(fig)
    names = list(cols)
    height = max((len(v) for v in cols.values()), default=0)
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for i in range(height):
            w.writerow([cols[n][i] if i < len(cols[n]) else "" for n in names])
    os.replace(tmp, path)
    return os.fspath(path)


def save_figure(
    fig: Figure, stem: str, formats: str | Iterable[str] = ("png", "svg"),
    dpi: int | None = None, data: bool | None = None,
) -> list[str]:
    """Write ``stem.<format>`` for each format, close the figure, return the paths.

    Args:
        fig: the figure (closed afterwards, also on error).
        stem: path without extension.
        formats: some of :data:`FORMATS` (a list or ``"pdf,png"``). PDF embeds TrueType
            fonts; PGF needs a LaTeX install (:func:`check_pgf_available`).
        dpi: resolution of PNG and of rasterized parts of vector files (10..2400); None:
            110 for PNG and matplotlib's default for the others (the report's figures).
        data: also write ``stem.csv`` with the plotted data (:func:`figure_data`); None: for
            paper-style figures (:func:`claim_figure` with ``style="paper"``) only.

    Returns:
        The paths written: one per format, in order, then the CSV when written.

    Raises:
        ValueError: a bad format or dpi. RuntimeError: PGF without LaTeX, or LaTeX failing.
    """
    try:
        fmts = check_formats(formats)
        if dpi is not None:
            dpi = check_int("dpi", dpi, minimum=10, maximum=2400)
        if "pgf" in fmts:
            check_pgf_available()
        with_data = (getattr(fig, "_flatstart_style", "report") == "paper" if data is None
                     else bool(data))
        paths = []
        with plt.rc_context(_SAVE_RC):  # type: ignore[arg-type]
            for f in fmts:
                path = f"{stem}.{f}"
                kw: dict[str, Any] = {}
                if f == "png":
                    kw["dpi"] = 110 if dpi is None else dpi
                elif dpi is not None:
                    kw["dpi"] = dpi
                if f == "pgf":
                    try:
                        fig.savefig(path, **kw)
                    except Exception as exc:
                        first = (str(exc).strip().splitlines() or [""])[0][:200]
                        raise RuntimeError(f"pgf output failed: LaTeX could not lay out the "
                                           f"figure's text ({type(exc).__name__}: {first})"
                                           ) from exc
                else:
                    fig.savefig(path, **kw)
                paths.append(path)
        if with_data:
            paths.append(write_figure_data(fig, f"{stem}.csv"))
    finally:
        plt.close(fig)
    return paths
