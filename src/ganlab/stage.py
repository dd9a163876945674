"""What every stage script shares: argument parsing of paths, params loading, one-line errors."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from ganlab.errors import GanlabError


def args(description: str, *paths: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """Parse --params and the named path options (all required: paths are written in dvc.yaml only)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    for name in paths:
        ap.add_argument(f"--{name}", required=True)
    if extra:
        extra(ap)
    return ap.parse_args()


def run(main: Callable[[], object]) -> None:
    """Run a stage's main; a user-fixable problem becomes one line on stderr and exit status 2."""
    try:
        main()
    except GanlabError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # outputs are written atomically, so nothing half-written is left
        print("interrupted", file=sys.stderr)
        sys.exit(130)
