"""Content-addressed cache: kill-and-resume, misses on any key change, atomic files."""

from __future__ import annotations

import dataclasses
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flatstart.validation import stats
from flatstart.validation.cache import Cache
from flatstart.validation.claims import Claim, register, unregister, verify

ROOT = Path(__file__).resolve().parents[2]

CALLS: list[int] = []  # grid indices whose simulate ran
INTERRUPT_AT: list[float] = []  # mu values at which simulate raises KeyboardInterrupt

GRID = [{"mu": float(m)} for m in range(5)]


def predict(params: dict[str, Any]) -> float:
    return params["mu"]


def mutant(params: dict[str, Any]) -> float:
    return params["mu"] + 1.0


def simulate(params: dict[str, Any], seed: int, device: str, budget: str) -> np.ndarray:
    CALLS.append(int(params["mu"]))
    if params["mu"] in INTERRUPT_AT:
        raise KeyboardInterrupt
    return params["mu"] + np.random.default_rng(seed).standard_normal(200)


def check(prediction: float, samples: np.ndarray, alpha: float) -> stats.TestOutcome:
    return stats.mean_test(samples, prediction, alpha)


TOY = Claim(
    id="DEMO.cache-toy", title="cache toy", family="DEMO", source="derived", statement="toy",
    predict=predict, simulate=simulate, test=check, mutant=mutant, grids={"quick": GRID},
)


@pytest.fixture()
def toy():
    register(TOY)
    CALLS.clear()
    INTERRUPT_AT.clear()
    yield TOY
    register(TOY)
    unregister(TOY.id)


def test_interrupt_and_resume_recomputes_only_unfinished_points(toy, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    INTERRUPT_AT.append(2.0)
    with pytest.raises(KeyboardInterrupt):
        verify(toy.id, seed=0, cache=cache)
    assert CALLS == [0, 1, 2]
    assert len(list(cache.glob("*/*.pkl"))) == 2  # the two finished points
    INTERRUPT_AT.clear()
    CALLS.clear()
    r = verify(toy.id, seed=0, cache=cache)
    assert CALLS == [2, 3, 4], CALLS  # only the unfinished points
    assert r.details["cached_points"] == 2
    CALLS.clear()
    again = verify(toy.id, seed=0, cache=cache)
    assert CALLS == []  # everything cached
    assert again.p_value == r.p_value and again.statistic == r.statistic
    fresh = verify(toy.id, seed=0, cache=False)
    assert fresh.p_value == r.p_value  # cached results equal recomputed ones


def test_any_key_change_misses(toy, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    verify(toy.id, seed=0, cache=cache)
    CALLS.clear()
    verify(toy.id, seed=1, cache=cache)
    assert len(CALLS) == 5, "a new seed must recompute"
    CALLS.clear()
    verify(toy.id, seed=0, budget="standard", cache=cache)
    assert len(CALLS) == 5, "a new budget must recompute"
    CALLS.clear()
    register(dataclasses.replace(toy, version="2"))
    verify(toy.id, seed=0, cache=cache)
    assert len(CALLS) == 5, "a new claim version must recompute"
    CALLS.clear()
    register(dataclasses.replace(toy, version="2", grids={"quick": GRID + [{"mu": 9.0}]}))
    verify(toy.id, seed=0, cache=cache)
    assert CALLS == [9], "extending a grid computes only the new point"


def test_key_covers_device_alpha_and_params(toy) -> None:
    from flatstart.validation.records import point_key

    k = point_key(toy, {"mu": 0.0}, "quick", 0, "cpu")
    assert k == point_key(toy, {"mu": 0.0}, "quick", 0, "cpu")
    assert k != point_key(toy, {"mu": 0.0}, "quick", 0, "cuda")
    assert k != point_key(toy, {"mu": 1.0}, "quick", 0, "cpu")
    assert k != point_key(dataclasses.replace(toy, alpha=0.05), {"mu": 0.0}, "quick", 0, "cpu")


def test_errors_are_not_cached_and_corrupt_files_miss(toy, tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    import flatstart.validation.catalogue._demo  # noqa: F401  (DEMO.broken)

    verify("DEMO.broken", seed=0, cache=cache)
    assert cache.writes == 1  # only the good point of DEMO.broken
    verify(toy.id, seed=0, cache=cache)
    files = list((tmp_path / "c").glob("*/*.pkl"))
    assert not list((tmp_path / "c").glob("*/.tmp-*")), "temporary files left behind"
    files[0].write_bytes(b"not a pickle")
    key = files[0].stem
    assert cache.get(key) is None and not files[0].exists()
    # a file whose stored key differs from its name is a miss
    other = files[1]
    key2, rec = pickle.loads(other.read_bytes())
    other.write_bytes(pickle.dumps(("0" * 64, rec)))
    assert cache.get(key2) is None


SCRIPT = textwrap.dedent("""
    import sys, time, pathlib
    import numpy as np
    from flatstart.validation import stats
    from flatstart.validation.claims import Claim, register, verify

    LOG = pathlib.Path(sys.argv[2])

    def predict(p): return p["mu"]
    def mutant(p): return p["mu"] + 1.0
    def simulate(p, seed, device, budget):
        with LOG.open("a") as fh: fh.write(f"{int(p['mu'])}\\n")
        if p["mu"] == 2.0 and sys.argv[3] == "hang":
            time.sleep(60)
        return p["mu"] + np.random.default_rng(seed).standard_normal(100)
    def check(pr, m, a): return stats.mean_test(m, pr, a)

    register(Claim(id="DEMO.kill-toy", title="t", family="DEMO", source="derived",
                   statement="s", predict=predict, simulate=simulate, test=check,
                   mutant=mutant, grids={"quick": [{"mu": float(i)} for i in range(4)]}))
    r = verify("DEMO.kill-toy", cache=sys.argv[1])
    print(r.verdict)
""")


def test_killed_subprocess_resumes(tmp_path: Path) -> None:
    """SIGKILL in the middle of a run, then rerun: finished points are not recomputed."""
    script = tmp_path / "kill_toy.py"
    script.write_text(SCRIPT)
    log = tmp_path / "log.txt"
    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(script), str(cache), str(log), "hang"],
                            cwd=tmp_path, env=env)
    try:
        for _ in range(600):  # wait until it hangs in point 2
            if log.exists() and log.read_text().split() == ["0", "1", "2"]:
                break
            try:
                proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert log.read_text().split() == ["0", "1", "2"]
    out = subprocess.run([sys.executable, str(script), str(cache), str(log), "go"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert log.read_text().split() == ["0", "1", "2", "2", "3"], log.read_text()


# --------------------------------------------------------------------------- code-aware keys
def _scratch_tree(tmp_path: Path) -> Path:
    """A scratch copy of the three packages (and a docs folder beside them)."""
    import shutil

    from flatstart import montecarlo, theory, validation

    root = tmp_path / "tree"
    for pkg in (theory, montecarlo, validation):
        src = Path(pkg.__file__).parent
        shutil.copytree(src, root / src.name, ignore=shutil.ignore_patterns("__pycache__"))
    import flatstart

    (root / "flatstart").mkdir()  # the package: its __init__ and links to the three folders
    for f in Path(flatstart.__file__).parent.glob("*.py"):  # __init__ and the ground floor
        shutil.copy(f, root / "flatstart" / f.name)
    for name in ("theory", "montecarlo", "validation"):
        (root / "flatstart" / name).symlink_to(Path("..") / name)
    (root / "docs").mkdir()
    (root / "docs" / "page.md").write_text("docs\n")
    return root


def test_fingerprint_follows_every_package_file(tmp_path: Path) -> None:
    """Editing any theory/ or montecarlo/ or validation/ file changes the key; docs do not."""
    from flatstart.validation.claims import get
    from flatstart.validation.records import code_fingerprint

    root = _scratch_tree(tmp_path)
    roots = [root / "theory", root / "montecarlo", root / "validation"]
    claim = get("VC.mean-vs-median")
    base = code_fingerprint(claim, roots)
    assert base == code_fingerprint(claim, roots)
    (root / "docs" / "page.md").write_text("edited docs\n")
    assert code_fingerprint(claim, roots) == base, "an edit outside the packages must not count"
    seen = {base}
    for rel in ("theory/products/mellin.py", "montecarlo/sampling.py", "validation/stats.py"):
        f = root / rel
        f.write_text(f.read_text() + "\n# an edit\n")
        new = code_fingerprint(claim, roots)
        assert new not in seen, f"editing {rel} did not change the fingerprint"
        seen.add(new)


_SCRIPT = """
import sys, json
from flatstart.validation.claims import verify
r = verify("VC.mean-vs-median", budget="quick", seed=0, cache=sys.argv[1])
print(json.dumps({"verdict": r.verdict, "cached": r.details["cached_points"]}))
"""


def _run_scratch(root: Path, cache: Path) -> dict:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(cache)], env=env, cwd=root,
                         capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_edited_measurement_is_never_served_from_the_cache(tmp_path: Path) -> None:
    """The reviewer's scenario: a measurement made 1.5x too large after a cached run must be
    recomputed (and refuted), not served from the cache as "consistent"."""
    root = _scratch_tree(tmp_path)
    cache = tmp_path / "cache"
    first = _run_scratch(root, cache)
    assert first == {"verdict": "consistent", "cached": 0}
    from flatstart.validation.claims import get

    points = len(get("VC.mean-vs-median").grid("quick"))
    assert _run_scratch(root, cache)["cached"] == points, "an unchanged tree is served from cache"
    f = root / "montecarlo" / "sampling.py"
    text = f.read_text()
    assert "outs.append(g.output)" in text
    f.write_text(text.replace("outs.append(g.output)", "outs.append(1.5 * g.output)"))
    after = _run_scratch(root, cache)
    assert after == {"verdict": "refuted", "cached": 0}


def test_cache_info_and_clear(toy, tmp_path: Path) -> None:
    from flatstart.validation.cli import main

    cache = Cache(tmp_path / "c")
    verify(toy.id, seed=0, cache=cache)
    info = cache.info()
    assert info["entries"] == len(GRID) and info["claims"] == {toy.id: len(GRID)}
    assert main(["cache", "info", "--cache-dir", str(tmp_path / "c")]) == 0
    assert main(["cache", "clear", "--cache-dir", str(tmp_path / "c")]) == 0
    assert cache.info()["entries"] == 0


_USER_CLAIMS = '''
from flatstart.validation import stats
from flatstart.validation.claims import Claim
from {theory} import mean


def predict(p):
    return mean(p["mu"])


def simulate(p, seed, device, budget):
    import numpy as np
    return np.random.default_rng(seed).normal(p["mu"], 1.0, 200)


def test(pred, xs, alpha):
    return stats.mean_test(xs, pred, alpha)


def mutant(p):
    return p["mu"] + 1.0


CLAIM = Claim(id="FP.mean", title="t", family="FP", source="s", statement="s", kind="moment",
              grids={{"quick": [{{"mu": 0.5}}]}}, predict=predict, simulate=simulate,
              test=test, mutant=mutant)
'''


@pytest.mark.parametrize("layout", ["package", "files"])
def test_fingerprint_follows_a_users_own_code(tmp_path: Path, monkeypatch, layout: str) -> None:
    """A user's claim: editing the theory module it imports (beside it, or anywhere in its
    package) changes the key, so the cache never serves a result of the old theory."""
    import importlib

    from flatstart.validation.records import code_fingerprint

    if layout == "package":
        pkg = tmp_path / f"fpuser_{layout}"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        (pkg / "theory.py").write_text("def mean(mu):\n    return mu\n")
        (pkg / "claims.py").write_text(_USER_CLAIMS.format(theory=f"{pkg.name}.theory"))
        name, edited = f"{pkg.name}.claims", pkg / "theory.py"
    else:
        (tmp_path / "fp_theory_files.py").write_text("def mean(mu):\n    return mu\n")
        (tmp_path / "fp_claims_files.py").write_text(_USER_CLAIMS.format(
            theory="fp_theory_files"))
        name, edited = "fp_claims_files", tmp_path / "fp_theory_files.py"
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        claim = importlib.import_module(name).CLAIM
        base = code_fingerprint(claim)
        assert code_fingerprint(claim) == base
        (tmp_path / "notes.txt").write_text("not code\n")
        assert code_fingerprint(claim) == base
        edited.write_text(edited.read_text() + "\n# the theory changed\n")
        assert code_fingerprint(claim) != base, "an edit of the user's theory was not seen"
    finally:
        for m in [m for m in sys.modules if m.startswith(("fpuser_", "fp_claims", "fp_theory"))]:
            del sys.modules[m]
