"""``bayesmix-gctb``: GCTB's command line (``--bfile --pheno --bayes R ...``) on bayesmix."""

from __future__ import annotations

import argparse
import sys

from bayesmix.cli import gctb_sbayes
from bayesmix.cli.common import run_guarded, setup_logging, version_string


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayesmix-gctb",
        description="GCTB-compatible front end of bayesmix (Bayesian alphabet, SBayes, LD).",
    )
    parser.add_argument("--version", action="version", version=version_string("bayesmix-gctb"))
    gctb_sbayes.add_arguments(parser)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging()
    if gctb_sbayes.requested(args):
        return run_guarded(gctb_sbayes.run, args)
    return run_guarded(lambda a: parser.error("no analysis requested; see --help"), args)


if __name__ == "__main__":
    sys.exit(main())
