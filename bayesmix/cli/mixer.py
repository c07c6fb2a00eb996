"""``bayesmix-mixer``: MiXeR's command line (``ld``, ``fit1``, ``test1``, ...) on bayesmix."""

from __future__ import annotations

import argparse
import sys

from bayesmix.cli.common import run_guarded, setup_logging, version_string


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayesmix-mixer",
        description="MiXeR-compatible front end of bayesmix (causal mixture models of z-scores).",
    )
    parser.add_argument("--version", action="version", version=version_string("bayesmix-mixer"))
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    setup_logging()
    return run_guarded(args._run, args)


if __name__ == "__main__":
    sys.exit(main())
