"""The flatstart command line, through subprocesses (``python -m flatstart.validation.cli``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import flatstart.validation.catalogue._demo  # noqa: F401
from flatstart.validation.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path, demo: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), FLATSTART_CACHE=str(cwd / "cache"))
    if demo:
        env["FLATSTART_DEMO_CLAIMS"] = "1"
    else:
        env.pop("FLATSTART_DEMO_CLAIMS", None)
    return subprocess.run([sys.executable, "-m", "flatstart.validation.cli", *args], cwd=cwd,
                          env=env,
                          capture_output=True, text=True, timeout=300)


CASES = [
    # (arguments, exit status, text expected in stdout, text expected in stderr)
    (["list"], 0, "DEMO.normal-mean", ""),
    (["show", "DEMO.normal-cdf"], 0, "source:", ""),
    (["show", "DEMO.nope"], 2, "", "unknown claim id 'DEMO.nope'; known ids: DEMO.broken"),
    (["verify", "DEMO.normal-mean", "--seed", "1"], 0, "consistent", ""),
    (["verify", "DEMO.wrong-mean", "DEMO.normal-mean", "--seed", "1"], 1, "refuted", ""),
]


@pytest.mark.parametrize(("args", "code", "out", "err"), CASES)
def test_cli_subprocess(args: list[str], code: int, out: str, err: str, tmp_path: Path) -> None:
    proc = _run(args, tmp_path)
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert out in proc.stdout, proc.stdout
    assert err in proc.stderr, proc.stderr
    if args[0] == "verify" and code != 2:
        assert "claim" in proc.stdout and "verdict" in proc.stdout  # the summary table
        assert (tmp_path / "flatstart-report" / "index.html").is_file()
        # off a terminal, progress is timestamped log lines only (no bar, no traceback)
        assert all("flatstart:" in x for x in proc.stderr.splitlines() if x.strip())
    if code == 2:
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_demo_claims_hidden_by_default(tmp_path: Path) -> None:
    proc = _run(["list"], tmp_path, demo=False)
    assert proc.returncode == 0, proc.stderr
    assert "DEMO." not in proc.stdout


# In-process calls of main() for the rest (faster than a subprocess each).

def test_verify_family_filter_and_error_exit(tmp_path: Path, capsys) -> None:
    out = tmp_path / "rep"
    code = main(["verify", "--family", "DEMO", "--seed", "1", "--out", str(out), "--no-cache"])
    text = capsys.readouterr().out
    assert code == 1  # DEMO.broken (error) and DEMO.wrong-mean (refuted)
    assert "DEMO.broken" in text and "error" in text and "underpowered" in text
    rows = json.loads((out / "results.json").read_text())
    assert {r["family"] for r in rows} == {"DEMO"}


def test_error_alone_exits_1(tmp_path: Path, capsys) -> None:
    code = main(["verify", "DEMO.broken", "--out", str(tmp_path), "--no-cache"])
    assert code == 1


def test_usage_errors(capsys) -> None:
    assert main(["verify", "--budget", "huge"]) == 2
    assert "allowed: quick, standard, full" in capsys.readouterr().err
    assert main(["check-bound", "no-such-bound-file.py"]) == 2
    assert "no-such-bound-file.py" in capsys.readouterr().err
    assert main(["verify", "--family", "XX"]) == 2
    assert "unknown family 'XX'" in capsys.readouterr().err
    assert main(["verify", "--seed", "-3"]) == 2
    assert main(["calibrate", "DEMO.normal-mean", "--reps", "0"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu(capsys) -> None:
    assert main(["verify", "DEMO.normal-mean", "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_show_json_and_list_json(capsys) -> None:
    assert main(["show", "DEMO.normal-mean", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["id"] == "DEMO.normal-mean" and info["family"] == "DEMO"
    assert main(["list", "--family", "DEMO", "--json"]) == 0
    ids = [c["id"] for c in json.loads(capsys.readouterr().out)]
    assert "DEMO.broken" in ids


def test_plot_and_calibrate(tmp_path: Path, capsys) -> None:
    assert main(["plot", "DEMO.normal-cdf", "--out", str(tmp_path), "--seed", "1",
                 "--no-cache"]) == 0
    assert (tmp_path / "figures" / "DEMO.normal-cdf.png").is_file()
    assert (tmp_path / "figures" / "DEMO.normal-cdf.svg").is_file()
    assert main(["calibrate", "DEMO.normal-mean", "--reps", "20", "--seed", "50"]) == 0
    assert "calibrated" in capsys.readouterr().out
    assert main(["calibrate", "DEMO.wrong-mean", "--reps", "5"]) == 1  # the mutant case


# --------------------------------------------------------------------------- files and progress
def _a_file(tmp_path: Path) -> Path:
    f = tmp_path / "a-file"
    f.write_text("not a folder\n")
    return f


@pytest.mark.parametrize("option", ["--out", "--cache-dir"])
@pytest.mark.parametrize("under", [False, True])
def test_unwritable_folders_fail_before_computing(option: str, under: bool,
                                                  tmp_path: Path) -> None:
    """A folder that is a file, or lies under one (root cannot override that), is a one-line
    usage error (exit 2) before any grid point runs."""
    bad = _a_file(tmp_path) / "sub" if under else _a_file(tmp_path)
    res = _run(["verify", "DEMO.normal-mean", option, str(bad)], tmp_path)
    assert res.returncode == 2, res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and option in lines[0] and "Traceback" not in res.stderr, res.stderr
    assert "grid point" not in res.stderr and not (tmp_path / "cache").exists()


def test_check_bound_unwritable_out_is_a_usage_error(tmp_path: Path) -> None:
    bound = ROOT / "examples" / "bound.py"
    res = _run(["check-bound", str(bound), "--out", str(_a_file(tmp_path) / "x")], tmp_path)
    assert res.returncode == 2 and "HOLDS" not in res.stdout and "--out" in res.stderr


def test_help_shows_defaults(tmp_path: Path) -> None:
    res = _run(["verify", "--help"], tmp_path)
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    for d in ("(default: quick)", "(default: flatstart-report)", "(default: 0)",
              "(default: auto)"):
        assert d in text, d
    cal = " ".join(_run(["calibrate", "--help"], tmp_path).stdout.split())
    assert "(default: 100)" in cal


def test_progress_log_mode_off_a_terminal(tmp_path: Path) -> None:
    """Off a terminal (auto) progress is timestamped log lines: the header, each point when it
    starts and when it finishes with an ETA."""
    res = _run(["verify", "DEMO.normal-mean", "--no-cache", "--no-figures"], tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [x for x in res.stderr.splitlines() if "flatstart:" in x]
    assert any("grid point(s)" in x for x in lines)
    assert any("start DEMO.normal-mean point 0" in x for x in lines)
    assert any("[1/" in x and "ETA" in x for x in lines)
    assert all(x[:4].isdigit() and x[4] == "-" for x in lines)  # timestamped
    quiet = _run(["verify", "DEMO.normal-mean", "--no-cache", "--no-figures", "--progress",
                  "none"], tmp_path)
    assert "flatstart:" not in quiet.stderr


# --------------------------------------------------------------------------- paper figures, dask
def test_plot_paper_style_formats_and_data(tmp_path: Path, capsys) -> None:
    assert main(["plot", "DEMO.normal-cdf", "--style", "paper", "--format", "pdf,svg",
                 "--format", "png", "--dpi", "200", "--out", str(tmp_path), "--seed", "1",
                 "--no-cache"]) == 0
    folder = tmp_path / "figures"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"DEMO.normal-cdf.{e}" for e in ("csv", "pdf", "png", "svg")]
    assert (folder / "DEMO.normal-cdf.pdf").read_bytes()[:5] == b"%PDF-"
    head = (folder / "DEMO.normal-cdf.csv").read_text().splitlines()[0]
    assert "exact CDF: x" in head and "empirical (n=400)" in head
    assert "DEMO.normal-cdf.csv" in capsys.readouterr().out
    # paper default: PDF (and its data) only
    assert main(["plot", "DEMO.normal-mean", "--style", "paper", "--out", str(tmp_path / "b"),
                 "--no-cache"]) == 0
    assert sorted(p.suffix for p in (tmp_path / "b" / "figures").iterdir()) == [".csv", ".pdf"]


@pytest.mark.parametrize(("args", "message"), [
    (["--style", "poster"], "unknown --style 'poster'; allowed: report, paper"),
    (["--format", "gif"], "--format: unknown format 'gif'; allowed: png, svg, pdf, pgf"),
    (["--dpi", "5"], "--dpi must be in 10..2400, got 5"),
    (["--style", "paper", "--format", "pgf"], "--format pgf: pgf output needs a LaTeX install"),
])
def test_plot_bad_figure_options_are_usage_errors(args: list[str], message: str, tmp_path: Path,
                                                  capsys, monkeypatch) -> None:
    from flatstart.validation import plots

    monkeypatch.setattr(plots.shutil, "which", lambda name: None)  # no TeX on PATH
    out = tmp_path / "out"
    assert main(["plot", "DEMO.normal-mean", "--out", str(out), "--no-cache", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()  # checked before anything ran


def test_plot_and_verify_help_show_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for d in ("(default: report)", "--format FMT", "300 for paper", "(default: quick)"):
        assert d in text, d
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    assert "(default: 60.0)" in " ".join(capsys.readouterr().out.split())


def test_cached_verify_rerun_does_not_redraw_figures(tmp_path: Path, capsys,
                                                     monkeypatch) -> None:
    from flatstart.validation import plots

    args = ["verify", "DEMO.normal-mean", "DEMO.normal-cdf", "--seed", "4", "--out",
            str(tmp_path / "rep"), "--cache-dir", str(tmp_path / "cache"), "--progress", "none"]
    assert main(args) == 0
    first = (tmp_path / "rep" / "figures" / "DEMO.normal-cdf.png").read_bytes()
    drawn: list[str] = []
    real = plots.claim_figure
    monkeypatch.setattr(plots, "claim_figure",
                        lambda c, *a, **k: drawn.append(c.id) or real(c, *a, **k))
    assert main(args) == 0 and drawn == []
    assert (tmp_path / "rep" / "figures" / "DEMO.normal-cdf.png").read_bytes() == first
    assert main([*args, "--no-cache"]) == 0 and sorted(drawn) == ["DEMO.normal-cdf",
                                                                  "DEMO.normal-mean"]
    capsys.readouterr()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_verify_unreachable_scheduler_is_a_one_line_usage_error(tmp_path: Path, capsys) -> None:
    pytest.importorskip("distributed")
    import time

    addr = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.monotonic()
    code = main(["verify", "DEMO.normal-mean", "--scheduler", addr, "--worker-timeout", "1",
                 "--no-cache", "--out", str(tmp_path), "--progress", "none"])
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - t0 < 20
    assert f"cannot reach the dask scheduler '{addr}' within 1 s" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_verify_scheduler_without_workers_times_out(tmp_path: Path, capsys) -> None:
    pytest.importorskip("distributed")
    import time

    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        t0 = time.monotonic()
        code = main(["verify", "DEMO.normal-mean", "--scheduler", cluster.scheduler_address,
                     "--worker-timeout", "1.5", "--no-cache", "--out", str(tmp_path),
                     "--progress", "none"])
        elapsed = time.monotonic() - t0
        # the Python API: a user's client on a cluster without workers
        from distributed import Client

        from flatstart.validation.claims import get
        from flatstart.validation.executors import SchedulerUnavailable, make_executor
        from flatstart.validation.run import _tasks_for

        with Client(cluster) as client:
            ex = make_executor(client=client, worker_timeout=0.5)
            tasks = _tasks_for(get("DEMO.normal-mean"), "quick", 0, "cpu")
            with pytest.raises(SchedulerUnavailable, match="no dask worker joined"):
                list(ex.run(tasks, {}))
            assert list(ex.run([], {})) == []  # nothing to compute: no wait
            with pytest.raises(ValueError, match="worker_timeout"):
                make_executor(client=client, worker_timeout=-1.0)
    err = capsys.readouterr().err
    assert code == 2 and elapsed < 20, (code, elapsed)
    assert "no dask worker joined" in err and "within 1.5 s" in err and "--worker-timeout" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    bad = tmp_path / "not-created"
    for value in ("-1", "nan"):
        assert main(["verify", "--worker-timeout", value, "--out", str(bad)]) == 2
        assert "--worker-timeout must be a number of seconds >= 0" in capsys.readouterr().err
    assert not bad.exists()  # checked before any folder is made
