"""``bayesmix``: the package's own command line.

Each subcommand lives in its own module ``bayesmix.cli.cmd_<name>`` exposing ``HELP`` (one
line), ``SPEC`` (its options, declared once with the analyses they apply to:
:mod:`bayesmix.cli.options`) and ``run(invocation, run_log)``. Commands are discovered from
the module names, so adding a command means adding one module. Command modules import heavy
libraries (PyMC, numba kernels) inside ``run`` only, so ``bayesmix --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import bayesmix.cli
from bayesmix.cli.common import parse_and_execute, version_string
from bayesmix.cli.options import Parser


def command_names() -> list[str]:
    """Names of the available subcommands (modules ``bayesmix/cli/cmd_*.py``, ``_`` typed as
    ``-``: ``cmd_example_data`` is ``bayesmix example-data``), sorted."""
    return sorted(
        m.name[len("cmd_"):].replace("_", "-")
        for m in pkgutil.iter_modules(bayesmix.cli.__path__)
        if m.name.startswith("cmd_")
    )


def command_module(name: str):
    return importlib.import_module(f"bayesmix.cli.cmd_{name.replace('-', '_')}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bayesmix",
        description="Bayesian mixture models of complex-trait genetic architecture.",
    )
    parser.add_argument("--version", action="version", version=version_string("bayesmix"))
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_names():
        module = command_module(name)
        p = sub.add_parser(name, help=module.HELP, description=module.SPEC.description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.SPEC.add_to(p)
    return parser


def _command(namespace):
    module = command_module(namespace.command)
    return module.SPEC, module.run, namespace.verbose


def main(argv=None) -> int:
    program = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    return parse_and_execute(_command, argv, None, parser=build_parser(), program=program)


if __name__ == "__main__":
    sys.exit(main())
