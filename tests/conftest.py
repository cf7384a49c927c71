"""Shared test configuration: deterministic hypothesis profiles and device fixtures."""

from __future__ import annotations

import os

# One intra-op thread per test process: pytest-xdist runs one worker per core, and small batched
# torch programs run far slower when two workers each spawn two threads on two cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from hypothesis import HealthCheck, settings

# CI profile: derandomized (same examples every run), no deadline for numerics, bounded count.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=25,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    derandomize=True,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
