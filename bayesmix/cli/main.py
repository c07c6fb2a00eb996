"""``bayesmix``: the package's own command line.

Each subcommand lives in its own module ``bayesmix.cli.cmd_<name>`` exposing ``HELP`` (one
line), ``add_arguments(parser)`` and ``run(args)``. Commands are discovered from the module
names, so adding a command means adding one module. Command modules import heavy libraries
(PyMC, numba kernels) inside ``run`` only, so ``bayesmix --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import bayesmix.cli

from bayesmix.cli.common import run_guarded, setup_logging, version_string



def command_names() -> list[str]:
    """Names of the available subcommands (modules ``bayesmix/cli/cmd_*.py``), sorted."""
    return sorted(
        m.name[len("cmd_"):]
        for m in pkgutil.iter_modules(bayesmix.cli.__path__)
        if m.name.startswith("cmd_")
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayesmix",
        description="Bayesian mixture models of complex-trait genetic architecture.",
    )
    parser.add_argument("--version", action="version", version=version_string("bayesmix"))
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_names():
        module = importlib.import_module(f"bayesmix.cli.cmd_{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    setup_logging(args.verbose)
    return run_guarded(args._run, args)


if __name__ == "__main__":
    sys.exit(main())
