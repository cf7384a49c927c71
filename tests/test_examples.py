"""The example study ``examples/cnn_study`` (a user's package ``cnnstudy``) runs end to end.

It is copied outside the repository, as a user's own project, and run the way
``docs/tutorials/your-own-study.md`` runs it, each command in a subprocess with the copy's
``src/`` on ``PYTHONPATH`` (nothing is installed into this environment):

* ``flatstart verify --claims cnnstudy.claims``: the claim is consistent and its mutant (a
  constant 10 % too large) rejected, in ``results.json`` and in ``index.html``; ``flatstart
  plot --style paper --format pdf`` draws the paper figure from the cached run;
* ``pytest`` in the project: its unit tests and, through flatstart's plugin, the claim;
* ``flatstart check-bound bounds/output_second_moment.py``: He et al.'s eq. (10) holds;
* the same ``verify`` on a dask ``LocalCluster`` (``--scheduler``) gives the same numbers;
* ``--claims PATH/claims.py`` loads the claim from the file as well;
* installed (``pip install --target``), its ``flatstart.claims`` entry point makes the claim
  part of the catalogue without ``--claims``; the tutorial's file listings are the files.

About 50 s on one core: quick budget, 1000 tiny CNNs per grid point, nine subprocesses.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cnn_study"
TUTORIAL = ROOT / "docs" / "tutorials" / "your-own-study.md"
CLAIM = "CNN.he-second-moment"
TIMEOUT = 300


def _env(tmp: Path, *paths: Path) -> dict[str, str]:
    """This environment without PYTEST_*/FLATSTART_* variables, ``PYTHONPATH`` = ``paths``,
    one thread, a private cache folder under ``tmp``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "FLATSTART_")) and k != "PYTHONPATH"}
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg",
               FLATSTART_CACHE=str(tmp / "cache"))
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)


def _flatstart(*args: str) -> list[str]:
    return [sys.executable, "-m", "flatstart", *args]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/cnn_study outside the repository (a user's own project)."""
    dst = tmp_path_factory.mktemp("user") / "cnn_study"
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns(
        "__pycache__", "*.egg-info", "build", ".flatstart-cache", ".pytest_cache", "*.png"))
    return dst


def _rows(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_example_files() -> None:
    for name in ("pyproject.toml", "README.md", "src/cnnstudy/__init__.py",
                 "src/cnnstudy/networks.py", "src/cnnstudy/quantities.py",
                 "src/cnnstudy/theory.py", "src/cnnstudy/claims.py", "tests/test_claims.py",
                 "bounds/output_second_moment.py"):
        assert (EXAMPLE / name).is_file(), name
    text = (EXAMPLE / "pyproject.toml").read_text(encoding="utf-8")
    assert '[project.entry-points."flatstart.claims"]' in text
    assert 'cnnstudy = "cnnstudy.claims"' in text
    # layering: the claim's theory never imports torch or flatstart's Monte Carlo
    theory = (EXAMPLE / "src" / "cnnstudy" / "theory.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from)\s+(torch|flatstart|cnnstudy)", theory, re.M)


_DASK_RUN = """\
import sys

from distributed import LocalCluster

from flatstart.validation.cli import main

if __name__ == "__main__":
    out, claim = sys.argv[1:3]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        code = main(["verify", "--claims", "cnnstudy.claims", claim, "--scheduler",
                     cluster.scheduler_address, "--worker-timeout", "120", "--no-cache",
                     "--no-figures", "--progress", "none", "--out", out])
    sys.exit(code)
"""


def test_verify_outside_the_repository_and_on_a_dask_cluster(study: Path) -> None:
    """``flatstart verify --claims cnnstudy.claims``: consistent, the mutant (a constant 10 %
    too large) rejected, in results.json and index.html; ``flatstart plot --style paper``
    draws its PDF from the cached points; the same run with ``--scheduler`` on a dask
    LocalCluster, whose worker process imports the claim by its module name, gives the same
    numbers. (One test: split over two xdist workers, the run would be computed twice.)"""
    env = _env(study.parent, study / "src")
    env["FLATSTART_CACHE"] = str(study.parent / "verify-cache")  # a new, empty cache
    out = study.parent / "report"
    proc = _run(_flatstart("verify", "--claims", "cnnstudy.claims", CLAIM, "--budget", "quick",
                           "--out", str(out), "--progress", "none"), study, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (row,) = _rows(out)
    assert (row["id"], row["verdict"], row["family"]) == (CLAIM, "consistent", "CNN")
    assert row["source"].startswith("He, Zhang, Ren & Sun 2015")
    assert [p["depth"] for p in row["parameters"]] == [2, 3, 4]
    assert row["p_value"] > row["alpha"] == 0.01
    # the mutant is rejected: the claim can fail
    assert row["mutant_rejected"] is True and row["mutant_p_value"] < row["alpha"]
    assert row["resolution"] is not None and row["resolution"] <= 0.1
    html = (out / "index.html").read_text(encoding="utf-8")
    assert CLAIM in html and "consistent" in html
    assert (out / "figures" / f"{CLAIM}.png").is_file()
    assert CLAIM in proc.stdout and "consistent" in proc.stdout

    # the paper figure, drawn from the cached grid points of that run
    paper = study.parent / "paper"
    proc = _run(_flatstart("plot", CLAIM, "--claims", "cnnstudy.claims", "--style", "paper",
                           "--format", "pdf", "--out", str(paper)), study, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (paper / "figures" / f"{CLAIM}.pdf").read_bytes().startswith(b"%PDF")
    header = (paper / "figures" / f"{CLAIM}.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "measured mean, gain 1.25" in header and "99% interval, gain 1.25" in header, header

    if importlib.util.find_spec("distributed") is None:
        pytest.skip("the local run passed; the dask run needs distributed (flatstart[distributed])")
    script = study.parent / "dask_run.py"
    script.write_text(_DASK_RUN, encoding="utf-8")
    dask_out = study.parent / "report-dask"
    proc = _run([sys.executable, str(script), str(dask_out), CLAIM], study, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    (far,) = _rows(dask_out)
    assert (far["id"], far["verdict"], far["mutant_rejected"]) == (CLAIM, "consistent", True)
    for key in ("p_value", "mutant_p_value", "statistic"):
        assert math.isclose(far[key], row[key], rel_tol=1e-9), (key, far[key], row[key])
    for a, b in zip(far["details"]["points"], row["details"]["points"], strict=True):
        assert math.isclose(a["outcome"]["details"]["mean"], b["outcome"]["details"]["mean"],
                            rel_tol=1e-9)


def test_project_tests_run_through_the_pytest_plugin(study: Path) -> None:
    env = _env(study.parent, study / "src")
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only flatstart's plugin, named explicitly
    proc = _run([sys.executable, "-m", "pytest", "-p", "flatstart.pytest_plugin",
                 "-p", "no:cacheprovider", "-v"], study, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(rf"^{re.escape(CLAIM)} PASSED", proc.stdout, re.M), proc.stdout
    assert "test_a_bound_10_percent_too_small_is_refuted PASSED" in proc.stdout
    assert "cnnstudy.theory.output_second_moment PASSED" in proc.stdout  # the doctests
    assert re.search(r"\b10 passed\b", proc.stdout), proc.stdout  # 6 tests, 3 doctests, 1 claim


def test_check_bound_file(study: Path) -> None:
    out = study.parent / "bound"
    proc = _run(_flatstart("check-bound", "bounds/output_second_moment.py", "--out", str(out)),
                study, _env(study.parent, study / "src"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "HOLDS over 6 grid point(s)" in proc.stdout
    assert (out / "output_second_moment-check.png").is_file()


def test_claims_from_a_file_path(study: Path) -> None:
    """``--claims PATH.py`` loads the same claim from the file of a project outside the
    repository (its imports of ``cnnstudy`` resolve through ``PYTHONPATH``)."""
    claims_file = study / "src" / "cnnstudy" / "claims.py"
    proc = _run(_flatstart("show", CLAIM, "--claims", str(claims_file)), study.parent,
                _env(study.parent, study / "src"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "He, Zhang, Ren & Sun 2015" in proc.stdout
    assert "quick: {\"depth\": 2, \"gain\": 1.0}" in proc.stdout


def test_installed_entry_point_adds_the_claim(study: Path) -> None:
    """``pip install`` the project (into a folder): ``flatstart list`` shows the claim."""
    pytest.importorskip("setuptools")
    source, target = study.parent / "pip-source", study.parent / "site"
    shutil.copytree(study, source)  # the build writes build/ and *.egg-info into its source
    pip = _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                "--no-build-isolation", "-q", "--target", str(target), str(source)],
               study.parent, _env(study.parent))
    if pip.returncode != 0:
        pytest.skip(f"cannot build the example's wheel here: {pip.stderr[-300:]}")
    eps = list(target.glob("cnnstudy-*.dist-info/entry_points.txt"))
    assert eps and "[flatstart.claims]" in eps[0].read_text(encoding="utf-8")
    proc = _run(_flatstart("list", "--family", "CNN"), study.parent, _env(study.parent, target))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert CLAIM in proc.stdout
    assert "cnnstudy" not in proc.stderr  # the entry point loaded without error


_LISTING = re.compile(r"^```py\n# (\S+)\n(.*?)^```[ \t]*$", re.S | re.M)


def test_tutorial_listings_are_the_files() -> None:
    """Each ```py listing of the tutorial headed ``# PATH`` is a verbatim excerpt of
    examples/cnn_study/PATH (the runnable blocks are ```python, run by test_tutorials)."""
    text = TUTORIAL.read_text(encoding="utf-8")
    listings = _LISTING.findall(text)
    assert len(listings) >= 4, listings
    for path, body in listings:
        source = (EXAMPLE / path).read_text(encoding="utf-8")
        for chunk in body.split("\n# ...\n"):
            assert chunk.strip("\n") in source, f"{path}: tutorial listing differs:\n{chunk}"
