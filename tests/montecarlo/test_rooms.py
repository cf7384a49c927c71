"""The rooms of flatstart.montecarlo: no import circle between its modules, none named after a
claim family."""

from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2] / "montecarlo"


def test_no_import_circle_between_montecarlo_modules() -> None:
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("flatstart")
    mods = sorted(m for m in graph.modules if m.startswith("flatstart.montecarlo."))
    assert "flatstart.montecarlo.per_sample" in mods and "flatstart.montecarlo.losses" in mods
    circles = [
        (a, b) for a in mods for b in graph.find_modules_directly_imported_by(a)
        if b.startswith("flatstart.montecarlo.") and graph.chain_exists(importer=b, imported=a)
    ]
    assert not circles, circles


def test_no_room_named_after_a_claim_family() -> None:
    names = [p.name for p in ROOT.rglob("*.py")]
    assert not [n for n in names if n.endswith("_experiments.py")], names
