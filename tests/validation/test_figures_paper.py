"""Paper-style figures: single-column size, 8-9 pt text, no verdict title, vector formats, and
the plotted data beside the figure as CSV (read back exactly)."""

from __future__ import annotations

import csv
import dataclasses
import struct
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from scipy import stats as sps  # noqa: E402

import flatstart.validation.catalogue._demo  # noqa: E402,F401
from flatstart.validation import plots  # noqa: E402
from flatstart.validation.claims import get, verify_all  # noqa: E402

IDS = ["DEMO.normal-cdf", "DEMO.normal-mean"]


@pytest.fixture(scope="module")
def run() -> dict[str, tuple]:
    results = verify_all(IDS, seed=1, cache=False, resolution=False)
    return {r.id: (get(r.id), r.records, r) for r in results}


def _read_csv(path: str | Path) -> dict[str, list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    head, body = rows[0], rows[1:]
    return {h: [row[i] for row in body if row[i] != ""] for i, h in enumerate(head)}


def _floats(values: list[str]) -> np.ndarray:
    return np.array([float(v) for v in values])


def _png_size(path: str | Path) -> tuple[int, int]:
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _visible_text_sizes(fig: plt.Figure) -> list[float]:
    fig.canvas.draw()
    return [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def test_paper_style_size_fonts_and_no_title(run) -> None:
    claim, recs, result = run["DEMO.normal-cdf"]
    fig = plots.claim_figure(claim, recs, result, style="paper")
    try:
        w, h = fig.get_size_inches()
        assert w == pytest.approx(plots.PAPER_WIDTH) and 1.5 <= h <= 3.0
        assert fig._suptitle is None and not fig.texts  # no verdict title, no footer
        sizes = _visible_text_sizes(fig)
        assert sizes and min(sizes) >= 8 and max(sizes) <= 9, sorted(set(sizes))
        # two panels at one column's width: one shared legend above them
        assert all(ax.get_legend() is None for ax in fig.get_axes()) and len(fig.legends) == 1
    finally:
        plt.close(fig)
    report = plots.claim_figure(claim, recs, result)  # the default style is unchanged
    try:
        assert tuple(report.get_size_inches()) == (8, 4.8)
        assert "consistent" in report._suptitle.get_text()
        assert min(_visible_text_sizes(report)) < 8  # the report's small footer
    finally:
        plt.close(report)


def test_save_paper_figure_vector_formats_and_exact_csv(run, tmp_path: Path) -> None:
    claim, recs, result = run["DEMO.normal-cdf"]
    fig = plots.claim_figure(claim, recs, result, style="paper")
    paths = plots.save_figure(fig, str(tmp_path / "cdf"), formats=["pdf", "svg", "png"], dpi=300)
    assert paths == [str(tmp_path / f"cdf.{e}") for e in ("pdf", "svg", "png", "csv")]
    assert not plt.fignum_exists(fig.number)  # closed
    pdf = Path(paths[0]).read_bytes()
    assert pdf[:5] == b"%PDF-" and b"/Type3" not in pdf  # TrueType fonts, not Type 3
    svg = Path(paths[1]).read_text()
    assert "<svg" in svg and "<image" not in svg  # vector, no embedded raster
    width, _ = _png_size(paths[2])
    assert abs(width - round(plots.PAPER_WIDTH * 300)) <= 2
    cols = _read_csv(paths[3])
    for i, r in enumerate(recs, start=1):
        loc, scale = claim.predict(r.params)
        panel = f"ax{i} (mu={r.params['mu']}, sigma={r.params['sigma']})"
        # empirical series: the samples themselves, exactly
        x = _floats(cols[f"{panel}: empirical (n=400) [steps-post]: x"])
        np.testing.assert_array_equal(x, np.sort(r.measurement))
        fn = _floats(cols[f"{panel}: empirical (n=400) [steps-post]: y (CDF)"])
        np.testing.assert_array_equal(fn, np.arange(1, 401) / 400)
        # theory series: the exact CDF on its grid
        gx = _floats(cols[f"{panel}: exact CDF: x"])
        gy = _floats(cols[f"{panel}: exact CDF: y (CDF)"])
        np.testing.assert_allclose(gy, sps.norm.cdf(gx, loc, scale), rtol=0, atol=1e-15)
        # the DKW band: lower and upper edge around the empirical CDF
        lo = _floats(cols[f"{panel}: DKW band, alpha=0.01: y1 (CDF)"])
        hi = _floats(cols[f"{panel}: DKW band, alpha=0.01: y2 (CDF)"])
        eps = plots.dkw_epsilon(400, 0.01)
        assert np.all(hi >= lo) and np.isclose(np.max(hi - lo), 2 * eps)


def test_default_figure_csv_has_points_and_their_parameters(run, tmp_path: Path) -> None:
    claim, recs, result = run["DEMO.normal-mean"]
    paths = plots.save_figure(plots.claim_figure(claim, recs, result, style="paper"),
                              str(tmp_path / "mean"), formats="png")
    assert paths[-1].endswith("mean.csv") and _png_size(paths[0])[0] == 374  # 3.4 in x 110
    cols = _read_csv(paths[-1])
    p = _floats(cols["ax1: claim p-value: y (p-value (unadjusted))"])
    np.testing.assert_array_equal(p, [r.outcome.p_value for r in recs])
    mp = _floats(cols["ax1: mutant p-value: y (p-value (unadjusted))"])
    np.testing.assert_array_equal(mp, [r.mutant.p_value for r in recs])
    assert _floats(cols["ax1: alpha = 0.01 (horizontal line): y (p-value (unadjusted))"]) == [
        0.01]
    assert cols["ax1: x tick label"] == [plots._short_params(r.params) for r in recs]


def test_figure_data_covers_lines_bands_bars_points_and_segments() -> None:
    fig, (a, b) = plt.subplots(1, 2)
    x = np.array([0.0, 0.5, 1.25])
    a.plot(x, x**2, label="theory")
    a.fill_between(x, x - 0.1, x + 0.3, label="band")
    a.axvline(0.75, label="edge")
    a.scatter([1.0, 2.0], [3.0, 4.0], label="measured")
    a.errorbar([1.0], [2.0], yerr=[0.5], fmt="none", label="ci")
    a.set_xlabel("depth")
    b.hist([0.1, 0.2, 0.25, 0.9], bins=[0.0, 0.5, 1.0], label="samples")
    b.plot([0, 1], [1, 2])  # no label
    b.set_title("right")
    cols = plots.figure_data(fig)
    plt.close(fig)

    def f(name: str) -> list[float]:
        return [float(v) for v in cols[name]]

    assert f("ax1: theory: x (depth)") == list(x) and f("ax1: theory: y") == list(x**2)
    assert f("ax1: band: x (depth)") == list(x)
    assert f("ax1: band: y1") == list(x - 0.1) and f("ax1: band: y2") == list(x + 0.3)
    assert f("ax1: edge (vertical line): x (depth)") == [0.75]
    assert f("ax1: measured: x (depth)") == [1.0, 2.0] and f("ax1: measured: y") == [3.0, 4.0]
    assert f("ax1: segments 1: y") == [1.5, 2.5]  # the error bar
    assert f("ax2 (right): samples: left") == [0.0, 0.5]
    assert f("ax2 (right): samples: right") == [0.5, 1.0]
    assert f("ax2 (right): samples: height") == [3.0, 1.0]  # counts
    assert f("ax2 (right): line 1: y") == [1.0, 2.0]


def test_bad_values_are_clear_errors(run, tmp_path: Path, monkeypatch) -> None:
    claim, recs, result = run["DEMO.normal-mean"]
    with pytest.raises(ValueError, match="style must be one of"):
        plots.claim_figure(claim, recs, result, style="poster")
    with pytest.raises(ValueError, match="unknown format 'gif'; allowed: png, svg, pdf, pgf"):
        plots.check_formats("pdf,gif")
    with pytest.raises(ValueError, match="at least one"):
        plots.check_formats([])
    assert plots.check_formats(["PDF", "png", "pdf"]) == ("pdf", "png")
    fig = plt.figure()
    with pytest.raises(ValueError, match=r"dpi must be an integer in \[10, 2400\], got 5"):
        plots.save_figure(fig, str(tmp_path / "x"), dpi=5)
    assert not plt.fignum_exists(fig.number) and not list(tmp_path.iterdir())
    # pgf without a TeX install: one clear line, no file, no traceback from LaTeX
    monkeypatch.setattr(plots.shutil, "which", lambda name: None)
    fig = plots.claim_figure(claim, recs, result, style="paper")
    with pytest.raises(RuntimeError) as exc:
        plots.save_figure(fig, str(tmp_path / "y"), formats="pgf")
    text = str(exc.value)
    assert "\n" not in text and "LaTeX" in text and "not on PATH" in text
    assert not list(tmp_path.iterdir())


def test_paper_figure_of_a_failing_hook_is_an_error(run) -> None:
    claim, recs, result = run["DEMO.normal-cdf"]

    def broken(fig: object, records: object) -> None:
        raise KeyError("nope")

    bad = dataclasses.replace(claim, plot=broken)
    with pytest.raises(RuntimeError, match="plot hook of DEMO.normal-cdf failed: KeyError"):
        plots.claim_figure(bad, recs, result, style="paper")
    fig = plots.claim_figure(bad, recs, result)  # the report falls back, as before
    try:
        assert any("plot hook failed: KeyError" in t.get_text() for t in fig.texts)
    finally:
        plt.close(fig)


@pytest.mark.skipif(__import__("shutil").which(str(matplotlib.rcParams["pgf.texsystem"]))
                    is None, reason="pgf output needs a TeX install")
def test_pgf_output_with_tex(run, tmp_path: Path) -> None:
    claim, recs, result = run["DEMO.normal-mean"]
    paths = plots.save_figure(plots.claim_figure(claim, recs, result, style="paper"),
                              str(tmp_path / "m"), formats="pgf")
    assert "\\begin{pgfpicture}" in Path(paths[0]).read_text()
