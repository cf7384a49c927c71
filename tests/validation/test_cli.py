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
