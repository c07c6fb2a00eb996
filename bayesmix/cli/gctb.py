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
    bayesmix-gctb --bfile ref --make-block-ldm --block-info blocks.txt --out ldm
    bayesmix-gctb --ldm ldm --merge-block-ldm-info --out ldm
    bayesmix-gctb --ldm ldm --make-ldm-eigen --ldm-eigen-cutoff 0.995 --out ldm
    bayesmix-gctb --sbayes R --ldm ref.ldm.sparse --pi 0.95,0.02,0.02,0.01 \\
        --gamma 0.0,0.01,0.1,1 --gwas-summary trait.ma --chain-length 10000 --burn-in 2000 \\
        --out-freq 10 --out trait
"""

from __future__ import annotations

import argparse
import sys

from bayesmix.cli.options import (CommandSpec, dask_options, finite_float, float_list,
                                  half_open_unit, minor_allele_frequency, nonnegative_float,
                                  nonnegative_int, option, positive_float, positive_int,
                                  probability, snp_range, unit_interval)
from bayesmix.errors import InputError
from bayesmix.io.gctb_rules import GctbRules
from bayesmix.models.gctb_defaults import GCTB_HSQ

BAYES = ("bayes-B", "bayes-C", "bayes-S", "bayes-R", "bayes-N", "bayes-NS")
SBAYES = ("sbayes-C", "sbayes-R", "sbayes-S")
SBAYES_EIGEN = ("sbayes-eigen-C", "sbayes-eigen-R", "sbayes-eigen-S", "sbayes-eigen-RC")
LD_BUILD = ("make-full-ldm", "make-sparse-ldm", "make-shrunk-ldm")
LD_FROM_FILES = ("merge-ldm", "thin-ldm", "write-ldm-txt")
BLOCK_LD_FROM_GENOTYPES = ("make-block-ldm", "make-ldm-eigen-bfile")
EIGEN_LD = BLOCK_LD_FROM_GENOTYPES + ("merge-block-ldm-info", "make-ldm-eigen")
BLOCK_BUILDS = BLOCK_LD_FROM_GENOTYPES + ("make-ldm-eigen",)   # those that compute block LD
SUMMARY_ANALYSES = SBAYES + SBAYES_EIGEN
MCMC = BAYES + SUMMARY_ANALYSES

ANALYSES = {
    **{a: f"--bayes {a.split('-')[1]}" for a in BAYES},
    **{a: f"--sbayes {a.split('-')[1]}" for a in SBAYES},
    **{a: f"--ldm-eigen DIR --sbayes {a.split('-')[2]}" for a in SBAYES_EIGEN},
    "make-block-ldm": "--bfile --make-block-ldm --block-info",
    "merge-block-ldm-info": "--ldm DIR --merge-block-ldm-info",
    "make-ldm-eigen": "--ldm DIR --make-ldm-eigen",
    "make-ldm-eigen-bfile": "--bfile --make-ldm-eigen --block-info",
    "impute-summary": "--ldm-eigen DIR --impute-summary",
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
        if "ldm_eigen" in given:
            asked.append(f"sbayes-eigen-{given['sbayes']}")
        elif given["sbayes"] == "RC":
            raise InputError("--sbayes RC runs on eigen-decomposed LD: give --ldm-eigen DIR "
                             "(and --annot FILE)")
        else:
            asked.append(f"sbayes-{given['sbayes']}")
    for flag in ("make_block_ldm", "merge_block_ldm_info", "impute_summary"):
        if given.get(flag):
            asked.append(flag.replace("_", "-"))
    if given.get("make_ldm_eigen"):
        if "bfile" in given and "ldm" in given:
            raise InputError("--ldm does not apply to --bfile --make-ldm-eigen, nor --bfile "
                             "to --ldm DIR --make-ldm-eigen: give --ldm DIR (decompose its "
                             "block LD) or --bfile with --block-info (build it), not both")
        asked.append("make-ldm-eigen-bfile" if "bfile" in given else "make-ldm-eigen")
    builds = [k for k in ("make_full_ldm", "make_sparse_ldm", "make_shrunk_ldm") if given.get(k)]
    if len(builds) > 1:
        raise InputError("choose one of --make-full-ldm, --make-sparse-ldm, --make-shrunk-ldm")
    if builds == ["make_full_ldm"] and "mldm" in given and "sbayes" not in given:
        asked.append("merge-ldm")
    elif builds == ["make_sparse_ldm"] and "ldm" in given and "sbayes" not in given:
        asked.append("thin-ldm")
    elif builds:
        asked.append(builds[0].replace("_", "-"))
    elif given.get("write_ldm_txt") and not set(asked) & set(BLOCK_BUILDS):
        asked.append("write-ldm-txt")
    if len(asked) > 1:
        raise InputError(f"one analysis per run: {' and '.join(ANALYSES[a] for a in asked)} "
                         "were both asked for; run them one after the other")
    if not asked:
        raise InputError("no analysis requested: give --bayes B|C|S|R|N|NS, --sbayes "
                         "C|R|S|RC, --make-full-ldm, --make-sparse-ldm, --make-shrunk-ldm, "
                         "--make-block-ldm, --make-ldm-eigen, --merge-block-ldm-info, "
                         "--impute-summary or --write-ldm-txt (see --help)")
    return asked[0]


#: GCTB's default --ldm-eigen-cutoff of SBayes on eigen LD: chosen from by pseudo-validation
GCTB_CUTOFFS = (0.995, 0.99, 0.95, 0.9)


def eigen_cutoff(text: str) -> tuple:
    """``--ldm-eigen-cutoff``: one share in (0, 1], or GCTB's list (commas or spaces), over
    which SBayes on eigen LD chooses by pseudo-validation
    (:mod:`bayesmix.inference.eigen_cutoff`). Returns the shares, largest first."""
    values = []
    for token in text.replace(",", " ").split():
        try:
            value = float(token)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{token!r} is not a number") from None
        if not 0 < value <= 1:
            raise argparse.ArgumentTypeError(f"{token} is not in (0, 1]")
        values.append(value)
    if not values:
        raise argparse.ArgumentTypeError("give a cut-off, e.g. 0.995, or a list: 0.995,0.99")
    return tuple(sorted(set(values), reverse=True))


def single_eigen_cutoff(args, action: str) -> None:
    """Analyses that decompose or impute take one ``--ldm-eigen-cutoff``: replace the parsed
    tuple by its value (``action`` names the analysis in the error)."""
    cutoffs = args.ldm_eigen_cutoff
    if len(cutoffs) > 1:
        raise InputError(f"--ldm-eigen-cutoff {','.join(f'{c:g}' for c in cutoffs)}: {action} "
                         "takes one cut-off (a list is chosen from by SBayes on eigen LD)")
    args.ldm_eigen_cutoff = cutoffs[0]


DATA, MODEL, CHAIN, OUTPUT, SUMMARY, LDM, DASK = (
    "data and SNP selection", "model", "MCMC", "output", "summary-data (SBayes)",
    "LD matrices", "Dask (beyond one process; docs/scale.md)")

OPTIONS = [
    # ----------------------------------------------------------------- analyses
    option("--bayes", applies=BAYES, role="selector", group=MODEL, type=str.upper,
           choices=["B", "C", "S", "R", "N", "NS"], metavar="B|C|S|R|N|NS",
           help="BayesB, C, S, R, N or NS on individual genotypes (--bfile, --pheno)"),
    option("--sbayes", applies=SUMMARY_ANALYSES, role="selector", group=SUMMARY,
           type=str.upper, choices=["C", "R", "S", "RC"], metavar="C|R|S|RC",
           help="SBayesC, SBayesR or SBayesS on GWAS summary statistics (--gwas-summary) "
                "and an LD matrix (--ldm or --mldm) or eigen-decomposed LD (--ldm-eigen); "
                "RC: SBayesR with annotation-dependent mixture weights (--ldm-eigen, "
                "--annot)"),
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
    option("--make-block-ldm", applies=("make-block-ldm",), role="selector", group=LDM,
           action="store_true",
           help="the full LD of each block of --block-info from --bfile, into the folder "
                "--out: block<ID>.ldm.bin, .snp.info, .ldm.info (GCTB's eigen LD, step 1)"),
    option("--merge-block-ldm-info", applies=("merge-block-ldm-info",), role="selector",
           group=LDM, action="store_true",
           help="merge the per-block info files of the folder --ldm DIR into DIR/snp.info "
                "and DIR/ldm.info, deleting them (step 2)"),
    option("--make-ldm-eigen", applies=("make-ldm-eigen", "make-ldm-eigen-bfile"),
           role="selector", group=LDM, action="store_true",
           help="eigen-decompose each block LD of --ldm DIR into DIR/block<ID>.eigen.bin "
                "(step 3); with --bfile and --block-info instead, steps 1-3 in one pass into "
                "the folder --out, without the m x m matrices (bayesmix extra)"),
    option("--block-info", applies=BLOCK_LD_FROM_GENOTYPES, required=BLOCK_LD_FROM_GENOTYPES,
           input="file", group=LDM, metavar="FILE",
           help="LD blocks: a header line, then ID Chrom StartBP EndBP per block (integer "
                "IDs); a block holds the SNPs of its chromosome with StartBP <= bp < EndBP"),
    option("--block", applies=BLOCK_BUILDS + ("impute-summary",), group=LDM,
           type=positive_int, conflicts=("resume",), metavar="N",
           help="only the N-th block (1-based, in the order of --block-info, or of "
                "DIR/ldm.info with --ldm DIR), so blocks run as separate jobs; merge their "
                "info files with --merge-block-ldm-info afterwards. --impute-summary: "
                "impute the N-th block of --ldm-eigen only, into OUT.block<ID>.imputed.ma"),
    option("--write-ldm-txt", applies=LD_BUILD + LD_FROM_FILES + BLOCK_BUILDS, role="runtime",
           group=LDM, action="store_true",
           help="write the LD matrix as text OUT.ldm.txt: of --ldm, or also of the matrix "
                "being built or merged; block LD: also block<ID>.ldm.txt (--make-block-ldm) "
                "or block<ID>.eigen.txt (--make-ldm-eigen), GCTB's layouts"),
    # ----------------------------------------------------------------- data
    option("--bfile", applies=BAYES + LD_BUILD + BLOCK_LD_FROM_GENOTYPES,
           required=BAYES + LD_BUILD + BLOCK_LD_FROM_GENOTYPES, input="plink",
           group=DATA, metavar="PREFIX",
           help="PLINK 1 binary fileset PREFIX.bed/.bim/.fam: the genotypes (--bayes) or "
                "the LD reference panel (--make-*-ldm, --make-block-ldm, --make-ldm-eigen)"),
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
    option("--keep", applies=BAYES + LD_BUILD + BLOCK_LD_FROM_GENOTYPES, input="file", group=DATA, metavar="FILE",
           help="keep only the individuals listed (FID IID)"),
    option("--remove", applies=BAYES + LD_BUILD + BLOCK_LD_FROM_GENOTYPES, input="file", group=DATA, metavar="FILE",
           help="remove the individuals listed (FID IID)"),
    option("--extract", applies=MCMC + LD_BUILD + BLOCK_LD_FROM_GENOTYPES
           + ("impute-summary",), input="file", type=GctbRules,
           group=DATA, metavar="FILE",
           help="use only the SNPs listed (every whitespace-separated field is a SNP id, as "
                "GCTB reads the list)"),
    option("--exclude", applies=MCMC + LD_BUILD + BLOCK_LD_FROM_GENOTYPES
           + ("impute-summary",), input="file", type=GctbRules,
           group=DATA, metavar="FILE",
           help="leave out the SNPs listed (read as --extract's)"),
    option("--chr", applies=MCMC + LD_BUILD + BLOCK_LD_FROM_GENOTYPES + ("impute-summary",),
           group=DATA, metavar="CHR",
           dest="chrom", help="use only this chromosome"),
    option("--exclude-mhc", applies=MCMC + LD_BUILD + BLOCK_LD_FROM_GENOTYPES
           + ("impute-summary",), group=DATA,
           nargs="?", const="gctb",
           choices=["gctb", "hg19", "hg38"], metavar="BUILD",
           help="leave out the MHC: without BUILD GCTB's (chr6, 28 Mb < bp < 34 Mb); hg19 "
                "or hg38: the extended MHC of that build (hg19 28.48-33.45 Mb)"),
    option("--exclude-region", applies=MCMC + LD_BUILD + BLOCK_LD_FROM_GENOTYPES
           + ("impute-summary",), input="file", type=GctbRules,
           group=DATA,
           metavar="FILE", help="leave out SNPs in the regions of FILE (chr start end per "
                                "line; as GCTB, the SNPs strictly between start and end)"),
    option("--maf", applies=BAYES + LD_BUILD + BLOCK_LD_FROM_GENOTYPES, default=0.0, group=DATA,
           type=minor_allele_frequency,
           help="leave out SNPs whose minor allele frequency (in the analysed samples) is "
                "below this (0 to 0.5)"),
    # ----------------------------------------------------------------- model
    option("--pi", applies=MCMC, group=MODEL, type=float_list, metavar="P[,P...]",
           help="starting mixture weights: the non-zero share for B/C/S (one value, default "
                "0.05), the K weights of R (default, as GCTB 2.05, 0.95,0.02,0.01,0.01,0.01; "
                "0.95,0.02,0.02,0.01 with four --gamma values), the share of windows with an "
                "effect for N/NS (default 0.05, as GCTB)"),
    option("--pi-snp", applies=("bayes-N", "bayes-NS"), group=MODEL, type=probability,
           help="starting share of SNPs with an effect inside windows with one (0.05)"),
    option("--fix-pi-snp", applies=("bayes-N", "bayes-NS"), group=MODEL, action="store_true",
           help="keep the within-window SNP share at --pi-snp"),
    option("--gamma", applies=("bayes-R", "sbayes-R", "sbayes-eigen-R", "sbayes-eigen-RC"),
           group=MODEL, type=float_list,
           metavar="G,G,...", help="component variances relative to sig2_beta, first 0 "
                                   "(default, as GCTB 2.05, 0,0.001,0.01,0.1,1; GCTB 2.0's "
                                   "documented default was 0,0.01,0.1,1)"),
    option("--hsq", applies=MCMC, default=GCTB_HSQ, group=MODEL, type=probability,
           help="starting heritability: sets the starting values and prior scales (default "
                "0.1, as GCTB 2.05)"),
    option("--S", applies=("bayes-S", "bayes-NS", "sbayes-S", "sbayes-eigen-S"), default=0.0,
           group=MODEL,
           type=finite_float, dest="S", help="starting value of S (per-allele effect "
                                               "variance proportional to (2pq)^S); SigmaSq's "
                                               "prior scale starts from it and --hsq and "
                                               "then adapts to the chain during burn-in (GCTB: "
                                               "its first 2,000 iterations)"),
    option("--wind", applies=("bayes-N", "bayes-NS"), default=1.0, group=MODEL,
           type=positive_float, help="window width in Mb"),
    option("--fix-pi", applies=tuple(a for a in MCMC if a != "sbayes-eigen-RC"), group=MODEL,
           action="store_true",
           help="keep the mixture weights at --pi (not sampled; SBayesRC's weights come from "
                "the annotations)"),
    option("--unscale-genotype", applies=("bayes-B", "bayes-C", "bayes-R", "bayes-N",
                                          "bayes-NS", "sbayes-C", "sbayes-R", "sbayes-eigen-C",
                                          "sbayes-eigen-R", "sbayes-eigen-RC"),
           group=MODEL, action="store_true",
           help="per-allele effects: prior variance independent of allele frequency "
                "(centred, not standardised, genotypes); BayesS/SBayesS always are (as in "
                "GCTB, BayesNS only with this option: its S is then per allele)"),
    # ----------------------------------------------------------------- MCMC
    option("--chain-length", applies=MCMC, default=3000, group=CHAIN, type=positive_int,
           help="iterations including burn-in"),
    option("--burn-in", applies=MCMC, default=1000, group=CHAIN, type=nonnegative_int,
           help="iterations discarded; at least 2 for SBayes and BayesS/NS, whose plug-ins "
                "(sig2_beta's prior scale, robust SBayes's LD correction) adapt during it"),
    option("--thin", applies=MCMC, default=10, group=CHAIN, type=positive_int,
           help="keep every k-th iteration in the traces and MCMC sample files"),
    option("--seed", applies=MCMC, default=1, group=CHAIN, type=nonnegative_int,
           help="random seed: the same seed gives the same chain, bit for bit"),
    option("--chains", applies=MCMC, default=1, group=CHAIN, type=positive_int,
           help="independent chains (R-hat needs 2 or more; bayesmix extra)"),
    option("--out-freq", applies=MCMC, default=100, role="runtime", group=CHAIN,
           type=nonnegative_int, help="a progress line every k iterations (0: none)"),
    *dask_options(LD_BUILD + MCMC, group=DASK, pieces=LD_BUILD),
    option("--thread", applies=MCMC + LD_BUILD + BLOCK_BUILDS, default=1, role="runtime", group=CHAIN,
           type=positive_int,
           help="threads: chains run in parallel processes (at most --chains); with one "
                "chain, SBayes sweeps independent LD blocks (eigen LD: runs of blocks) in "
                "parallel; LD building uses them for its matrix products (block LD: and "
                "eigen-decompositions, whose BLAS results can differ in the last bits, ~1e-15, "
                "with the thread count). Other results do not depend on it"),
    option("--checkpoint-every", applies=MCMC, default=1000, role="runtime", group=CHAIN,
           type=nonnegative_int,
           help="write OUT.ckpt.chainK every k iterations (and always when interrupted by "
                "Ctrl-C, SIGTERM or SIGHUP); 0: only when interrupted"),
    option("--resume", applies=MCMC + LD_BUILD + BLOCK_BUILDS, role="runtime", group=CHAIN,
           action="store_true",
           help="continue an interrupted run from its checkpoint (OUT.ckpt.chainK; LD builds: "
                "OUT...ldm.TYPE.ckpt; block LD: the blocks finished in the folder); its "
                "inputs and settings must be unchanged. Without it an "
                "existing checkpoint is an error, never silently continued or overwritten"),
    # ----------------------------------------------------------------- output
    option("--out", applies=tuple(ANALYSES), default="gctb", role="output", group=OUTPUT,
           metavar="PREFIX", help="output prefix (--make-block-ldm, --make-ldm-eigen "
                                  "--bfile: the output folder, created; OUT.log next to it)"),
    option("--no-mcmc-bin", applies=MCMC, role="runtime", group=OUTPUT, action="store_true",
           help="do not write OUT.mcmcsamples.SnpEffects (nor keep per-SNP draws in memory; "
                "LastSampleEff of OUT.snpRes is then NA)"),
    option("--no-netcdf", applies=MCMC, role="runtime", group=OUTPUT, action="store_true",
           help="do not write the ArviZ file OUT.nc"),
    # ----------------------------------------------------------------- summary data
    option("--gwas-summary", applies=SUMMARY_ANALYSES + ("impute-summary",),
           required=("impute-summary",), input="file", conflicts=("mgwas_summary",),
           group=SUMMARY, metavar="FILE",
           help="GWAS summary statistics (.ma: SNP A1 A2 freq b se p N)"),
    option("--mgwas-summary", applies=SUMMARY_ANALYSES, input="file",
           conflicts=("gwas_summary",), group=SUMMARY, metavar="LIST",
           help="several traits in one run (bayesmix extra): a file listing statistics "
                "files, one per line, each optionally followed by the trait's name (default: "
                "the file name without .gz and its extension); a file name with spaces is a "
                "whole line, quoted (\"my trait.ma\" NAME) or tab-separated from the name; "
                "each trait is analysed as "
                "with --gwas-summary into OUT.NAME.* (log OUT.NAME.log), one after the other "
                "or, with --cluster/--dask-scheduler, each as one Dask task"),
    option("--ldm-eigen", applies=SBAYES_EIGEN + ("impute-summary",),
           required=SBAYES_EIGEN + ("impute-summary",), input="dir", group=SUMMARY,
           metavar="DIR",
           help="eigen-decomposed block LD (GCTB's --make-ldm-eigen folder, or a bayesmix "
                "eigen LD folder): SBayes on the low-rank likelihood of SBayesRC, one residual "
                "variance per LD block (weighted per eigen direction: --eigen-noise)"),
    option("--ldm-eigen-cutoff", applies=SBAYES_EIGEN + ("make-ldm-eigen",
                                                        "make-ldm-eigen-bfile",
                                                        "impute-summary"),
           default={"make-ldm-eigen": (0.995,), "make-ldm-eigen-bfile": (0.995,),
                    "impute-summary": (0.995,),
                    **{a: GCTB_CUTOFFS for a in SBAYES_EIGEN}},
           group=SUMMARY, type=eigen_cutoff, metavar="C[,C...]",
           help="share of each block's LD variance (sum of positive eigenvalues) kept by its "
                "leading eigenvectors: when decomposing or imputing, one share; for SBayes, "
                "one share (at most the folder's) or GCTB's list, from which the share with "
                "the best pseudo-validation prediction accuracy is chosen (shares above the "
                "folder's count as the folder's)"),
    option("--eigen-noise", applies=SBAYES_EIGEN, default="lambda", group=SUMMARY,
           choices=("lambda", "flat"),
           help="residual variance of SBayes on eigen LD (bayesmix extra): 'lambda' (default) "
                "one per block times 1 + c/lambda per eigen direction, as a reference "
                "panel's small eigenvalues magnify the noise, c fitted to the residuals of "
                "200-iteration pilot chains run until it settles (2-6); 'flat' one per block, "
                "SBayesRC's model (docs/sbayes.md)"),
    option("--annot", applies=("sbayes-eigen-RC",), required=("sbayes-eigen-RC",),
           input="file", group=SUMMARY, metavar="FILE",
           help="SNP annotations: a header line, then SNP and one column per annotation "
                "(an intercept column of ones is added when absent; SNPs not listed get the "
                "intercept alone, so a file may list only the SNPs of a set annotation)"),
    option("--ldm", applies=SBAYES + ("thin-ldm", "write-ldm-txt", "merge-block-ldm-info",
                                      "make-ldm-eigen"),
           required=("thin-ldm", "write-ldm-txt", "merge-block-ldm-info", "make-ldm-eigen"),
           input="ld", conflicts=("mldm",), group=SUMMARY, metavar="LD",
           help="LD matrix: GCTB PREFIX.ldm.TYPE files, a bayesmix LD folder or an "
                "eigen-decomposed LD folder; --merge-block-ldm-info, --make-ldm-eigen: the "
                "block LD folder DIR (--make-block-ldm --out DIR)"),
    option("--mldm", applies=SBAYES + ("merge-ldm",), required=("merge-ldm",), input="list",
           conflicts=("ldm",), group=SUMMARY, metavar="LIST",
           help="file listing LD matrices, one per line: per-chromosome matrices (SBayes) or "
                "row pieces to merge (--make-full-ldm)"),
    option("--impute-n", applies=SUMMARY_ANALYSES, group=SUMMARY, action="store_true",
           help="GCTB's per-SNP sample size imputation: N_j from b, se and allele frequency, "
                "SNPs with an outlying N dropped; writes OUT.imputedPerSnpN"),
    option("--p-value", applies=SUMMARY_ANALYSES + ("impute-summary",), group=SUMMARY,
           type=probability, help="keep SNPs with GWAS p-value <= this (where P is missing, "
                                  "the normal p-value of BETA/SE)"),
    option("--rsq", applies=SBAYES, group=SUMMARY, type=unit_interval,
           help="drop SNPs in LD r^2 > this with a more significant SNP (GCTB's high-LD filter)"),
    option("--keep-ambiguous", applies=SUMMARY_ANALYSES + ("impute-summary",), group=SUMMARY,
           action="store_true",
           help="keep strand-ambiguous A/T and C/G SNPs (dropped by default)"),
    option("--impute-summary", applies=("impute-summary",), role="selector", group=SUMMARY,
           action="store_true",
           help="impute the statistics of the --ldm-eigen SNPs missing from --gwas-summary "
                "(or removed by QC and the SNP selection) from their LD neighbours; writes "
                "OUT.imputed.ma (all the SNPs, GCTB's format) and OUT.imputed.status"),
    option("--impute-ridge", applies=("impute-summary",), default=0.1, group=SUMMARY,
           type=positive_float,
           help="added to the LD diagonal of the imputation, R~ = U L U' + ridge I (GCTB's "
                "0.1; bayesmix extra)"),
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
                "shrunk and full LD, else csr up to 2 GiB of LD arrays, else upper; --thread "
                "N with one chain sweeps LD blocks in parallel in csr (band and upper are "
                "refused there)"),
    option("--min-eigenvalue", applies=SBAYES, conflicts=("no_robust", "ld_ridge"),
           group=SUMMARY, type=nonnegative_float,
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

    if invocation.analysis in MCMC:
        from bayesmix.inference.chain import one_blas_thread

        # one BLAS thread from loading to sampling, so that the results are the same
        # whether the analysis runs here, in forked chains or on a Dask worker
        with one_blas_thread():
            if invocation.args.mgwas_summary:
                return gctb_runs.run_traits(invocation, run_log, (
                    gctb_runs.run_sbayes_eigen if invocation.analysis in SBAYES_EIGEN
                    else gctb_runs.run_sbayes))
            if invocation.analysis in SBAYES:
                return gctb_runs.run_sbayes(invocation, run_log)
            if invocation.analysis in SBAYES_EIGEN:
                return gctb_runs.run_sbayes_eigen(invocation, run_log)
            return gctb_runs.run_alphabet(invocation, run_log)
    if invocation.analysis == "impute-summary":
        single_eigen_cutoff(invocation.args, "--impute-summary")
        return gctb_runs.run_impute_summary(invocation, run_log)
    if invocation.analysis in EIGEN_LD:
        from bayesmix.cli import gctb_eigen_runs

        if invocation.analysis in ("make-ldm-eigen", "make-ldm-eigen-bfile"):
            single_eigen_cutoff(invocation.args, "--make-ldm-eigen")
        return gctb_eigen_runs.RUNNERS[invocation.analysis](invocation, run_log)
    return gctb_runs.run_ld(invocation, run_log)


def main(argv=None) -> int:
    from bayesmix.cli.common import parse_and_execute

    return parse_and_execute(SPEC, sys.argv[1:] if argv is None else argv, run,
                             program=argv is None)


if __name__ == "__main__":
    sys.exit(main())
