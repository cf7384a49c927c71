"""User claims: a claim file or module loaded with ``load_claims``, ``--claims`` on the command
line, the ``flatstart.claims`` entry points and the pytest plugin (``--flatstart-claims``).

Every test leaves the registry as it found it (the ``_isolated_registry`` fixture), so the other
tests of the run see the catalogue only. The toy claims draw 400 normal samples per grid point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flatstart.validation.resolution  # noqa: F401  (loaded before in-process pytester runs)
from flatstart.validation import plugins
from flatstart.validation.claims import verify
from flatstart.validation.cli import main
from flatstart.validation.layering import static_violations
from flatstart.validation.plugins import load_claims, load_entry_points, unload_claims

pytest_plugins = ["pytester"]

from flatstart.validation import registry as reg  # noqa: E402

CLAIM_FILE = '''\
"""A user's toy claim: the mean of N(mu, 1) draws is mu (+ {shift})."""

from typing import Any

import numpy as np

from flatstart.validation import stats
from flatstart.validation.claims import Claim, by_budget, register
{imports}
THEORY_MODULES = {theory_modules!r}


def predict(params: dict[str, Any]) -> float:
    return float(params["mu"]) + {shift}


def mutant(params: dict[str, Any]) -> float:
    return float(params["mu"]) + 0.5


def simulate(params: dict[str, Any], seed: int, device: str, budget: str) -> np.ndarray:
{simulate_body}    rng = np.random.default_rng(seed)
    return params["mu"] + rng.standard_normal(int(by_budget(budget, quick=400)))


def test(prediction: float, samples: np.ndarray, alpha: float) -> stats.TestOutcome:
    return stats.mean_test(samples, prediction, alpha)


register(Claim(
    id="{family}.{name}", title="Mean of normal draws", family="{family}", source="derived",
    statement="The mean of N(mu, 1) is mu.", kind="moment",
    grids={{"quick": [{{"mu": 0.0}}, {{"mu": 2.0}}]}}, predict=predict, simulate=simulate,
    test=test, mutant=mutant, mutant_description="mu + 1/2",
))
'''

THEORY_FILE = '''\
"""The user's own theory module."""


def mean(mu: float) -> float:
    return float(mu)
'''


def write_claims(folder: Path, filename: str = "my_claims.py", *, family: str = "MY",
                 name: str = "mean", shift: float = 0.0, imports: str = "",
                 theory_modules: list[str] | None = None, simulate_body: str = "",
                 text: str | None = None) -> Path:
    """A user claim file in ``folder`` (a toy like ``_demo``'s ``DEMO.normal-mean``)."""
    f = folder / filename
    f.write_text(text if text is not None else CLAIM_FILE.format(
        family=family, name=name, shift=shift, imports=imports,
        theory_modules=theory_modules or [], simulate_body=simulate_body))
    return f


@pytest.fixture(autouse=True)
def _isolated_registry() -> Iterator[None]:
    """Load the catalogue first (in-process pytester runs drop modules they import); afterwards
    unregister every user claim and forget failing entry points."""
    reg.load_catalogue()
    before = dict(reg._REGISTRY)
    errors = dict(reg._LOAD_ERRORS)
    yield
    unload_claims()
    for cid in [i for i in reg._REGISTRY if before.get(i) is not reg._REGISTRY[i]]:
        if cid in before:
            reg._REGISTRY[cid] = before[cid]
        else:
            del reg._REGISTRY[cid]
    reg._LOAD_ERRORS.clear()
    reg._LOAD_ERRORS.update(errors)
    for name in [m for m in sys.modules if m.startswith("flatstart_test_userpkg")]:
        del sys.modules[name]


# --------------------------------------------------------------------------- load_claims


def test_load_claims_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "my_theory.py").write_text(THEORY_FILE)
    f = write_claims(tmp_path, imports="import my_theory  # a neighbour of the claim file\n")
    assert load_claims(str(f)) == ["MY.mean"]
    claim = reg.get("MY.mean")
    assert claim.family == "MY" and claim.module.startswith("_flatstart_user_claims_my_claims_")
    assert str(tmp_path) not in sys.path  # the folder was on sys.path only during the import
    # a second load is a no-op: same ids, same claim object, no duplicate-registration error
    assert load_claims(str(f)) == ["MY.mean"] and reg.get("MY.mean") is claim
    assert "MY.mean" in reg.ids() and "MY" in reg.known_families()
    assert [c["id"] for c in reg.claims("MY")] == ["MY.mean"]
    r = verify("MY.mean", cache=False)
    assert r.verdict == "consistent" and r.mutant_rejected is True, r
    assert unload_claims(str(f)) == ["MY.mean"] and "MY.mean" not in reg.ids()
    assert load_claims(str(f)) == ["MY.mean"]  # loads again once unloaded


def test_load_claims_from_a_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "flatstart_test_userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "theory.py").write_text(THEORY_FILE)
    write_claims(pkg, "claims.py", family="MYPKG", theory_modules=["flatstart_test_userpkg.theory"],
                 imports="from flatstart_test_userpkg.theory import mean  # theory side only\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_claims("flatstart_test_userpkg.claims") == ["MYPKG.mean"]
    assert load_claims("flatstart_test_userpkg.claims") == ["MYPKG.mean"]
    assert reg.get("MYPKG.mean").module == "flatstart_test_userpkg.claims"


def test_static_violations_with_user_theory_modules(tmp_path: Path) -> None:
    """``theory_modules`` adds the user's theory to flatstart.theory; the default is unchanged."""
    (tmp_path / "my_theory.py").write_text(THEORY_FILE)
    f = write_claims(tmp_path, imports="import my_theory\nfrom my_theory import mean\n",
                     simulate_body="    _ = mean(0.0) + my_theory.mean(0.0)\n")
    load_claims(str(f))
    simulate = reg.get("MY.mean").simulate
    assert static_violations(simulate) == []
    assert static_violations(simulate, theory_modules=["my_theory"]) == ["mean", "my_theory"]


ERRORS = [
    # (what the file holds, text of the error)
    ("missing", "no such file"),
    ("no-claims", "registered no claim"),
    ("reserved-family", "reserved for flatstart's own claims"),
    ("import-error", "cannot import it (ZeroDivisionError: division by zero)"),
    ("simulate-uses-theory-modules", "simulate reaches theory statically (import my_theory)"),
    ("simulate-uses-theory-name", "simulate reaches theory statically (mean)"),
]


@pytest.mark.parametrize(("case", "message"), ERRORS)
def test_load_claims_errors(case: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "my_theory.py").write_text(THEORY_FILE)
    if case == "missing":
        f = tmp_path / "no_such_claims.py"
    elif case == "no-claims":
        f = write_claims(tmp_path, text="X = 1\n")
    elif case == "reserved-family":
        f = write_claims(tmp_path, family="VC")
    elif case == "import-error":
        f = write_claims(tmp_path, imports="1 / 0\n")
    elif case == "simulate-uses-theory-modules":
        f = write_claims(tmp_path, theory_modules=["my_theory"],
                         simulate_body="    import my_theory\n    my_theory.mean(0.0)\n")
    else:
        f = write_claims(tmp_path, theory_modules=["my_theory"],
                         imports="from my_theory import mean\n",
                         simulate_body="    mean(0.0)\n")
    with pytest.raises(ValueError) as exc:
        load_claims(str(f))
    text = str(exc.value)
    assert text.startswith(f"claims {str(f)!r}: ") and "allowed:" in text, text
    assert message in text and "\n" not in text, text
    assert not [i for i in reg.ids() if i in ("MY.mean", "VC.mean")]  # nothing left behind


def test_entry_points_are_loaded_and_failures_collected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib.metadata import EntryPoint

    pkg = tmp_path / "flatstart_test_userpkg_ep"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    write_claims(pkg, "claims.py", family="EP")
    (pkg / "broken.py").write_text("raise RuntimeError('broken claims module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint("good", "flatstart_test_userpkg_ep.claims", "flatstart.claims"),
           EntryPoint("bad", "flatstart_test_userpkg_ep.broken", "flatstart.claims")]

    def fake_entry_points(group: str) -> list[Any]:
        return eps if group == "flatstart.claims" else []

    monkeypatch.setattr("importlib.metadata.entry_points", fake_entry_points)
    assert load_entry_points() == {"good": ["EP.mean"]}
    errors = reg.catalogue_errors()
    key = "flatstart_test_userpkg_ep.broken (entry point 'bad' of 'flatstart.claims')"
    assert key in errors and "broken claims module" in errors[key]
    assert "EP.mean" in reg.ids()
    assert plugins.load_entry_points() == {"good": ["EP.mean"]}  # again: a no-op


# --------------------------------------------------------------------------- command line


def test_cli_claims_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = str(write_claims(tmp_path))
    assert main(["list", "--claims", f]) == 0
    out = capsys.readouterr().out
    assert "MY.mean" in out and "VC.mean-vs-median" in out  # the catalogue plus the user's
    assert main(["list", "--family", "MY", "--claims", f, "--json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)] == ["MY.mean"]
    assert main(["show", "MY.mean", "--claims", f]) == 0
    assert "source: derived" in capsys.readouterr().out
    rep = tmp_path / "rep"
    assert main(["verify", "--claims", f, "MY.mean", "--out", str(rep), "--no-cache",
                 "--no-figures", "--progress", "none"]) == 0
    assert "MY.mean" in capsys.readouterr().out
    rows = json.loads((rep / "results.json").read_text())
    assert [(r["id"], r["verdict"], r["family"]) for r in rows] == [("MY.mean", "consistent",
                                                                      "MY")]


def test_cli_verify_without_ids_runs_the_catalogue_and_the_user_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``verify --claims FILE`` with no ids: every registered claim (the catalogue, here cut
    to one toy claim to stay fast) plus the user's."""
    import flatstart.validation.catalogue._demo  # noqa: F401

    monkeypatch.setattr(reg, "_REGISTRY", {"DEMO.normal-mean": reg.get("DEMO.normal-mean")})
    monkeypatch.setattr(reg, "_LOAD_ERRORS", {})
    f = str(write_claims(tmp_path))
    rep = tmp_path / "rep"
    assert main(["verify", "--claims", f, "--out", str(rep), "--no-cache", "--no-figures",
                 "--progress", "none"]) == 0
    rows = json.loads((rep / "results.json").read_text())
    assert sorted(r["id"] for r in rows) == ["DEMO.normal-mean", "MY.mean"]
    assert "MY.mean" in capsys.readouterr().out


@pytest.mark.parametrize("command", [
    ["list"], ["show", "MY.mean"], ["verify", "MY.mean"], ["plot", "MY.mean"],
    ["calibrate", "MY.mean"],
])
def test_cli_claims_errors_are_one_line_usage_errors(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--claims", str(tmp_path / "missing.py")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "claims" in err[0] and "no such file" in err[0], err


def test_cli_claims_file_with_workers_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = str(write_claims(tmp_path))
    assert main(["verify", "--claims", f, "--workers", "2", "MY.mean"]) == 2
    assert "dotted module name" in capsys.readouterr().err
    assert main(["list", "--family", "NOPE", "--claims", f]) == 2
    assert "unknown family 'NOPE'; allowed: P, VC" in capsys.readouterr().err


def test_cli_subprocess_verify_with_claims(tmp_path: Path) -> None:
    f = write_claims(tmp_path)
    out = tmp_path / "report"
    env = dict(os.environ, FLATSTART_CACHE=str(tmp_path / "cache"))
    env.pop("FLATSTART_DEMO_CLAIMS", None)
    # --family MY: the user's family only (the whole catalogue would take minutes)
    proc = subprocess.run(
        [sys.executable, "-m", "flatstart", "verify", "--claims", str(f), "--family", "MY",
         "--out", str(out), "--no-figures", "--progress", "none"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    rows = json.loads((out / "results.json").read_text())
    assert [(r["id"], r["verdict"]) for r in rows] == [("MY.mean", "consistent")]
    assert "MY.mean" in proc.stdout and "consistent" in proc.stdout


# --------------------------------------------------------------------------- pytest plugin


def _plugin_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                *args: str) -> pytest.RunResult:
    # -p names the plugin module; with entry-point autoloading on, pytest would load the same
    # module a second time under its entry-point name "flatstart" (docs/user-claims.md)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester.runpytest("-p", "flatstart.pytest_plugin", *args)


def test_pytest_plugin_passes_a_true_claim(pytester: pytest.Pytester,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    f = write_claims(pytester.path)
    result = _plugin_run(pytester, monkeypatch, "--flatstart-claims", str(f), "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*MY.mean PASSED*"])
    assert "MY.mean" not in reg._REGISTRY  # the run unloaded what it loaded
    from importlib.metadata import entry_points

    if "flatstart" in {ep.name for ep in entry_points(group="pytest11")}:
        monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
        auto = pytester.runpytest("--flatstart-claims", str(f), "-k", "MY.mean")
        auto.assert_outcomes(passed=1)  # loaded through the pytest11 entry point


def test_pytest_plugin_fails_a_false_claim(pytester: pytest.Pytester,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    f = write_claims(pytester.path, name="wrong-mean", shift=0.4)
    result = _plugin_run(pytester, monkeypatch, "--flatstart-claims", str(f))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*claim MY.wrong-mean: verdict refuted*",
                                 "*p-value * alpha 0.01*", "*mutant p-value *"])


def test_pytest_plugin_is_inert_without_the_option(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_one="def test_ok():\n    assert True\n")
    result = _plugin_run(pytester, monkeypatch)
    result.assert_outcomes(passed=1)
    bad = _plugin_run(pytester, monkeypatch, "--flatstart-claims", "missing_claims.py")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--flatstart-claims: claims 'missing_claims.py': no such file*"])
