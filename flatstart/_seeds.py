"""Seed derivation: the ground floor that every layer uses to split one seed into many.

All seeds are derived with numpy's :class:`~numpy.random.SeedSequence` (its hash of integer
words is designed so that distinct word lists give independent streams). Imports nothing of
flatstart.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from flatstart._checks import check_int

__all__ = ["derive_seed", "split_seed"]


def derive_seed(words: Iterable[int], bits: int = 63) -> int:
    """A nonnegative seed below ``2**bits`` derived from integer ``words``.

    ``s = SeedSequence(words).generate_state(2)`` (two 32-bit words) folded as
    ``(s₀ << 31 | s₁ >> 1) mod 2**bits``; valid for numpy and torch generators for
    ``bits <= 63``.

    >>> derive_seed([0, 1]) == derive_seed([0, 1]) != derive_seed([0, 2])
    True
    >>> 0 <= derive_seed([7], bits=62) < 2**62
    True
    >>> derive_seed([-1])
    Traceback (most recent call last):
    ...
    ValueError: words must be an integer >= 0, got -1
    """
    bits = check_int("bits", bits, minimum=1, maximum=63)
    ws = [check_int("words", w, minimum=0) for w in words]
    s = np.random.SeedSequence(ws).generate_state(2, dtype=np.uint32)
    return (int(s[0]) << 31 | int(s[1]) >> 1) & ((1 << bits) - 1)


def split_seed(seed: int, k: int, modulus: int = 2**31 - 1) -> list[int]:
    """``k`` independent sub-seeds of ``seed``: ``SeedSequence(seed).generate_state(k)`` (32-bit
    words) reduced modulo ``modulus``.

    >>> a = split_seed(3, 4)
    >>> len(set(a)) == 4 and a == split_seed(3, 4) and a[:2] == split_seed(3, 2)
    True
    """
    seed = check_int("seed", seed, minimum=0)
    k = check_int("k", k, minimum=1)
    modulus = check_int("modulus", modulus, minimum=2)
    state = np.random.SeedSequence(seed).generate_state(k, dtype=np.uint32)
    return [int(s) % modulus for s in state]
