"""``bayesmix demo``: the package's main job end to end on the genotypes shipped with it.

Each step is one of the package's own commands, run exactly as a user would run it, so the
demo doubles as a worked example of the command line:

1. ``bayesmix simulate``: BayesC effects (50 causal SNPs, h2 = 0.5) on the shipped 1000
   Genomes chr22 subset (503 people), the phenotype, and a marginal GWAS of those people;
2. ``bayesmix munge``: harmonise that GWAS against the reference and print the QC report.
"""

from __future__ import annotations

HELP = "run the main job end to end on the shipped 1000 Genomes subset"


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="demo_out/demo", metavar="PREFIX",
                        help="output prefix (default demo_out/demo)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")


def steps(out: str, seed: int) -> list[tuple[str, list[str]]]:
    """The demo as a list of (title, bayesmix argv) pairs."""
    from bayesmix.data import example_bfile

    bfile = str(example_bfile(22))
    return [
        ("simulate a BayesC trait on the shipped genotypes and run its GWAS",
         ["simulate", "--bfile", bfile, "--prior", "C", "--h2", "0.5", "--n-causal", "50",
          "--seed", str(seed), "--out", out]),
        ("harmonise the GWAS against the reference and report QC",
         ["munge", "--sumstats", f"{out}.sumstats.gz", "--ref", bfile, "--out", f"{out}.munged"]),
    ]


def run(args) -> int:
    from bayesmix.cli.main import main

    plan = steps(args.out, args.seed)
    for number, (title, argv) in enumerate(plan, start=1):
        print(f"\n== step {number}/{len(plan)}: {title}\n$ bayesmix {' '.join(argv)}", flush=True)
        rc = main(argv)
        if rc:
            return rc
    print(f"\ndemo finished: outputs under {args.out}.*")
    return 0
