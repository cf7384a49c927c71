"""The report folder: files, JSON schema, parquet, figures referenced from index.html."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats as sps  # noqa: E402

import flatstart.validation.catalogue._demo  # noqa: E402,F401
from flatstart.validation import plots  # noqa: E402
from flatstart.validation.claims import Result, verify_all  # noqa: E402
from flatstart.validation.report import NESTED_COLUMNS, figure_stem, write_report  # noqa: E402

IDS = ["DEMO.normal-cdf", "DEMO.normal-mean", "DEMO.wrong-mean", "DEMO.broken"]
REQUIRED = ["id", "verdict", "statistic", "p_value", "alpha", "n", "seed", "budget",
            "parameters", "mutant_rejected", "seconds"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list[Result]]:
    out = tmp_path_factory.mktemp("report")
    results = verify_all(IDS, seed=1, cache=False, out=out)
    return out, results


def test_files_exist(report) -> None:
    out, results = report
    for name in ("index.html", "summary.md", "results.json", "results.parquet"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for r in results:
        for ext in ("png", "svg"):
            f = out / "figures" / f"{figure_stem(r.id)}.{ext}"
            assert f.is_file() and f.stat().st_size > 1000, f
    assert (out / "figures" / "DEMO.normal-cdf.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (out / "figures" / "DEMO.normal-cdf.svg").read_bytes()[:2000]


def test_results_json_schema(report) -> None:
    out, results = report
    rows = json.loads((out / "results.json").read_text())
    assert isinstance(rows, list) and [r["id"] for r in rows] == IDS
    for row in rows:
        for key in REQUIRED:
            assert key in row, (row["id"], key)
        assert row["verdict"] in ("consistent", "refuted", "underpowered", "error")
        assert isinstance(row["parameters"], list)
    by_id = {r["id"]: r for r in rows}
    assert by_id["DEMO.wrong-mean"]["verdict"] == "refuted"
    assert by_id["DEMO.broken"]["verdict"] == "error" and by_id["DEMO.broken"]["error"]
    assert [Result.from_dict(r).to_dict() for r in rows] == [r.to_dict() for r in results]


def test_parquet_readable(report) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out, results = report
    table = pq.read_table(out / "results.parquet").to_pylist()
    assert [t["id"] for t in table] == IDS
    for t, r in zip(table, results, strict=True):
        assert t["verdict"] == r.verdict and t["p_value"] == r.p_value
        for col in NESTED_COLUMNS:
            assert json.loads(t[col]) == r.to_dict()[col], col


def test_index_html_references_figures(report) -> None:
    out, results = report
    html = (out / "index.html").read_text()
    for r in results:
        assert f'src="figures/{figure_stem(r.id)}.png"' in html
        assert f'href="figures/{figure_stem(r.id)}.svg"' in html
    assert "refuted" in html and "#c62828" in html  # verdict colour
    md = (out / "summary.md").read_text()
    assert "| DEMO.wrong-mean | refuted |" in md


def test_plot_helpers_draw() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(300)
    fig, axes = plt.subplots(1, 5)
    assert plots.plot_cdf_vs_empirical(axes[0], sps.norm.cdf, x, 0.01) is axes[0]
    assert plots.plot_density_vs_hist(axes[1], sps.norm.pdf, x) is axes[1]
    d = np.array([1, 2, 4, 8])
    plots.plot_median_vs_depth(axes[2], d, 0.5**d, 0.5**d * 1.1,
                               np.c_[0.5**d * 0.9, 0.5**d * 1.3])
    plots.plot_trend(axes[3], d, 2 * d + 1, (2.0, 1.0), 2.0)
    plots.plot_spectrum(axes[4], x, sps.norm.pdf, support=(-2.0, 2.0))
    plt.close(fig)
    with pytest.raises(ValueError, match="samples"):
        plots.plot_cdf_vs_empirical(plt.gca(), sps.norm.cdf, [], 0.01)
    plt.close("all")


def test_dkw_band_covers_true_cdf_at_rate_alpha() -> None:
    """The band drawn by plot_cdf_vs_empirical is a valid (1 - alpha) band; a mutant leaves it."""
    from flatstart.validation.stats import bound_violation_test, dkw_epsilon

    alpha, n, reps = 0.05, 200, 1000
    miss = mutant_in = 0
    for seed in range(reps):
        x = np.sort(np.random.default_rng(seed).standard_normal(n))
        fn_hi = np.arange(1, n + 1) / n
        fn_lo = np.arange(0, n) / n
        eps = dkw_epsilon(n, alpha)
        f = sps.norm.cdf(x)
        miss += bool(np.any(f > fn_lo + eps) or np.any(f < fn_hi - eps))
        g = sps.norm.cdf(x, 0, 1.6)
        mutant_in += not (np.any(g > fn_lo + eps) or np.any(g < fn_hi - eps))
    # coverage failures not significantly above alpha (exact one-sided test at 0.001)
    assert not bound_violation_test(miss, reps, alpha, alpha=0.001).reject, miss
    assert mutant_in <= reps * 0.05, mutant_in


def test_write_report_without_records_uses_default_figures(report, tmp_path: Path) -> None:
    """Results alone (e.g. read back from results.json) still give a figure per claim."""
    out, results = report
    rows = json.loads((out / "results.json").read_text())
    paths = write_report([Result.from_dict(r) for r in rows], tmp_path / "again")
    assert set(paths["figures"]) == set(IDS)
    for png, svg in paths["figures"].values():
        assert Path(png).stat().st_size > 1000 and Path(svg).stat().st_size > 1000


def test_problems_first_relative_tracebacks_and_html_repr(tmp_path) -> None:
    from pathlib import Path

    from flatstart import validation
    from flatstart.validation.claims import Result
    from flatstart.validation.report import problems_first, relative_paths

    def res(cid: str, verdict: str) -> Result:
        return Result(id=cid, verdict=verdict, statistic=1.0, p_value=0.5, alpha=0.01, n=10,
                      seed=0, budget="quick", parameters=[], mutant_rejected=True,
                      mutant_p_value=0.0, seconds=0.0, versions={})

    rs = [res("A.a", "consistent"), res("A.b", "underpowered"), res("A.c", "refuted"),
          res("A.d", "error")]
    assert [r.id for r in problems_first(rs)] == ["A.c", "A.d", "A.b", "A.a"]
    root = str(Path(validation.__file__).resolve().parents[1])
    tb = f'File "{root}/validation/x.py", line 1\nFile "/usr/lib/python3/site-packages/n.py"'
    shown = relative_paths(tb)
    assert root not in shown and 'File "validation/x.py"' in shown
    assert 'File "<site-packages>/n.py"' in shown
    html = rs[2]._repr_html_()
    assert "A.c" in html and "refuted" in html and "<table>" in html
