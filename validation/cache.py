"""Content-addressed on-disk cache of grid-point results.

One file per grid point, ``<root>/<key[:2]>/<key>.pkl``, where ``key`` is
:func:`flatstart.validation.records.point_key` (sha256 of claim id and version, parameters, budget,
seed, device, flatstart version, a hash of the source of every module of ``theory``, ``montecarlo``
and ``validation`` and of the claim's own module, and the versions of torch, numpy, scipy,
sympy and mpmath): editing code that a result can depend on is a miss, never a stale hit.
Writes are atomic (a temporary file in the same folder, then :func:`os.replace`), so an
interrupted run never leaves a half-written entry; a later run finds every finished point and
computes only the rest. A file that cannot be read, or whose stored key differs from its name,
is a miss (and is removed).

Only successful points are stored; points that raised are recomputed next time.

The report's figures are cached beside the points, ``<root>/figures/<key[:2]>/<key>.png``
(and ``.svg``), under a key of their own
(:func:`flatstart.validation.report.figure_key`: the keys of the claim's grid points, the
plotting code and the style), so a rerun on cached points copies its figures instead of
redrawing them. :meth:`Cache.clear` removes them too.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flatstart.validation.records import PointRecord

__all__ = ["DEFAULT_CACHE_DIR", "FIGURES_DIR", "Cache", "default_cache_dir"]

DEFAULT_CACHE_DIR = ".flatstart-cache"
FIGURES_DIR = "figures"


def default_cache_dir() -> Path:
    """``$FLATSTART_CACHE`` if set, else ``.flatstart-cache`` in the working directory."""
    return Path(os.environ.get("FLATSTART_CACHE", DEFAULT_CACHE_DIR))


class Cache:
    """Content-addressed store of :class:`~flatstart.validation.records.PointRecord` objects.

    Args:
        root: folder of the cache (created on first write).

    >>> import tempfile
    >>> c = Cache(tempfile.mkdtemp())
    >>> c.get("0" * 64) is None
    True
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self.writes = 0

    def path(self, key: str) -> Path:
        """File that holds ``key``."""
        if len(key) < 3 or not all(ch in "0123456789abcdef" for ch in key):
            raise ValueError(f"key must be a lowercase hex digest, got {key!r}")
        return self.root / key[:2] / f"{key}.pkl"

    def get(self, key: str) -> PointRecord | None:
        """The stored record of ``key`` (with ``cached=True``), or None on a miss."""
        p = self.path(key)
        try:
            with open(p, "rb") as fh:
                stored_key, record = pickle.load(fh)
        except FileNotFoundError:
            self.misses += 1
            return None
        except Exception:
            # unreadable or from an incompatible version: a miss, and drop it
            self.misses += 1
            try:
                p.unlink()
            except OSError:
                pass
            return None
        if stored_key != key or not isinstance(record, PointRecord):
            self.misses += 1
            return None
        record.cached = True
        self.hits += 1
        return record

    def put(self, record: PointRecord) -> bool:
        """Store a successful record atomically; records with an error are not stored.

        Returns whether it was stored (a measurement that cannot be pickled is skipped).
        """
        if record.error is not None or record.outcome is None:
            return False
        target = self.path(record.key)
        target.parent.mkdir(parents=True, exist_ok=True)
        clean = record.for_transport()
        clean.cached = False
        try:
            payload = pickle.dumps((record.key, clean), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return False
        _atomic_write(target, payload)
        self.writes += 1
        return True

    def __contains__(self, key: str) -> bool:
        return self.path(key).exists()

    def figure_paths(self, key: str, suffixes: Sequence[str]) -> list[Path]:
        """Files of the cached figure ``key``: ``<root>/figures/<key[:2]>/<key>.<suffix>``."""
        self.path(key)  # checks the key
        return [self.root / FIGURES_DIR / key[:2] / f"{key}.{s}" for s in suffixes]

    def get_figure(self, key: str, suffixes: Sequence[str]) -> list[Path] | None:
        """The cached files of figure ``key`` (one per suffix), or None unless all exist."""
        paths = self.figure_paths(key, suffixes)
        return paths if all(p.is_file() for p in paths) else None

    def put_figure(self, key: str, files: Sequence[str | os.PathLike[str]]) -> list[Path]:
        """Copy ``files`` (their suffixes name the formats) into the cache as figure ``key``,
        each atomically (a temporary file, then :func:`os.replace`); returns the copies."""
        suffixes = [Path(f).suffix.lstrip(".") for f in files]
        targets = self.figure_paths(key, suffixes)
        for src, target in zip(files, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(target, Path(src).read_bytes())
        return targets

    def _figure_files(self) -> list[Path]:
        folder = self.root / FIGURES_DIR
        return sorted(p for p in folder.glob("*/*") if p.is_file()) if folder.is_dir() else []

    def clear(self) -> int:
        """Remove every entry (and every cached figure); returns how many grid-point entries
        were removed."""
        count = 0
        if self.root.exists():
            for p in self.root.glob("*/*.pkl"):
                p.unlink()
                count += 1
            for p in self._figure_files():
                p.unlink()
        return count

    def info(self) -> dict[str, Any]:
        """What is stored: folder, number of entries, bytes, and entries per claim id.

        Entries that cannot be read are counted under ``"unreadable"`` (a later ``get`` drops
        them). ``"figures"`` counts the cached figure files (not in ``"bytes"``).
        """
        per_claim: dict[str, int] = {}
        count = size = unreadable = 0
        if self.root.exists():
            for p in sorted(self.root.glob("*/*.pkl")):
                count += 1
                size += p.stat().st_size
                try:
                    with open(p, "rb") as fh:
                        _, record = pickle.load(fh)
                    cid = str(record.claim_id)
                except Exception:
                    unreadable += 1
                    continue
                per_claim[cid] = per_claim.get(cid, 0) + 1
        return {
            "root": str(self.root), "entries": count, "bytes": size,
            "unreadable": unreadable, "claims": dict(sorted(per_claim.items())),
            "figures": len(self._figure_files()),
        }

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"


def _atomic_write(target: Path, payload: bytes) -> None:
    """Write ``payload`` to ``target`` atomically: a temporary file in the same folder, synced,
    then :func:`os.replace` (an interrupted write leaves no partial file)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
