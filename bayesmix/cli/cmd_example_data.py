"""``bayesmix example-data``: copy the genotypes shipped with the package to a folder under
short names, so the commands of the docs can be run as written.

Writes ``DIR/chr21.bed/.bim/.fam`` and ``DIR/chr22.bed/.bim/.fam``: 503 European-ancestry
individuals of the 1000 Genomes Project Phase 3 and the first 10,000 HapMap3 SNPs of each
chromosome (:mod:`bayesmix.data`). The ``.bim`` files carry no genetic map (cM column 0).
"""

from __future__ import annotations

from bayesmix.cli.options import CommandSpec, option

HELP = "copy the shipped 1000 Genomes subsets (chr21, chr22) to a folder, for the docs' examples"

OPTIONS = [
    option("--out", applies=("example-data",), required=("example-data",), role="output",
           metavar="DIR",
           help="folder to write chr21.* and chr22.* to (created if missing; its parent must "
                "exist)"),
]
# The output is a folder of copies, not a prefix of results: no OUT.log is written.
SPEC = CommandSpec(prog="bayesmix example-data", description=__doc__,
                   analyses={"example-data": "example-data"}, options=OPTIONS,
                   detect=lambda namespace: "example-data", log_option=None)


def run(invocation, run_log) -> int:
    from bayesmix.data import copy_example_data
    from bayesmix.io.plink import read_bim

    for prefix in copy_example_data(invocation.args.out):
        bim = read_bim(f"{prefix}.bim")
        with open(f"{prefix}.fam") as fam:
            n_samples = sum(1 for _ in fam)
        run_log.say(f"{prefix}.bed/.bim/.fam: {n_samples} people, {len(bim):,} SNPs of "
                    f"chromosome {bim['chr'].iloc[0]} ({bim['bp'].min() / 1e6:.1f}-"
                    f"{bim['bp'].max() / 1e6:.1f} Mb), no genetic map (cM 0)")
    return 0
