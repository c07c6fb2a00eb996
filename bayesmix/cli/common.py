"""Shared command-line plumbing: error reporting without tracebacks, logging, versions."""

from __future__ import annotations

import logging
import sys

from bayesmix import __version__
from bayesmix.errors import BayesmixError

log = logging.getLogger("bayesmix")


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr: INFO by default, DEBUG with ``--verbose``."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )


def version_string(prog: str) -> str:
    return f"{prog} (bayesmix) {__version__}"


def run_guarded(func, args) -> int:
    """Run ``func(args)``; turn user-facing errors and Ctrl-C into a message and exit code.

    Exit codes: 0 success, 1 a :class:`BayesmixError` (bad input, divergence), 130 interrupted.
    Unexpected exceptions keep their traceback: they are bugs and should be reported.
    """
    try:
        rc = func(args)
    except BayesmixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished outputs were kept", file=sys.stderr)
        return 130
    return 0 if rc is None else int(rc)
