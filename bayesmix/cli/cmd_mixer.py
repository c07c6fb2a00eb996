"""``bayesmix mixer``: the MiXeR univariate model with bayesmix's own option names.

    bayesmix mixer fit --sumstats T.sumstats.gz --ld ref_chr@.ld --chr 21-22 --out T
    bayesmix mixer test --sumstats T.sumstats.gz --ld ref_chr@.ld --chr 21-22 \\
        --params T.json --out T.test

Same engine as ``bayesmix-mixer fit1/test1`` (:mod:`bayesmix.cli.mixer`). ``fit`` writes
OUT.json and OUT.nc and, with ``--plots``, the Q-Q / stratified Q-Q / power-curve figures
(OUT.test.*); ``--nuts DRAWS`` adds a NUTS posterior to OUT.nc.
"""

from __future__ import annotations

import argparse

HELP = "MiXeR univariate causal mixture: fit (ML + SEs, optional NUTS) and Q-Q/power plots"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__
    parser.add_argument("action", choices=["fit", "test", "fit2", "test2"],
                        help="fit2/test2: bivariate (polygenic overlap), see "
                             "bayesmix.cli.mixer_fit2")
    parser.add_argument("--sumstats", required=True, help="GWAS summary statistics")
    parser.add_argument("--ld", required=True, help="LD folder(s), '@' = chromosome")
    parser.add_argument("--chr", default="1-22", help="chromosomes (default 1-22)")
    parser.add_argument("--out", required=True, help="output prefix")
    parser.add_argument("--method", default="convolve", choices=["convolve", "fast", "full"],
                        help="likelihood of the final step (default convolve)")
    parser.add_argument("--sequence", nargs="+",
                        help="explicit fit sequence (default: infinitesimal constrained METHOD)")
    parser.add_argument("--optimizer", choices=["lbfgs", "neldermead"],
                        help="optimiser of the final step (default lbfgs; neldermead for full)")
    parser.add_argument("--censor-z", type=float, default=None,
                        help="right-censor |z| above this (e.g. 5.45)")
    parser.add_argument("--kmax", type=int, default=1000, help="draws of the full model")
    parser.add_argument("--draws", type=int, default=1000, help="draws for derived CIs")
    parser.add_argument("--nuts", type=int, default=0, metavar="DRAWS",
                        help="NUTS posterior with DRAWS (and as many tuning) draws per chain")
    parser.add_argument("--params", help="test: fit JSON whose params to use")
    parser.add_argument("--plots", action="store_true", help="fit: also run test and plot")
    parser.add_argument("--qq-method", choices=["convolve", "fast"],
                        help="model curve of the Q-Q plots (default: the fitted method, "
                             "convolve for full)")
    parser.add_argument("--extract", help="SNP list of tag SNPs")
    parser.add_argument("--exclude", help="SNP list to drop")
    parser.add_argument("--exclude-ranges", default="MHC",
                        help="MHC (default), [] for none, a regions file or CHR:FROM-TO[MB]")
    parser.add_argument("--prune-passes", type=int, default=64, help="random pruning passes")
    parser.add_argument("--prune-r2", type=float, default=0.1, help="random pruning r^2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="numba threads")
    from bayesmix.cli.mixer_fit2 import add_native_arguments

    add_native_arguments(parser)


def run(args) -> int:
    import logging

    from bayesmix.cli.mixer import run_fit, run_test, set_threads
    from bayesmix.prepare.mixer import load_mixer_data, parse_chromosomes
    from bayesmix.errors import InputError
    from bayesmix.report.mixer_json import read_params

    if args.action in ("fit2", "test2"):
        from bayesmix.cli.mixer_fit2 import run_native

        return run_native(args)
    log = logging.getLogger("bayesmix")
    set_threads(args.threads)
    data, maf, lines = load_mixer_data(
        args.sumstats, args.ld, parse_chromosomes(args.chr),
        extract=args.extract if args.action == "fit" else None, exclude=args.exclude,
        exclude_ranges=args.exclude_ranges, randprune_n=args.prune_passes,
        randprune_r2=args.prune_r2, seed=args.seed)
    for line in lines:
        log.info(line)
    options = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    if args.action == "test":
        if not args.params:
            raise InputError("mixer test needs --params FIT.json")
        run_test(data, maf, read_params(args.params), args.out, options,
                 qq_method=args.qq_method or "convolve")
        return 0
    final = f"{args.optimizer}-{args.method}" if args.optimizer else args.method
    sequence = args.sequence or ["infinitesimal", "constrained", final]
    fit_args = argparse.Namespace(z1max=args.censor_z, kmax=args.kmax, seed=args.seed,
                                  n_draws=args.draws, nuts=args.nuts)
    fit = run_fit(data, fit_args, args.out, sequence, options)
    if args.plots:
        qq_method = args.qq_method or ("fast" if fit.method == "fast" else "convolve")
        run_test(data, maf, fit.params, f"{args.out}.test", options, qq_method=qq_method)
    return 0
