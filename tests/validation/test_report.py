"""The report folder: files, JSON schema, parquet, figures referenced from index.html."""

from __future__ import annotations

import json
import re
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


# --------------------------------------------------------------------------- figure cache


CACHED_IDS = ["DEMO.normal-cdf", "DEMO.normal-mean", "DEMO.broken"]


def _count_drawings(monkeypatch) -> list[str]:
    """Record the claim id of every figure that claim_figure draws."""
    drawn: list[str] = []
    real = plots.claim_figure

    def counting(claim, records, result=None, **kw):
        drawn.append(claim.id)
        return real(claim, records, result, **kw)

    monkeypatch.setattr(plots, "claim_figure", counting)
    return drawn


def test_figure_cache_serves_unchanged_figures(tmp_path: Path, monkeypatch) -> None:
    """A rerun on cached points copies the figures (byte-identical) instead of redrawing them;
    the broken claim (not cacheable) is drawn each time."""
    from flatstart.validation.cache import Cache

    cache = Cache(tmp_path / "cache")
    drawn = _count_drawings(monkeypatch)
    first = verify_all(CACHED_IDS, seed=2, cache=cache, resolution=False)
    recs = first.records
    p1 = write_report(first, tmp_path / "a", records=recs, figure_cache=cache)
    assert p1["cached_figures"] == [] and sorted(drawn) == sorted(CACHED_IDS)
    assert cache.info()["figures"] == 4  # PNG + SVG of the two cacheable claims
    drawn.clear()
    again = verify_all(CACHED_IDS, seed=2, cache=cache, resolution=False)
    assert all(pt["cached"] for r in again[:2] for pt in r.details["points"])
    recs = again.records
    p2 = write_report(again, tmp_path / "b", records=recs, figure_cache=cache)
    assert sorted(p2["cached_figures"]) == ["DEMO.normal-cdf", "DEMO.normal-mean"]
    assert drawn == ["DEMO.broken"]
    for cid in p2["cached_figures"]:
        for a, b in zip(p1["figures"][cid], p2["figures"][cid], strict=True):
            assert Path(a).read_bytes() == Path(b).read_bytes()
    assert Path(p2["figures"]["DEMO.broken"][0]).stat().st_size > 1000
    # without a figure cache every figure is drawn
    drawn.clear()
    write_report(again, tmp_path / "c", records=recs)
    assert sorted(drawn) == sorted(CACHED_IDS)
    cache.clear()
    assert cache.info()["figures"] == 0


def test_figure_cache_never_serves_a_figure_of_other_data(tmp_path: Path, monkeypatch) -> None:
    """Changing a record (its key, or its outcome), the result shown, the style or the claim's
    plot hook changes the figure key: the figure is redrawn, never copied."""
    import dataclasses

    from flatstart.validation.cache import Cache
    from flatstart.validation.claims import get
    from flatstart.validation.report import figure_key

    cache = Cache(tmp_path / "cache")
    res = verify_all(["DEMO.normal-mean"], seed=3, cache=cache, resolution=False)[0]
    recs = res.records
    claim = get(res.id)
    base = figure_key(res, claim, recs)
    assert base is not None and base == figure_key(res, claim, res.records)
    other_key = [dataclasses.replace(recs[0], key="f" * 64), *recs[1:]]
    outcome = dataclasses.replace(recs[0].outcome, p_value=recs[0].outcome.p_value / 2)
    other_outcome = [dataclasses.replace(recs[0], outcome=outcome), *recs[1:]]
    other_result = dataclasses.replace(res, verdict="refuted")
    keys = {base, figure_key(res, claim, other_key), figure_key(res, claim, other_outcome),
            figure_key(other_result, claim, recs), figure_key(res, claim, recs, style="paper"),
            figure_key(res, dataclasses.replace(claim, plot=lambda fig, records: None), recs)}
    assert len(keys) == 6
    # records without cache keys (rebuilt from results.json) or with an error: never cached
    from flatstart.validation.report import records_from_result

    assert figure_key(res, claim, records_from_result(res)) is None
    assert figure_key(res, claim, [dataclasses.replace(recs[0], error="boom")]) is None
    # end to end: a changed record is redrawn and its figure differs
    drawn = _count_drawings(monkeypatch)
    p1 = write_report([res], tmp_path / "a", records={res.id: recs}, figure_cache=cache)
    p2 = write_report([res], tmp_path / "b", records={res.id: other_outcome},
                      figure_cache=cache)
    assert p1["cached_figures"] == p2["cached_figures"] == [] and len(drawn) == 2
    assert (Path(p1["figures"][res.id][0]).read_bytes()
            != Path(p2["figures"][res.id][0]).read_bytes())
    p3 = write_report([res], tmp_path / "c", records={res.id: recs}, figure_cache=cache)
    assert p3["cached_figures"] == [res.id] and len(drawn) == 2


# --------------------------------------------------------------------------- Jupyter, problems


def test_result_repr_html_embeds_the_figure() -> None:
    import base64
    import re

    from flatstart.validation.report import figure_html

    res = verify_all(["DEMO.normal-cdf"], seed=1, cache=False, resolution=False)[0]
    html = res._repr_html_()
    assert "<table>" in html and "DEMO.normal-cdf" in html
    m = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert m is not None
    assert base64.b64decode(m.group(1))[:4] == b"\x89PNG"
    # a result read back (no records in this process for it): the default p-value figure
    back = Result.from_dict(res.to_dict())
    back.seed = 99  # not the latest run's: rebuilt from details
    assert "data:image/png;base64," in figure_html(back)
    # a claim not registered here: the table alone
    ghost = Result.from_dict({**res.to_dict(), "id": "NOPE.ghost"})
    assert "<table>" in ghost._repr_html_() and "<img" not in ghost._repr_html_()


def test_results_html_table_problems_first(report) -> None:
    from flatstart.validation.report import Results, results_html

    _, results = report
    html = results_html(results)
    rows = re.findall(r"<tr><td>([A-Z.a-z-]+)</td>", html)
    assert rows == ["DEMO.wrong-mean", "DEMO.broken", "DEMO.normal-cdf", "DEMO.normal-mean"]
    assert "2 consistent, 1 refuted, 0 underpowered, 1 error" in html
    assert "#c62828" in html and "<img" not in html
    run = Results(results)
    assert run._repr_html_() == html and not run.ok
    assert run.counts() == {"consistent": 2, "refuted": 1, "underpowered": 0, "error": 1}
    assert run.summary().splitlines()[2].startswith("DEMO.wrong-mean")
    with_figs = Results(results).html(figures=True)
    assert with_figs.count("<details>") == 4 and "data:image/png;base64," in with_figs


def test_report_lists_problems_first_with_linked_counts_and_relative_paths(report) -> None:
    from flatstart import validation

    out, _ = report
    html = (out / "index.html").read_text()
    assert '<a href="#DEMO.wrong-mean">1 refuted</a>' in html
    assert '<a href="#DEMO.broken">1 error</a>' in html and "0 underpowered" in html
    table = html[html.index("<table>"):html.index("</table>")]
    assert table.index("DEMO.wrong-mean") < table.index("DEMO.broken") < table.index(
        "DEMO.normal-cdf")
    root = str(Path(validation.__file__).resolve().parents[1])
    assert "DEMO.broken: simulated failure" in html
    assert root + "/" not in html and root + "/" not in (out / "summary.md").read_text()
