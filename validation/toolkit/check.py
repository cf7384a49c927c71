"""``check_bound``: a closed-form bound against real networks over a grid (Holm over the grid
points), its :class:`BoundResult` (summary, table, figure, HTML) and ``flatstart check-bound
FILE`` (:func:`main_check_bound`).
"""

from __future__ import annotations

import base64
import html
import io
import math
import runpy
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flatstart._checks import check_choice, check_int, check_probability
from flatstart.validation.grid import check_budget, check_device
from flatstart.validation.stats import holm
from flatstart.validation.toolkit.bounds import _prepare_bound
from flatstart.validation.toolkit.decide import PointResult, _test_point
from flatstart.validation.toolkit.measurement import measure
from flatstart.validation.toolkit.networks import (
    _check_grid,
    _check_network,
    _display_params,
    _point_params,
)
from flatstart.validation.toolkit.quantities import (
    _BUDGET_INDEX,
    SAMPLES,
    _cost_class,
    _quantity_name,
    _quantity_scope,
)
from flatstart.validation.toolkit.vocabulary import DIRECTIONS, STATEMENTS, _short

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class BoundResult:
    """Result of :func:`check_bound`.

    Attributes:
        holds: ``True`` (no grid point refutes and every point had power), ``False`` (a
            counterexample), ``None`` (underpowered or inconclusive somewhere).
        failures: one dict per refuted grid point: ``params``, ``seed``, ``count`` and
            ``index`` (the network in the batch of ``count`` built with that seed), ``value``
            (its measured value), ``bound``, ``violations``, ``n``, ``p_value`` (Holm-adjusted),
            ``reproduce`` (code).
        tightness: ``measured / bound`` per grid point (see :class:`PointResult`).
        points: the :class:`PointResult` of every grid point.
    """

    holds: bool | None
    failures: list[dict[str, Any]]
    tightness: list[float]
    points: list[PointResult]
    quantity: str
    statement: str
    direction: str
    delta: float | None
    alpha: float
    budget: str
    seed: int
    bound_text: str
    grid_keys: list[str]
    _figure: Any = field(default=None, repr=False)

    @property
    def verdict(self) -> str:
        """``"holds"``, ``"violated"`` or ``"underpowered"``."""
        return {True: "holds", False: "violated", None: "underpowered"}[self.holds]

    def summary(self) -> str:
        """One paragraph: the claim, the verdict and the worst counterexample."""
        rel = "<=" if self.direction == "upper" else ">="
        what = {
            "almost_surely": f"{self.quantity} {rel} B almost surely",
            "probability": (f"P({self.quantity} {'>' if self.direction == 'upper' else '<'} B)"
                            f" <= {self.delta}"),
            "median": f"median {self.quantity} {rel} B",
            "mean": f"E {self.quantity} {rel} B",
        }[self.statement]
        lines = [f"claim: {what}, B = {self.bound_text}",
                 f"verdict: {self.verdict.upper()} over {len(self.points)} grid point(s) "
                 f"(alpha = {self.alpha}, Holm over the grid, budget {self.budget}, "
                 f"seed {self.seed})"]
        for f in self.failures[:3]:
            lines.append(
                f"counterexample: {_short(f['params'])}: value {f['value']:.6g} vs bound "
                f"{f['bound']:.6g} ({f['violations']}/{f['n']} violations, p = "
                f"{f['p_value']:.3g}); seed {f['seed']}, network {f['index']}")
        for pt in self.points:
            if pt.verdict in ("underpowered", "inconclusive"):
                lines.append(f"{pt.verdict} at {_short(self._key_params(pt))}: {pt.reason}")
                break
        return "\n".join(lines)

    def _key_params(self, pt: PointResult) -> dict[str, Any]:
        return {k: pt.params.get(k) for k in self.grid_keys}

    def _cells(self, pt: PointResult) -> list[str]:
        """A point's grid values, n, violations (``+k?`` censored unknowns), measured, bound and
        tightness as table cells."""
        return [str(pt.params.get(k)) for k in self.grid_keys] + [
            str(pt.n), str(pt.violations) + (f" (+{pt.unknown}?)" if pt.unknown else ""),
            f"{pt.measured:.4g}", f"{pt.bound:.4g}", f"{pt.tightness:.3g}",
        ]

    def table(self) -> str:
        """Markdown table: one row per grid point."""
        head = [*self.grid_keys, "n", "violations", "measured", "bound", "tightness", "p (Holm)",
                "verdict"]
        rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for pt in self.points:
            cells = [*self._cells(pt), f"{pt.adjusted_p:.3g}", pt.verdict]
            rows.append("| " + " | ".join(cells) + " |")
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.summary() + "\n" + self.table()

    @property
    def figure(self) -> Figure:
        """Theory vs empirics: measured statistic and bound per grid point, and tightness."""
        if self._figure is None:
            self._figure = _figure(self)
        return self._figure

    def save_figure(self, path: str | Path) -> list[str]:
        """Write the figure; ``path`` with a suffix (.png/.svg/.pdf) or a stem (PNG + SVG)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig = self.figure
        if path.suffix.lower() in (".png", ".svg", ".pdf"):
            fig.savefig(str(path), dpi=110)
            return [str(path)]
        paths = [str(path) + ".png", str(path) + ".svg"]
        fig.savefig(paths[0], dpi=110)
        fig.savefig(paths[1])
        return paths

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (no figure)."""
        return {
            "holds": self.holds, "verdict": self.verdict, "failures": self.failures,
            "tightness": self.tightness, "points": [p.to_dict() for p in self.points],
            "quantity": self.quantity, "statement": self.statement,
            "direction": self.direction, "delta": self.delta, "alpha": self.alpha,
            "budget": self.budget, "seed": self.seed, "bound": self.bound_text,
        }

    def _repr_html_(self) -> str:
        """Jupyter display: the verdict, a table of the grid points with their p-values (raw and
        Holm-adjusted) and the figure embedded as a base64 PNG."""
        esc = html.escape
        color = _COLORS["violated" if self.holds is False else
                        ("holds" if self.holds else "underpowered")]
        claim, _, rest = self.summary().partition("\n")
        head = [*self.grid_keys, "n", "violations", "measured", "bound", "tightness", "p",
                "p (Holm)", "verdict"]
        rows = []
        for pt in self.points:
            cells = [*self._cells(pt), f"{pt.p_value:.3g}", f"{pt.adjusted_p:.3g}"]
            tds = "".join(f"<td>{esc(c)}</td>" for c in cells)
            rows.append(f"<tr>{tds}<td style=\"color:{_COLORS[pt.verdict]}\">"
                        f"{esc(pt.verdict)}</td></tr>")
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=80)
        png = base64.b64encode(buf.getvalue()).decode("ascii")
        ths = "".join(f"<th>{esc(h)}</th>" for h in head)
        notes = "".join(f"<li>{esc(line)}</li>" for line in rest.splitlines()[1:])
        return (
            f"<div class=\"flatstart-bound\"><p><b>{esc(claim)}</b><br>"
            f"<span style=\"color:{color}\"><b>{esc(self.verdict.upper())}</b></span> "
            f"over {len(self.points)} grid point(s) (alpha = {self.alpha}, Holm over the grid, "
            f"budget {esc(self.budget)}, seed {self.seed})</p>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + f"<table><thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<img alt=\"measured vs bound\" src=\"data:image/png;base64,{png}\"/></div>"
        )


_COLORS = {"holds": "#2e7d32", "violated": "#c62828", "underpowered": "#ef6c00",
           "inconclusive": "#6a1b9a"}


def _figure(res: BoundResult) -> Figure:
    """Two panels: measured statistic (colour = verdict), 5–95 % sample band and bound per grid
    point against the first numeric varying grid key; tightness ``measured / bound``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    pts = res.points
    varying = [k for k in res.grid_keys if len({repr(p.params.get(k)) for p in pts}) > 1]
    numeric = [k for k in varying if all(
        isinstance(p.params.get(k), (int, float)) and not isinstance(p.params.get(k), bool)
        for p in pts)]
    xkey = numeric[0] if numeric else None
    others = [k for k in varying if k != xkey]
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pts):
        label = ", ".join(f"{k}={p.params.get(k)}" for k in others)
        groups.setdefault(label, []).append(i)
    xs_all = np.array([float(p.params[xkey]) if xkey else i for i, p in enumerate(pts)])
    bnd_all = np.array([p.bound for p in pts])
    meas_all = np.array([p.measured for p in pts])
    lo_all = np.array([p.quantiles["q05"] for p in pts])
    cycle = ["#1f77b4", "#9467bd", "#8c564b", "#17becf", "#7f7f7f", "#bcbd22"]
    for gi, (label, idx) in enumerate(groups.items()):
        ii = np.array(sorted(idx, key=lambda j: xs_all[j]))
        col = cycle[gi % len(cycle)]
        suffix = f" ({label})" if label else ""
        ax1.fill_between(xs_all[ii], lo_all[ii], [pts[j].quantiles["q95"] for j in ii],
                         color=col, alpha=0.12, lw=0,
                         label="samples 5–95%" if gi == 0 else None)
        ax1.plot(xs_all[ii], [pts[j].quantiles["median"] for j in ii], color=col, lw=1,
                 alpha=0.6)
        ax1.plot(xs_all[ii], bnd_all[ii], "--", color=col, lw=1.5, label="bound B" + suffix)
        for j in ii:
            ax1.plot([xs_all[j]], [meas_all[j]], "o", color=_COLORS[pts[j].verdict])
            ax2.plot([xs_all[j]], [res.tightness[j]], "s", color=_COLORS[pts[j].verdict])
        ax2.plot(xs_all[ii], np.array(res.tightness)[ii], "-", color=col, lw=0.8,
                 label=label or None)
    ax1.plot([], [], "o", color="0.3", label=f"measured ({res.statement}); color = verdict")
    vals = np.concatenate([lo_all, bnd_all, meas_all])
    vals = vals[np.isfinite(vals)]
    if vals.size and np.all(vals > 0):
        ax1.set_yscale("log")
    ax1.set_xlabel(xkey or "grid point")
    ax1.set_ylabel(res.quantity)
    ax1.legend(fontsize=7)
    ax1.set_title(f"{res.quantity} vs B = {res.bound_text}"[:80], fontsize=9)
    tight = np.array(res.tightness, dtype=float)
    ax2.axhline(1.0, color="k", ls="--", lw=1)
    fin = tight[np.isfinite(tight)]
    if fin.size and np.all(fin > 0):
        ax2.set_yscale("log")
    if any(groups):
        ax2.legend(fontsize=7)
    ax2.set_xlabel(xkey or "grid point")
    ax2.set_ylabel("measured / bound")
    ax2.set_title(f"tightness; verdict: {res.verdict}", fontsize=9,
                  color=_COLORS["violated" if res.holds is False else
                                ("holds" if res.holds else "underpowered")])
    fig.text(0.01, 0.01, f"statement {res.statement} ({res.direction}), delta {res.delta}, "
             f"alpha {res.alpha}, budget {res.budget}, seed {res.seed}", fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig



def check_bound(
    bound: Any,
    quantity: str,
    statement: str,
    grid: Mapping[str, Sequence[Any]],
    network: Mapping[str, Any],
    seed: int = 0,
    budget: str = "quick",
    *,
    delta: float | None = None,
    direction: str = "upper",
    alpha: float = 0.01,
    device: str = "cpu",
    samples: int | None = None,
) -> BoundResult:
    r"""Check a closed-form bound on a quantity of randomly initialized networks.

    At every point of the Cartesian ``grid`` (merged over ``network``), ``samples`` (default:
    by ``budget`` and the quantity's cost, :data:`SAMPLES`) independent networks are built with
    :mod:`flatstart.montecarlo.networks`, the quantity is measured (:data:`QUANTITIES`) and the
    statement is tested against the bound's value there; grid points are combined with Holm's method
    [ref: Holm 1979]. Tests: almost surely — any violation refutes; probability
    ``P(Q > B) ≤ δ`` — exact binomial test (``p = P(Bin(n, δ) ≥ k)``, equivalent to the
    one-sided Clopper–Pearson lower limit exceeding δ [ref: Clopper & Pearson 1934]); median —
    the same with ``δ = ½`` (sign test); mean — one-sided Student t, refused (underpowered) for
    heavy-tailed samples whose effective size ``(Σ|q|)²/Σq²`` is below
    ``max(MIN_ESS, ESS_FRACTION·n)``. ``holds=None`` (underpowered) whenever a point's test had
    power < :data:`POWER` to detect a violation rate ``min(2δ, (1+δ)/2)`` (probability/median) or
    1 % (almost surely), never ``True``.

    Args:
        bound: sympy expression (or string) in the parameter names, or ``callable(**params)``.
            Symbols must be keys of ``grid`` or ``network`` or :data:`PARAMETER_NAMES`.
        quantity: a key of :data:`QUANTITIES` (built-in or added with
            :func:`register_quantity`) or a registered :class:`Quantity`.
        statement: ``"almost_surely"``, ``"probability"``, ``"median"`` or ``"mean"``.
        grid: dict of lists; the Cartesian product is checked (non-empty).
        network: ``kind`` (``"chain"``/``"mlp"``/``"module"``) and any of :data:`NETWORK_KEYS`.
            A torch network of your own (kind ``"module"``, implied by ``factory``/``module``):
            ``factory`` (``seed -> nn.Module``) or ``module`` (an ``nn.Module`` class) with
            ``kwargs`` and ``init`` (``init(module)``), ``input_shape`` (one input's shape) or
            ``inputs`` (a tensor ``(batch, ...)``), ``batching`` (``"auto"``, ``"vmap"``,
            ``"loop"``); keys of ``network`` and ``grid`` that the factory takes as keyword
            parameters are passed to it. Chains and MLPs: ``depth``,
            ``width``/``widths``, ``init`` (chains: or ``sigma``/``bound``), ``activation``,
            ``residual``, ``norm``, ``input_dim``, ``output_dim``, ``x`` and ``y`` (input RMS
            coordinate and target, default 1, 1), ``layer``, ``batch``, and for escape times
            ``optimizer``, ``lr``, ``threshold``, ``max_steps``, ``criterion``.
        seed: run seed (>= 0); point ``i``'s chunk ``c`` uses ``SeedSequence([seed, i, c])``.
        budget: ``"quick"``, ``"standard"`` or ``"full"``.
        delta: δ in (0, 1) for ``statement="probability"`` (or put ``delta`` in the grid).
        direction: ``"upper"`` (``Q ≤ B``) or ``"lower"`` (``Q ≥ B``).
        alpha: family-wise level over the grid.
        device: ``"cpu"`` or ``"cuda"``.
        samples: override the number of networks per grid point.

    Returns:
        A :class:`BoundResult`.

    Raises:
        ValueError: unknown symbol, quantity, statement, direction, network key; empty grid;
            ``delta`` outside (0, 1) for a probability statement.

    >>> import sympy as sp
    >>> L = sp.Symbol("depth")
    >>> r = check_bound(L * 0 + 1e6, "output", "almost_surely", {"depth": [2]},
    ...                 {"kind": "chain", "init": "xavier_normal"}, samples=200)
    >>> r.holds
    True
    """
    quantity = _quantity_name(quantity)
    statement = check_choice("statement", statement, STATEMENTS)
    direction = check_choice("direction", direction, DIRECTIONS)
    alpha = check_probability("alpha", alpha)
    seed = check_int("seed", seed, minimum=0)
    budget = check_budget(budget)
    device = check_device(device)
    net = _check_network(network)
    points = _check_grid(grid)
    if statement == "probability":
        if delta is None and "delta" not in grid and "delta" not in net:
            raise ValueError("statement 'probability' needs delta in (0, 1) (argument, network "
                             "or grid)")
        if delta is not None:
            delta = check_probability("delta", delta)
    elif delta is not None:
        delta = check_probability("delta", delta)
    if samples is not None:
        samples = check_int("samples", samples, minimum=2)
    evaluate, text = _prepare_bound(bound, grid, net)
    kind = net["kind"]
    count = samples if samples is not None else SAMPLES[_cost_class(quantity, kind)][
        _BUDGET_INDEX[budget]]

    results: list[PointResult] = []
    full: list[dict[str, Any]] = []
    for i, point in enumerate(points):
        params = _point_params(net, point, quantity)
        if delta is not None and "delta" not in point:
            params.setdefault("delta", delta)
        d_here = params.get("delta") if statement == "probability" else None
        if statement == "probability":
            d_here = check_probability("delta", d_here)
        b = evaluate(params)
        if not math.isfinite(b):
            raise ValueError(f"bound is not finite at {_short(point)}: {b}")
        meas = measure(quantity, params, count, seed, device, point_index=i)
        full.append(params)
        results.append(_test_point(meas, b, statement, direction, d_here, alpha,
                                   _display_params(params)))

    pvals = [pt.p_value for pt in results]
    rej, adj = holm(pvals, alpha)
    for pt, r, a in zip(results, rej, adj, strict=True):
        pt.adjusted_p = float(a)
        if r:
            pt.verdict = "violated"
            pt.reason = (f"{pt.violations} of {pt.n} violations; Holm-adjusted p = {a:.3g} <= "
                         f"{alpha}")
        elif pt.verdict == "holds" and statement == "almost_surely" and pt.violations:
            pt.verdict = "violated"  # pragma: no cover - p = 0 always rejects
    failures = []
    for pt, params in zip(results, full, strict=True):
        if pt.verdict != "violated":
            continue
        w = pt.worst
        failure = {
            "params": {k: v for k, v in pt.params.items()}, "seed": w.get("seed"),
            "index": w.get("index"), "count": w.get("chunk_size"), "value": w["value"],
            "bound": pt.bound,
            "measured": pt.measured, "violations": pt.violations, "n": pt.n,
            "p_value": pt.adjusted_p,
            "reproduce": _reproduce(params, w),
        }
        if params["kind"] == "module" and w.get("seed") is not None:
            from flatstart.montecarlo.modules import copy_seed

            failure["copy_seed"] = copy_seed(w["seed"], w["index"])
        failures.append(failure)
    if failures:
        holds: bool | None = False
    elif any(pt.verdict != "holds" for pt in results):
        holds = None
    else:
        holds = True
    return BoundResult(
        holds=holds, failures=failures, tightness=[pt.tightness for pt in results],
        points=results, quantity=quantity, statement=statement, direction=direction,
        delta=delta, alpha=alpha, budget=budget, seed=seed, bound_text=text,
        grid_keys=list(grid),
    )


def _reproduce(params: dict[str, Any], worst: dict[str, Any]) -> str:
    """Code that rebuilds the network of a counterexample (its chunk seed and index)."""
    if params["kind"] == "module":
        from flatstart.montecarlo.modules import copy_seed

        fac = params["_factory"]
        what = (fac.name if fac.fn is not None else
                f"make_factory(module={fac.name}, kwargs={fac.kwargs!r}"
                + (f", init={getattr(fac.init, '__name__', fac.init)}" if fac.init else "") + ")")
        kw = "".join(f", {k}={v!r}" for k, v in params["_forward"].items())
        cs = (copy_seed(worst["seed"], worst["index"]) if worst.get("seed") is not None
              else None)
        return f"flatstart.montecarlo.modules.module_copy({what}, seed={cs}{kw})"
    keys = ("depth", "width", "init", "sigma", "bound", "activation", "residual", "norm",
            "input_dim", "output_dim")
    args = ", ".join(f"{k}={params[k]!r}" for k in keys
                     if k in params and params[k] is not None
                     and not (params["kind"] == "chain" and k in ("width", "input_dim")))
    fn = "chains" if params["kind"] == "chain" else "mlps"
    return (f"flatstart.montecarlo.networks.{fn}(count={worst.get('chunk_size')}, {args}, "
            f"seed={worst.get('seed')}).select([{worst.get('index')}])")



_FILE_KEYS = ("bound", "quantity", "statement", "grid", "network")
_OPTIONAL_KEYS = ("delta", "seed", "budget", "direction", "alpha", "device", "samples")


def main_check_bound(path: str | Path, out: str | Path | None = None) -> int:
    """``flatstart check-bound FILE``: run :func:`check_bound` from a Python file.

    The file defines ``bound``, ``quantity``, ``statement``, ``grid``, ``network`` and
    optionally ``delta``, ``seed``, ``budget``, ``direction``, ``alpha``, ``device``,
    ``samples`` (the keyword arguments of :func:`check_bound`). Prints the summary and the
    table, writes ``<stem>-check.png`` next to the file (or into ``out``).

    Quantities the file registers (:func:`register_quantity`) are removed again afterwards, so
    the same file can run twice in one process.

    Returns:
        0 the bound holds, 1 it is violated, 2 usage error (missing file, bad definitions),
        3 underpowered / inconclusive.
    """
    with _quantity_scope():
        return _main_check_bound(path, out)


def _main_check_bound(path: str | Path, out: str | Path | None) -> int:
    p = Path(path)
    if not p.is_file():
        print(f"flatstart check-bound: error: no such file {str(p)!r}", file=sys.stderr)
        return 2
    try:
        ns = runpy.run_path(str(p), run_name="__flatstart_bound__")
    except Exception as exc:  # the user's file: report, do not crash
        print(f"flatstart check-bound: error: {p} failed to run: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2
    missing = [k for k in _FILE_KEYS if k not in ns]
    if missing:
        print(f"flatstart check-bound: error: {p} must define {list(_FILE_KEYS)}; missing "
              f"{missing} (optional: {list(_OPTIONAL_KEYS)})", file=sys.stderr)
        return 2
    kwargs = {k: ns[k] for k in _OPTIONAL_KEYS if k in ns}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            res = check_bound(ns["bound"], ns["quantity"], ns["statement"], ns["grid"],
                              ns["network"], **kwargs)
    except (ValueError, TypeError) as exc:
        print(f"flatstart check-bound: error: {exc}", file=sys.stderr)
        return 2
    print(res.summary())
    print(res.table())
    folder = Path(out) if out is not None else p.parent
    paths = res.save_figure(folder / f"{p.stem}-check.png")
    print(f"figure: {', '.join(paths)}")
    return {True: 0, False: 1, None: 3}[res.holds]
