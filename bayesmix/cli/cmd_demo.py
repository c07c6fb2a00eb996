"""``bayesmix demo``: the package's main job end to end on the genotypes shipped with it.

Each step is one of the package's own commands, run exactly as a user would run it, so the
demo doubles as a worked example of the command line:

1. ``bayesmix simulate``: BayesC effects (50 causal SNPs, h2 = 0.5) on the shipped 1000
   Genomes chr22 subset (503 people), the phenotype, and a marginal GWAS of those people;
2. ``bayesmix munge``: harmonise that GWAS against the reference and print the QC report;
3. ``bayesmix ld``: a MiXeR-style LD reference (r^2 >= 0.05 within 10 Mb) for the first
   4,000 SNPs of the subset;
4. ``bayesmix simulate --n-gwas``: a MiXeR trait (150 causal SNPs, h2 = 0.3) and the summary
   statistics of a GWAS of 100,000 people drawn from that LD;
5. ``bayesmix mixer fit``: the univariate MiXeR fit, whose h2 and number of causal variants
   can be compared with the truth printed at the end.
"""

from __future__ import annotations

from bayesmix.cli.options import CommandSpec, nonnegative_int, option

HELP = "run the main job end to end on the shipped 1000 Genomes subset"


OPTIONS = [
    option("--out", applies=("demo",), default="demo_out/demo", role="output", metavar="PREFIX",
           help="output prefix (its directory is created)"),
    option("--seed", applies=("demo",), default=2026, type=nonnegative_int, help="random seed"),
]
# The demo's steps are commands with their own logs, so the demo keeps none of its own.
SPEC = CommandSpec(prog="bayesmix demo", description=__doc__, analyses={"demo": "demo"},
                   options=OPTIONS, detect=lambda namespace: "demo", log_option=None)


#: SNPs of the shipped chr22 subset used for the MiXeR part (keeps the demo near a minute).
MIXER_SNPS = 4000


def steps(out: str, seed: int) -> list[tuple[str, list[str]]]:
    """The demo as a list of (title, bayesmix argv) pairs; writes the SNP list it needs."""
    from bayesmix.data import example_bfile
    from bayesmix.io.files import atomic_open
    from bayesmix.io.plink import read_bim

    bfile = str(example_bfile(22))
    snp_list = f"{out}.mixer.snps"
    with atomic_open(snp_list, "wt") as fh:
        fh.write("\n".join(read_bim(f"{bfile}.bim")["snp"].iloc[:MIXER_SNPS]) + "\n")
    return [
        ("simulate a BayesC trait on the shipped genotypes and run its GWAS",
         ["simulate", "--bfile", bfile, "--prior", "C", "--h2", "0.5", "--n-causal", "50",
          "--seed", str(seed), "--out", out]),
        ("harmonise the GWAS against the reference and report QC",
         ["munge", "--sumstats", f"{out}.sumstats.gz", "--ref", bfile, "--out", f"{out}.munged"]),
        ("build a MiXeR LD reference (r^2 >= 0.05 within 10 Mb)",
         ["ld", "--bfile", bfile, "--kind", "r2", "--extract", snp_list, "--no-progress",
          "--out", f"{out}.chr22.ld"]),
        ("simulate a MiXeR trait and a GWAS of 100,000 people from that LD",
         ["simulate", "--bfile", bfile, "--prior", "mixer", "--h2", "0.3", "--n-causal", "150",
          "--n-gwas", "100000", "--ld", f"{out}.chr22.ld", "--seed", str(seed),
          "--out", f"{out}.mixer"]),
        ("fit the univariate MiXeR model (the GWAS was drawn from the reference LD itself)",
         ["mixer", "fit", "--sumstats", f"{out}.mixer.sumstats.gz", "--ld", f"{out}.chr22.ld",
          "--chr", "22", "--ld-in-sample", "--seed", str(seed), "--out", f"{out}.mixer.fit"]),
    ]


def run(invocation, run_log) -> int:
    from pathlib import Path

    from bayesmix.cli.main import main

    args = invocation.args
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    plan = steps(args.out, args.seed)
    for number, (title, argv) in enumerate(plan, start=1):
        print(f"\n== step {number}/{len(plan)}: {title}\n$ bayesmix {' '.join(argv)}", flush=True)
        rc = main(argv)
        if rc:
            return rc
    _compare_with_truth(args.out)
    print(f"\ndemo finished: outputs under {args.out}.*")
    return 0


def _compare_with_truth(out: str) -> None:
    """Print the MiXeR estimates next to the simulated truth."""
    import json

    truth = json.loads(open(f"{out}.mixer.truth.json").read())
    fit = json.loads(open(f"{out}.mixer.fit.json").read())
    print("\n== MiXeR estimate vs truth")
    h2, nc = fit["ci"]["h2"], fit["ci"]["nc"]
    print(f"h2 (b'Rb):  {h2['point']:.3f} (95% CI {h2['lower']:.3f}-{h2['upper']:.3f})   "
          f"truth {truth['h2']:.3f}")
    print(f"n causal:   {nc['point']:.0f} (95% CI {nc['lower']:.0f}-{nc['upper']:.0f})   "
          f"truth {truth['n_causal']}")
