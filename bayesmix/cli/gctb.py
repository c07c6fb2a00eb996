"""``bayesmix-gctb``: GCTB's command line (``--bfile --pheno --bayes R ...``) on bayesmix.

Individual-level analyses (``--bayes B|C|S|R|N|NS``) are implemented here. The parser is built from
option groups (:func:`add_data_options`, :func:`add_prior_options`, :func:`add_mcmc_options`,
:func:`add_output_options`) so summary-data analyses can add their own group and dispatch on
their own flag (see :data:`ANALYSES`).

GCTB's example runs unchanged::

    bayesmix-gctb --bfile test --pheno test.phen --bayes R --gamma 0,0.01,0.1,1 \\
        --pi 0.95,0.02,0.02,0.01 --chain-length 10000 --burn-in 2000 --out test
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time

from bayesmix.cli import gctb_sbayes
from bayesmix.cli.common import run_guarded, setup_logging, version_string
from bayesmix.errors import InputError

log = logging.getLogger("bayesmix")

INDIVIDUAL_METHODS = ("B", "C", "S", "R", "N", "NS")


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_data_options(parser) -> None:
    g = parser.add_argument_group("data")
    g.add_argument("--bfile", help="PLINK 1 binary prefix (.bed/.bim/.fam)")
    g.add_argument("--pheno", help="phenotype file: FID IID trait1 [trait2 ...] (GCTA .phen)")
    g.add_argument("--mpheno", type=int, default=1, help="which trait column of --pheno (1-based)")
    g.add_argument("--covar", help="quantitative covariates: FID IID c1 c2 ... (fitted as fixed effects)")
    g.add_argument("--qcovar", help="alias of --covar (GCTA's name for quantitative covariates)")
    g.add_argument("--dcovar", help="discrete covariates (GCTA .covar labels, one-hot coded)")
    g.add_argument("--keep", help="keep only samples listed (FID IID)")
    g.add_argument("--remove", help="remove samples listed (FID IID)")
    g.add_argument("--extract", help="keep only SNPs listed")
    g.add_argument("--exclude", help="remove SNPs listed")
    g.add_argument("--chr", dest="chrom", help="analyse one chromosome")
    g.add_argument("--maf", type=float, default=0.0, help="drop SNPs with MAF below this")


def add_prior_options(parser) -> None:
    g = parser.add_argument_group("model")
    g.add_argument("--bayes", type=str.upper, choices=INDIVIDUAL_METHODS,
                   help="BayesB, C, S, R, N or NS on individual genotypes")
    g.add_argument("--pi", type=_float_list,
                   help="starting pi: non-zero share (B/C/S, default 0.05), BayesR's "
                        "weights (default 0.95,0.02,0.02,0.01), or for N/NS the share of "
                        "windows with an effect (GCTB's Pi, default 0.5)")
    g.add_argument("--pi-snp", type=float,
                   help="BayesN/NS: starting share of SNPs with an effect inside windows (0.05)")
    g.add_argument("--gamma", type=_float_list, help="BayesR variance multipliers (default 0,0.01,0.1,1)")
    g.add_argument("--hsq", type=float, default=0.5, help="starting heritability (default 0.5)")
    g.add_argument("--S", dest="S", type=float, default=0.0, help="BayesS starting S (default 0)")
    g.add_argument("--wind", type=float, default=1.0,
                   help="BayesN/NS window width in Mb (default 1)")
    g.add_argument("--fix-pi", action="store_true", help="keep pi at its starting value")
    g.add_argument("--fix-pi-snp", action="store_true",
                   help="BayesN/NS: keep the within-window SNP share at --pi-snp")
    g.add_argument("--unscale-genotype", action="store_true",
                   help="centred allele counts instead of standardised genotypes (per-allele "
                        "effects in the prior; BayesS always uses them)")


def add_mcmc_options(parser) -> None:
    g = parser.add_argument_group("MCMC")
    g.add_argument("--chain-length", type=int, default=3000, help="iterations incl. burn-in (3000)")
    g.add_argument("--burn-in", type=int, default=1000, help="iterations discarded (1000)")
    g.add_argument("--thin", type=int, default=10, help="keep every k-th iteration in traces (10)")
    g.add_argument("--out-freq", type=int, default=100, help="progress line every k iterations (100)")
    g.add_argument("--seed", type=int, default=1, help="random seed (default 1: runs are reproducible)")
    g.add_argument("--chains", type=int, default=1, help="independent chains (R-hat needs >= 2)")
    g.add_argument("--thread", type=int, default=1,
                   help="processes running --chains in parallel (each sweep is single-threaded)")
    g.add_argument("--checkpoint-every", type=int, default=1000,
                   help="write PREFIX.ckpt.chainK every k iterations and resume from it (0: off)")


def add_output_options(parser) -> None:
    g = parser.add_argument_group("output")
    g.add_argument("--out", default="gctb", help="output prefix")
    g.add_argument("--no-mcmc-bin", action="store_true",
                   help="do not write PREFIX.mcmcsamples.SnpEffects")
    g.add_argument("--no-netcdf", action="store_true", help="do not write the ArviZ PREFIX.nc")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayesmix-gctb",
        description="GCTB-compatible front end of bayesmix (Bayesian alphabet, SBayes, LD).",
    )
    parser.add_argument("--version", action="version", version=version_string("bayesmix-gctb"))
    add_data_options(parser)
    add_prior_options(parser)
    add_mcmc_options(parser)
    add_output_options(parser)
    gctb_sbayes.add_arguments(parser)  # SBayes and LD options (only those not defined above)
    return parser


class Tee(io.TextIOBase):
    """Write to stdout and keep every line for PREFIX.log."""

    def __init__(self, stream):
        self.stream = stream
        self.lines = []

    def write(self, text):
        self.stream.write(text)
        self.lines.append(text)
        return len(text)

    def flush(self):
        self.stream.flush()


def run_individual(args, out=None) -> int:
    """BayesB/C/S/R on PLINK genotypes: read, sample, write GCTB outputs. Returns an exit code."""
    from bayesmix.inference.chain import ChainSettings, run_chains
    from bayesmix.inference.gibbs import make_steps
    from bayesmix.io.files import atomic_open
    from bayesmix.io.pheno import align_samples, read_covar, read_phen, read_qcovar
    from bayesmix.io.plink import Genotypes
    from bayesmix.models.alphabet import AlphabetData, AlphabetModel, AlphabetPrior
    from bayesmix.report.gctb import write_outputs

    out = out if out is not None else Tee(sys.stdout)
    started = time.time()
    for noisy in ("arviz", "arviz_base", "arviz_stats", "arviz_plots"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # backend banners at INFO

    def say(text=""):
        print(text, file=out, flush=True)

    if not args.bfile or not args.pheno:
        raise InputError("--bayes needs --bfile and --pheno")
    if args.covar and args.qcovar:
        raise InputError("give quantitative covariates with --covar or --qcovar, not both")
    settings = ChainSettings(chain_length=args.chain_length, burn_in=args.burn_in,
                             thin=args.thin, out_freq=args.out_freq, seed=args.seed,
                             store_snp_draws=not args.no_mcmc_bin,
                             checkpoint=f"{args.out}.ckpt" if args.checkpoint_every else None,
                             checkpoint_every=max(args.checkpoint_every, 1))  # InputError if no draws
    say(f"{version_string('bayesmix-gctb')}")
    say("Options: " + " ".join(getattr(args, "argv", None) or sys.argv[1:]))
    say()
    genotypes = Genotypes.open(args.bfile, keep=args.keep, remove=args.remove, extract=args.extract,
                               exclude=args.exclude, chrom=args.chrom, maf=args.maf)
    qcovar = read_qcovar(args.covar or args.qcovar) if (args.covar or args.qcovar) else None
    dcovar = read_covar(args.dcovar) if args.dcovar else None
    aligned = align_samples(genotypes.samples, read_phen(args.pheno, args.mpheno), qcovar, dcovar)
    for reason, count in aligned.counts.items():
        say(f"  {reason:<40} {count:>10}")
    genotypes = Genotypes.open(args.bfile, keep=aligned.samples, extract=args.extract,
                               exclude=args.exclude, chrom=args.chrom, maf=args.maf,
                               drop_monomorphic=True)
    for reason, count in genotypes.filter_counts.items():
        if count:
            say(f"  {reason:<40} {count:>10}")
    if genotypes.n_samples != len(aligned.y):
        raise InputError("the genotype .fam has duplicated FID IID pairs", f"{args.bfile}.fam")
    prior = AlphabetPrior(args.bayes, pi=args.pi, gamma=args.gamma, hsq=args.hsq, S=args.S,
                          fix_pi=args.fix_pi, wind=args.wind, pi_snp=args.pi_snp,
                          fix_pi_snp=args.fix_pi_snp)
    standardize = not (args.unscale_genotype or prior.base == "S")
    data = AlphabetData.from_plink(genotypes, aligned.y, aligned.design, aligned.design_columns,
                                   standardize=standardize)
    model = AlphabetModel(data, prior)
    say(f"Data: {data.genotypes.n_samples} individuals, {data.genotypes.n_snps} SNPs, "
        f"{data.design.shape[1]} fixed effects ({', '.join(data.design_columns)}); genotypes "
        f"{'standardised' if standardize else 'centred (per-allele effects)'}, "
        f"{data.genotypes.nbytes / 2**20:.1f} MiB in memory")
    say(f"Running Bayes{prior.method}: chain length {settings.chain_length}, burn-in "
        f"{settings.burn_in}, thin {settings.thin}, seed {settings.seed}, {args.chains} chain(s)")
    say()
    log_path = f"{args.out}.log"
    try:
        result = run_chains(model, make_steps, settings, chains=args.chains, cores=args.thread,
                            progress_stream=out)
        if args.chains > 1 and args.thread > 1 and isinstance(out, Tee):
            for chain in result.chains:  # printed by worker processes: add them to the log
                out.lines.extend(line + "\n" for line in chain.progress)
        if result.n_draws == 0:  # only possible when stopped before the first kept draw
            say("Interrupted before the first kept draw: no outputs written"
                f"{'; re-run the same command to resume from the checkpoint' if settings.checkpoint else ''}")
            return 130
        say()
        say("Posterior statistics from MCMC samples:")
        say(result.diagnostics().to_string(index=False, float_format=lambda v: f"{v:.6g}"))
        paths = write_outputs(result, args.out, mcmc_bin=not args.no_mcmc_bin,
                              netcdf=not args.no_netcdf)
        say()
        for path in paths + [log_path]:
            say(f"Wrote {path}")
        seconds = time.time() - started
        say(f"Analysis finished in {seconds:.1f} s ({1e3 * result.chains[0].seconds_per_iteration:.2f}"
            f" ms per iteration){' - INTERRUPTED, outputs cover the finished iterations' if result.interrupted else ''}")
        return 130 if result.interrupted else 0
    finally:
        with atomic_open(log_path) as fh:
            fh.write("".join(out.lines) if isinstance(out, Tee) else "")


ANALYSES = [("bayes", run_individual), *gctb_sbayes.ANALYSES]
"""(attribute, runner) pairs: the first attribute set on the parsed arguments picks the analysis."""


def dispatch(args) -> int:
    for attribute, runner in ANALYSES:
        if getattr(args, attribute, None):
            return runner(args)
    raise InputError("no analysis requested: give e.g. --bayes R, --sbayes R or --make-sparse-ldm "
                     "(see --help)")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging()
    return run_guarded(dispatch, args)


if __name__ == "__main__":
    sys.exit(main())
