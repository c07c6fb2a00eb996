"""``bayesmix-gctb``: GCTB's command line on bayesmix.

One declaration (:data:`SPEC`) lists every option with the analyses it applies to; the
parser refuses options an analysis does not use and two analyses at once
(:mod:`bayesmix.cli.options`). The analyses run in :mod:`bayesmix.cli.gctb_runs`.

GCTB's own examples run unchanged::

    bayesmix-gctb --bfile test --pheno test.phen --bayes R --gamma 0,0.01,0.1,1 \\
        --pi 0.95,0.02,0.02,0.01 --chain-length 10000 --burn-in 2000 --out test
    bayesmix-gctb --bfile ref --chr 22 --make-full-ldm --snp 1-1000 --out ref
    bayesmix-gctb --mldm pieces.txt --make-full-ldm --out ref
    bayesmix-gctb --bfile ref --make-sparse-ldm --chisq 10 --out ref
    bayesmix-gctb --bfile ref --chr 22 --make-shrunk-ldm --gen-map map.txt --out ref
    bayesmix-gctb --sbayes R --ldm ref.ldm.sparse --pi 0.95,0.02,0.02,0.01 \\
        --gamma 0.0,0.01,0.1,1 --gwas-summary trait.ma --chain-length 10000 --burn-in 2000 \\
        --out-freq 10 --out trait
"""

from __future__ import annotations

import sys

from bayesmix.cli.options import (CommandSpec, dask_options, float_list, nonnegative_float,
                                  nonnegative_int, half_open_unit, option, positive_float,
                                  positive_int, probability, snp_range, unit_interval)
from bayesmix.errors import InputError

BAYES = ("bayes-B", "bayes-C", "bayes-S", "bayes-R", "bayes-N", "bayes-NS")
SBAYES = ("sbayes-C", "sbayes-R", "sbayes-S")
LD_BUILD = ("make-full-ldm", "make-sparse-ldm", "make-shrunk-ldm")
LD_FROM_FILES = ("merge-ldm", "thin-ldm", "write-ldm-txt")
MCMC = BAYES + SBAYES

ANALYSES = {
    **{a: f"--bayes {a.split('-')[1]}" for a in BAYES},
    **{a: f"--sbayes {a.split('-')[1]}" for a in SBAYES},
    "make-full-ldm": "--make-full-ldm",
    "make-sparse-ldm": "--make-sparse-ldm",
    "make-shrunk-ldm": "--make-shrunk-ldm",
    "merge-ldm": "--mldm LIST --make-full-ldm",
    "thin-ldm": "--ldm LD --make-sparse-ldm",
    "write-ldm-txt": "--ldm LD --write-ldm-txt",
}


def detect(given: dict) -> str:
    """The analysis the options ask for (exactly one)."""
    asked = []
    if "bayes" in given:
        asked.append(f"bayes-{given['bayes']}")
    if "sbayes" in given:
        asked.append(f"sbayes-{given['sbayes']}")
    builds = [k for k in ("make_full_ldm", "make_sparse_ldm", "make_shrunk_ldm") if given.get(k)]
    if len(builds) > 1:
        raise InputError("choose one of --make-full-ldm, --make-sparse-ldm, --make-shrunk-ldm")
    if builds == ["make_full_ldm"] and "mldm" in given and "sbayes" not in given:
        asked.append("merge-ldm")
    elif builds == ["make_sparse_ldm"] and "ldm" in given and "sbayes" not in given:
        asked.append("thin-ldm")
    elif builds:
        asked.append(builds[0].replace("_", "-"))
    elif given.get("write_ldm_txt"):
        asked.append("write-ldm-txt")
    if len(asked) > 1:
        raise InputError(f"one analysis per run: {' and '.join(ANALYSES[a] for a in asked)} "
                         "were both asked for; run them one after the other")
    if not asked:
        raise InputError("no analysis requested: give --bayes B|C|S|R|N|NS, --sbayes C|R|S, "
                         "--make-full-ldm, --make-sparse-ldm, --make-shrunk-ldm or "
                         "--write-ldm-txt (see --help)")
    return asked[0]


DATA, MODEL, CHAIN, OUTPUT, SUMMARY, LDM = (
    "data and SNP selection", "model", "MCMC", "output", "summary-data (SBayes)",
    "LD matrices")

OPTIONS = [
    # ----------------------------------------------------------------- analyses
    option("--bayes", applies=BAYES, role="selector", group=MODEL, type=str.upper,
           choices=["B", "C", "S", "R", "N", "NS"], metavar="B|C|S|R|N|NS",
           help="BayesB, C, S, R, N or NS on individual genotypes (--bfile, --pheno)"),
    option("--sbayes", applies=SBAYES, role="selector", group=SUMMARY, type=str.upper,
           choices=["C", "R", "S"], metavar="C|R|S",
           help="SBayesC, SBayesR or SBayesS on GWAS summary statistics (--gwas-summary) "
                "and an LD matrix (--ldm or --mldm)"),
    option("--make-full-ldm", applies=("make-full-ldm", "merge-ldm"), role="selector",
           group=LDM, action="store_true",
           help="full LD matrix from --bfile, or with --mldm LIST the merge of the pieces "
                "(--snp i-j) listed"),
    option("--make-sparse-ldm", applies=("make-sparse-ldm", "thin-ldm"), role="selector",
           group=LDM, action="store_true",
           help="sparse LD: keep r_ij with n r_ij^2 >= --chisq, from --bfile or from an "
                "existing --ldm"),
    option("--make-shrunk-ldm", applies=("make-shrunk-ldm",), role="selector", group=LDM,
           action="store_true",
           help="shrunk LD (Wen & Stephens 2010) from --bfile and a genetic map (--gen-map)"),
    option("--write-ldm-txt", applies=LD_BUILD + LD_FROM_FILES, role="runtime", group=LDM,
           action="store_true",
           help="write the LD matrix as text OUT.ldm.txt: of --ldm, or also of the matrix "
                "being built or merged"),
    # ----------------------------------------------------------------- data
    option("--bfile", applies=BAYES + LD_BUILD, required=BAYES + LD_BUILD, input="plink",
           group=DATA, metavar="PREFIX",
           help="PLINK 1 binary fileset PREFIX.bed/.bim/.fam: the genotypes (--bayes) or "
                "the LD reference panel (--make-*-ldm)"),
    option("--pheno", applies=BAYES, required=BAYES, input="file", group=DATA, metavar="FILE",
           help="phenotype file: FID IID trait1 [trait2 ...] (GCTA .phen)"),
    option("--mpheno", applies=BAYES, default=1, group=DATA, type=positive_int, metavar="K",
           help="which trait column of --pheno (1-based)"),
    option("--covar", applies=BAYES, input="file", conflicts=("qcovar",), group=DATA,
           metavar="FILE", help="quantitative covariates FID IID c1 c2 ..., fitted as fixed "
                                "effects"),
    option("--qcovar", applies=BAYES, input="file", conflicts=("covar",), group=DATA,
           metavar="FILE", help="same as --covar (GCTA's name)"),
    option("--dcovar", applies=BAYES, input="file", group=DATA, metavar="FILE",
           help="discrete covariates FID IID label1 ... (one-hot coded fixed effects)"),
    option("--keep", applies=BAYES + LD_BUILD, input="file", group=DATA, metavar="FILE",
           help="keep only the individuals listed (FID IID)"),
    option("--remove", applies=BAYES + LD_BUILD, input="file", group=DATA, metavar="FILE",
           help="remove the individuals listed (FID IID)"),
    option("--extract", applies=MCMC + LD_BUILD, input="file", group=DATA, metavar="FILE",
           help="use only the SNPs listed (first column)"),
    option("--exclude", applies=MCMC + LD_BUILD, input="file", group=DATA, metavar="FILE",
           help="leave out the SNPs listed"),
    option("--chr", applies=MCMC + LD_BUILD, group=DATA, metavar="CHR",
           dest="chrom", help="use only this chromosome"),
    option("--exclude-mhc", applies=MCMC + LD_BUILD, group=DATA, nargs="?", const="hg19",
           choices=["hg19", "hg38"], metavar="BUILD",
           help="leave out the MHC region (genome build hg19 unless hg38 is given)"),
    option("--exclude-region", applies=MCMC + LD_BUILD, input="file", group=DATA,
           metavar="FILE", help="leave out SNPs in the regions of FILE (chr start end, "
                                "1-based inclusive)"),
    option("--maf", applies=BAYES + LD_BUILD, default=0.0, group=DATA, type=unit_interval,
           help="leave out SNPs whose minor allele frequency (in the analysed samples) is "
                "below this"),
    # ----------------------------------------------------------------- model
    option("--pi", applies=MCMC, group=MODEL, type=float_list, metavar="P[,P...]",
           help="starting mixture weights: the non-zero share for B/C/S (default 0.05), the "
                "K weights of R (default 0.95,0.02,0.02,0.01), the share of windows with an "
                "effect for N/NS (default 0.5)"),
    option("--pi-snp", applies=("bayes-N", "bayes-NS"), group=MODEL, type=probability,
           help="starting share of SNPs with an effect inside windows with one (0.05)"),
    option("--fix-pi-snp", applies=("bayes-N", "bayes-NS"), group=MODEL, action="store_true",
           help="keep the within-window SNP share at --pi-snp"),
    option("--gamma", applies=("bayes-R", "sbayes-R"), group=MODEL, type=float_list,
           metavar="G,G,...", help="component variances relative to sig2_beta, first 0 "
                                   "(default 0,0.01,0.1,1)"),
    option("--hsq", applies=MCMC, default=0.5, group=MODEL, type=probability,
           help="starting heritability: sets the starting values and prior scales"),
    option("--S", applies=("bayes-S", "bayes-NS", "sbayes-S"), default=0.0, group=MODEL,
           type=float, dest="S", help="starting value of S (per-allele effect "
                                               "variance proportional to (2pq)^S)"),
    option("--wind", applies=("bayes-N", "bayes-NS"), default=1.0, group=MODEL,
           type=positive_float, help="window width in Mb"),
    option("--fix-pi", applies=MCMC, group=MODEL, action="store_true",
           help="keep the mixture weights at --pi (not sampled)"),
    option("--unscale-genotype", applies=("bayes-B", "bayes-C", "bayes-R", "bayes-N",
                                          "sbayes-C", "sbayes-R"),
           group=MODEL, action="store_true",
           help="per-allele effects: prior variance independent of allele frequency "
                "(centred, not standardised, genotypes); BayesS/NS/SBayesS always are"),
    # ----------------------------------------------------------------- MCMC
    option("--chain-length", applies=MCMC, default=3000, group=CHAIN, type=positive_int,
           help="iterations including burn-in"),
    option("--burn-in", applies=MCMC, default=1000, group=CHAIN, type=nonnegative_int,
           help="iterations discarded"),
    option("--thin", applies=MCMC, default=10, group=CHAIN, type=positive_int,
           help="keep every k-th iteration in the traces and MCMC sample files"),
    option("--seed", applies=MCMC, default=1, group=CHAIN, type=int,
           help="random seed: the same seed gives the same chain, bit for bit"),
    option("--chains", applies=MCMC, default=1, group=CHAIN, type=positive_int,
           help="independent chains (R-hat needs 2 or more; bayesmix extra)"),
    option("--out-freq", applies=MCMC, default=100, role="runtime", group=CHAIN,
           type=nonnegative_int, help="a progress line every k iterations (0: none)"),
    *dask_options(LD_BUILD, group=LDM),
    option("--thread", applies=MCMC + LD_BUILD, default=1, role="runtime", group=CHAIN,
           type=positive_int,
           help="threads: chains run in parallel processes (at most --chains); with one "
                "chain, SBayes sweeps independent LD blocks in parallel; LD building uses "
                "them for its matrix products. Results do not depend on it"),
    option("--checkpoint-every", applies=MCMC, default=1000, role="runtime", group=CHAIN,
           type=nonnegative_int,
           help="write OUT.ckpt.chainK every k iterations (and always when interrupted by "
                "Ctrl-C, SIGTERM or SIGHUP); 0: only when interrupted"),
    option("--resume", applies=MCMC + LD_BUILD, role="runtime", group=CHAIN,
           action="store_true",
           help="continue an interrupted run from its checkpoint (OUT.ckpt.chainK; LD builds: "
                "OUT...ldm.TYPE.ckpt); its inputs and settings must be unchanged. Without it an "
                "existing checkpoint is an error, never silently continued or overwritten"),
    # ----------------------------------------------------------------- output
    option("--out", applies=tuple(ANALYSES), default="gctb", role="output", group=OUTPUT,
           metavar="PREFIX", help="output prefix"),
    option("--no-mcmc-bin", applies=MCMC, role="runtime", group=OUTPUT, action="store_true",
           help="do not write OUT.mcmcsamples.SnpEffects (nor keep per-SNP draws in memory; "
                "LastSampleEff of OUT.snpRes is then NA)"),
    option("--no-netcdf", applies=MCMC, role="runtime", group=OUTPUT, action="store_true",
           help="do not write the ArviZ file OUT.nc"),
    # ----------------------------------------------------------------- summary data
    option("--gwas-summary", applies=SBAYES, required=SBAYES, input="file", group=SUMMARY,
           metavar="FILE", help="GWAS summary statistics (.ma: SNP A1 A2 freq b se p N)"),
    option("--ldm", applies=SBAYES + ("thin-ldm", "write-ldm-txt"),
           required=("thin-ldm", "write-ldm-txt"), input="ld", conflicts=("mldm",),
           group=SUMMARY, metavar="LD",
           help="LD matrix: GCTB PREFIX.ldm.TYPE files, a bayesmix LD folder or an "
                "eigen-decomposed LD folder"),
    option("--mldm", applies=SBAYES + ("merge-ldm",), required=("merge-ldm",), input="list",
           conflicts=("ldm",), group=SUMMARY, metavar="LIST",
           help="file listing LD matrices, one per line: per-chromosome matrices (SBayes) or "
                "row pieces to merge (--make-full-ldm)"),
    option("--impute-n", applies=SBAYES, group=SUMMARY, action="store_true",
           help="GCTB's per-SNP sample size imputation: N_j from b, se and allele frequency, "
                "SNPs with an outlying N dropped; writes OUT.imputedPerSnpN"),
    option("--p-value", applies=SBAYES, group=SUMMARY,
           type=probability, help="keep SNPs with GWAS p-value <= this"),
    option("--rsq", applies=SBAYES, group=SUMMARY, type=unit_interval,
           help="drop SNPs in LD r^2 > this with a more significant SNP (GCTB's high-LD filter)"),
    option("--keep-ambiguous", applies=SBAYES, group=SUMMARY, action="store_true",
           help="keep strand-ambiguous A/T and C/G SNPs (dropped by default)"),
    option("--robust", applies=SBAYES, conflicts=("no_robust",), group=SUMMARY,
           action="store_true",
           help="robust setting: LD sampling-variance correction and an LD ridge from an "
                "eigenvalue check (the default; the flag is accepted for GCTB scripts)"),
    option("--no-robust", applies=SBAYES, conflicts=("robust",), group=SUMMARY,
           action="store_true", help="exact summary-data likelihood (in-sample LD only)"),
    option("--ld-ridge", applies=SBAYES, group=SUMMARY, type=half_open_unit,
           help="ridge towards the LD diagonal, in [0, 1) (default: from the eigenvalue check)"),
    option("--ld-layout", applies=SBAYES, default="auto", role="runtime", group=SUMMARY,
           choices=["auto", "band", "upper", "csr"],
           help="LD layout of the sweeps (same results, different memory and speed): band "
                "(contiguous row runs, 2 bytes per value with int16), upper (2 bytes per "
                "nonzero, slower) or csr (6 bytes per nonzero); auto: band for window, band, "
                "shrunk and full LD, else csr up to 2 GiB of LD arrays, else upper"),
    option("--min-eigenvalue", applies=SBAYES, group=SUMMARY, type=nonnegative_float,
           help="smallest LD eigenvalue the automatic ridge aims for (default 0.01; 0 with "
                "in-sample LD)"),
    option("--ld-in-sample", applies=SBAYES, conflicts=("ld_out_of_sample",), group=SUMMARY,
           action="store_true",
           help="the LD panel is the GWAS sample itself (default: assumed when the panel "
                "size equals the largest GWAS N)"),
    option("--ld-out-of-sample", applies=SBAYES, conflicts=("ld_in_sample",), group=SUMMARY,
           action="store_true", help="the LD panel is an independent reference"),
    # ----------------------------------------------------------------- LD building
    option("--snp", applies=LD_BUILD, group=LDM, type=snp_range, metavar="i-j",
           help="build rows i..j only (1-based), a piece to merge with --mldm"),
    option("--chisq", applies=("make-sparse-ldm", "thin-ldm"), default=10.0, group=LDM,
           type=nonnegative_float, help="sparse LD keeps n r^2 >= this"),
    option("--gen-map", applies=("make-shrunk-ldm",), input="file", group=LDM,
           conflicts=("cm_per_mb",), metavar="FILE",
           help="genetic map: SNP bp cM per line, no header (shrunk LD needs it or "
                "--cm-per-mb)"),
    option("--cm-per-mb", applies=("make-shrunk-ldm",), group=LDM, type=positive_float,
           conflicts=("gen_map",), metavar="RATE",
           help="a constant recombination rate (cM per Mb) instead of --gen-map (bayesmix "
                "extra; e.g. 1 for a rough human average)"),
    option("--ne", applies=("make-shrunk-ldm",), default=11490.672741, group=LDM,
           type=positive_float, help="effective population size"),
    option("--genmap-n", applies=("make-shrunk-ldm",), default=183, group=LDM,
           type=positive_int, help="individuals behind the genetic map"),
    option("--shrunk-cutoff", applies=("make-shrunk-ldm",), default=1e-5, group=LDM,
           type=nonnegative_float, help="shrinkage factors below this are set to 0"),
]


SPEC = CommandSpec(
    prog="bayesmix-gctb",
    description="GCTB-compatible front end of bayesmix: the Bayesian alphabet on individual "
                "genotypes, SBayes on summary statistics, LD matrices.",
    analyses=ANALYSES, options=OPTIONS, detect=detect, epilog=__doc__)


def run(invocation, run_log) -> int:
    """Dispatch to the analysis' runner."""
    from bayesmix.cli import gctb_runs

    if invocation.analysis in BAYES:
        return gctb_runs.run_alphabet(invocation, run_log)
    if invocation.analysis in SBAYES:
        return gctb_runs.run_sbayes(invocation, run_log)
    return gctb_runs.run_ld(invocation, run_log)


def main(argv=None) -> int:
    from bayesmix.cli.common import parse_and_execute

    return parse_and_execute(SPEC, sys.argv[1:] if argv is None else argv, run,
                             program=argv is None)


if __name__ == "__main__":
    sys.exit(main())
