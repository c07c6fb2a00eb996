"""``bayesmix-mixer``: MiXeR's command line (``ld``, ``fit1``, ``test1``) on bayesmix.

    bayesmix-mixer ld --bfile P_chr21 --r2min 0.05 --ld-window-kb 10000 --out P_chr21.ld
    bayesmix-mixer fit1 --trait1-file T.sumstats.gz --bim-file P_chr@.bim --ld-file P_chr@.ld \\
        --chr2use 21-22 --extract X.snps --out T.fit
    bayesmix-mixer test1 --trait1-file T.sumstats.gz --bim-file P_chr@.bim \\
        --ld-file P_chr@.ld --chr2use 21-22 --load-params-file T.fit.json --out T.test

``@`` in --bim-file/--ld-file stands for the chromosome. The .ld "file" is a bayesmix LD
folder (rows = columns = the reference SNPs of the .bim, r^2 >= r2min). fit1 writes
OUT.json (MiXeR-style fields) and OUT.nc (ArviZ/xarray netcdf); test1 writes OUT.json with
Q-Q, stratified Q-Q and power-curve data plus OUT.qq, OUT.qqbins, OUT.power (.png/.pdf).
Loading is :mod:`bayesmix.prepare.mixer`, shared with ``bayesmix mixer fit``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bayesmix.cli.common import run_guarded, setup_logging, version_string

log = logging.getLogger("bayesmix")

#: MiXeR fit-sequence tokens -> bayesmix steps
MIXER_SEQUENCE_ALIASES = {"diffevo-fast": "constrained", "diffevo": "constrained",
                          "neldermead": "neldermead-convolve", "inflation": "infinitesimal",
                          "brute1": "constrained", "brent1": "constrained"}
DEFAULT_SEQUENCE = ["infinitesimal", "constrained", "convolve"]


def normalise_sequence(tokens) -> list[str]:
    """MiXeR fit-sequence names -> bayesmix steps (see :data:`MIXER_SEQUENCE_ALIASES`)."""
    out = []
    for token in tokens:
        out.append(MIXER_SEQUENCE_ALIASES.get(token, token))
    return out


def set_threads(threads):
    if threads:
        import numba

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))


def run_fit(data, args, out_prefix, sequence, options: dict) -> object:
    """Fit, then write OUT.json and OUT.nc (with a NUTS posterior when args.nuts > 0)."""
    from bayesmix.inference.mle import fit_univariate
    from bayesmix.report.mixer_json import (fit_datatree, univariate_fit_json, write_json,
                                            write_netcdf)

    fit = fit_univariate(data, sequence=sequence, censor_z=args.z1max or 0.0, kmax=args.kmax,
                         seed=args.seed, n_draws=args.n_draws, progress=log.info)
    posterior = None
    if getattr(args, "nuts", 0):
        from bayesmix.models.mixer import sample_nuts

        posterior = sample_nuts(data, method="fast" if fit.method == "fast" else "convolve",
                                censor_z=args.z1max or 0.0, draws=args.nuts, tune=args.nuts,
                                chains=2, seed=args.seed, start=fit.params)
    write_json(f"{out_prefix}.json", univariate_fit_json(fit, options=options))
    write_netcdf(fit_datatree(fit, posterior), f"{out_prefix}.nc")
    ci = fit.ci
    log.info("fit1: pi=%.3g sig2_beta=%.3g sig2_zero=%.4g h2=%.4g (%.4g-%.4g) nc=%.4g "
             "(%.4g-%.4g) AIC(inf-mix)=%.2f BIC=%.2f", fit.params["pi"], fit.params["sig2_beta"],
             fit.params["sig2_zero"], ci["h2"]["point"], ci["h2"]["lower"], ci["h2"]["upper"],
             ci["nc"]["point"], ci["nc"]["lower"], ci["nc"]["upper"], fit.criteria["AIC"],
             fit.criteria["BIC"])
    if fit.criteria["AIC"] < 0:
        log.warning("AIC prefers the infinitesimal model: pi is not identifiable at this "
                    "GWAS power (MiXeR advises N >= 50,000); read pi/nc with their intervals")
    log.info("wrote %s.json and %s.nc", out_prefix, out_prefix)
    return fit


def run_test(data, maf, params, out_prefix, options: dict, qq_method: str = "convolve") -> dict:
    """Q-Q / stratified Q-Q / power-curve data to OUT.json and plots OUT.{qq,qqbins,power}."""
    from bayesmix.plots.mixer import plot_power, plot_qq, plot_stratified_qq
    from bayesmix.report.mixer_json import univariate_test_json, write_json

    doc = univariate_test_json(data, params, maf, options=options, qq_method=qq_method)
    write_json(f"{out_prefix}.json", doc)
    import numpy as np

    def arrays(d):
        return {k: np.array(v, dtype=float) if isinstance(v, list) else v for k, v in d.items()}

    plot_qq(arrays(doc["qqplot"]), f"{out_prefix}.qq")
    bins = doc["qqplot_bins"]
    plot_stratified_qq({"maf_edges": bins["maf_edges"], "ld_edges": bins["ld_edges"],
                        "panels": [[arrays(p) for p in row] for row in bins["panels"]]},
                       f"{out_prefix}.qqbins")
    plot_power(arrays(doc["power"]), f"{out_prefix}.power")
    log.info("wrote %s.json and %s.{qq,qqbins,power}.{png,pdf}", out_prefix, out_prefix)
    return doc


# ---------------------------------------------------------------------------------------------
# subcommands
# ---------------------------------------------------------------------------------------------
def add_reference_options(p) -> None:
    """MiXeR options shared by fit1/test1/fit2/test2: LD reference, SNP filters, output."""
    p.add_argument("--bim-file", help="reference .bim, '@' = chromosome (checked against the LD)")
    p.add_argument("--ld-file", required=True, help="LD folder from 'ld', '@' = chromosome")
    p.add_argument("--chr2use", default="1-22", help="chromosomes, e.g. 1-22 (default)")
    p.add_argument("--exclude", help="SNP list to drop")
    p.add_argument("--exclude-ranges", default="MHC",
                   help="MHC (default, hg19), [] for none, a chr start end file, or "
                        "CHR:FROM-TO[MB] tokens")
    p.add_argument("--out", required=True, help="output prefix")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="numba threads")
    p.add_argument("--randprune-n", type=int, default=64, help="random pruning passes (64)")
    p.add_argument("--randprune-r2", type=float, default=0.1, help="random pruning r^2 (0.1)")


def _add_common(p, *, fit: bool):
    p.add_argument("--trait1-file", required=True, help="summary statistics (LDSC/MiXeR, .gz ok)")
    add_reference_options(p)
    p.add_argument("--z1max", type=float, default=None,
                   help="right-censor |z| above this through the CDF (MiXeR uses 5.45)")
    if fit:
        p.add_argument("--extract", help="SNP list of tag SNPs to use (e.g. from 'mixer.py snps')")
        p.add_argument("--kmax", type=int, default=20000,
                       help="causal-set draws of the sampled 'full' model (MiXeR's --kmax)")
        p.add_argument("--fit-sequence", nargs="+", default=DEFAULT_SEQUENCE,
                       help="steps: infinitesimal constrained fast full convolve, optionally "
                            "prefixed neldermead-/lbfgs-; MiXeR names (diffevo-fast, "
                            "neldermead-fast, neldermead) are mapped")
        p.add_argument("--n-draws", type=int, default=1000, help="draws for derived CIs (1000)")
        p.add_argument("--nuts", type=int, default=0, metavar="DRAWS",
                       help="also sample the posterior by NUTS (DRAWS per chain, 2 chains)")
    else:
        p.add_argument("--load-params-file", required=True, help="fit JSON of fit1 (or MiXeR)")
        p.add_argument("--qq-method", choices=["convolve", "fast"], default="convolve",
                       help="model curve of the Q-Q plots: exact convolve tails (default) or "
                            "the fast moments approximation")


def _ld(args) -> int:
    from bayesmix.ld.compute import build_ld

    ld = build_ld(args.bfile, "r2", r2min=args.r2min, window_kb=args.ld_window_kb,
                  chrom=args.chr, progress=sys.stderr.isatty())
    ld.save(args.out)
    log.info("ld: wrote %s: %d SNPs, %d pairs with r2 >= %g within %g kb", args.out,
             ld.shape[0], ld.nnz, args.r2min, args.ld_window_kb)
    return 0


def _fit1(args) -> int:
    from bayesmix.prepare.mixer import load_mixer_data, parse_chromosomes

    set_threads(args.threads)
    data, _, lines = load_mixer_data(
        args.trait1_file, args.ld_file, parse_chromosomes(args.chr2use), bim_template=args.bim_file,
        extract=args.extract, exclude=args.exclude, exclude_ranges=args.exclude_ranges,
        randprune_n=args.randprune_n, randprune_r2=args.randprune_r2, seed=args.seed)
    for line in lines:
        log.info(line)
    options = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    run_fit(data, args, args.out, normalise_sequence(args.fit_sequence), options)
    return 0


def _test1(args) -> int:
    from bayesmix.prepare.mixer import load_mixer_data, parse_chromosomes
    from bayesmix.report.mixer_json import read_params

    set_threads(args.threads)
    params = read_params(args.load_params_file)
    data, maf, lines = load_mixer_data(
        args.trait1_file, args.ld_file, parse_chromosomes(args.chr2use), bim_template=args.bim_file,
        exclude=args.exclude, exclude_ranges=args.exclude_ranges, randprune_n=args.randprune_n,
        randprune_r2=args.randprune_r2, seed=args.seed)
    for line in lines:
        log.info(line)
    options = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    run_test(data, maf, params, args.out, options, qq_method=args.qq_method)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayesmix-mixer", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="MiXeR-compatible front end of bayesmix (causal mixture models of z-scores).",
        epilog=__doc__)
    parser.add_argument("--version", action="version", version=version_string("bayesmix-mixer"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("ld", help="LD reference (r^2 >= r2min within a window) from PLINK")
    p.add_argument("--bfile", required=True, help="PLINK prefix (one chromosome)")
    p.add_argument("--out", required=True, help="output LD folder (e.g. P_chr21.ld)")
    p.add_argument("--r2min", type=float, default=0.05, help="keep r^2 >= r2min (0.05)")
    p.add_argument("--ld-window-kb", type=float, default=10000.0, help="window in kb (10000)")
    p.add_argument("--ldscore-r2min", type=float, default=0.05,
                   help="accepted for compatibility; LD scores use the stored pairs")
    p.add_argument("--chr", help="chromosome, when the fileset holds several")
    p.set_defaults(_run=_ld)
    p = sub.add_parser("fit1", help="fit the univariate model")
    _add_common(p, fit=True)
    p.set_defaults(_run=_fit1)
    p = sub.add_parser("test1", help="Q-Q plots and power curve of a univariate fit")
    _add_common(p, fit=False)
    p.set_defaults(_run=_test1)
    from bayesmix.cli.mixer_fit2 import add_subcommands as add_bivariate_subcommands

    add_bivariate_subcommands(sub)  # fit2 / test2
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
