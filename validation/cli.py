"""The ``flatstart`` command line (placeholder until the validation layer lands)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flatstart`` console script."""
    print("flatstart: validation layer under construction")
    return 0


if __name__ == "__main__":
    sys.exit(main())
