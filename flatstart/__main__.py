"""``python -m flatstart``: the ``flatstart`` command line."""

from flatstart.validation.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
