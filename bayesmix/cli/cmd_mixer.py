"""``bayesmix mixer``: the MiXeR models with bayesmix's own option names.

    bayesmix mixer fit --sumstats T.sumstats.gz --ld ref_chr@.ld --chr 21-22 --out T
    bayesmix mixer test --sumstats T.sumstats.gz --ld ref_chr@.ld --chr 21-22 \\
        --params T.json --out T.test
    bayesmix mixer fit2 --sumstats A.sumstats.gz --sumstats2 B.sumstats.gz --params A.json \\
        --params2 B.json --ld ref_chr@.ld --chr 21-22 --out AB
    bayesmix mixer test2 --sumstats A.sumstats.gz --sumstats2 B.sumstats.gz --params AB.json \\
        --ld ref_chr@.ld --chr 21-22 --out AB.test

Same engine as ``bayesmix-mixer fit1/test1/fit2/test2`` (:mod:`bayesmix.cli.mixer_runs`).
``fit`` and ``fit2`` write OUT.json and OUT.nc (ArviZ DataTree); ``fit`` with ``--plots`` also
the Q-Q / stratified Q-Q / power-curve figures (OUT.test.*); ``--nuts DRAWS`` adds a NUTS
posterior to OUT.nc.
"""

from __future__ import annotations

from bayesmix.cli.mixer_runs import (DEFAULT_FIT2_SEQUENCE, FIT1_STEPS, fit1_step, fit2_step)
from bayesmix.cli.options import (CommandSpec, nonnegative_int, option, positive_float,
                                  positive_int, steps_of, unit_interval)

HELP = ("MiXeR causal mixtures: univariate fit (ML + SEs, optional NUTS) and Q-Q/power "
        "plots, bivariate overlap fit2/test2")
ANALYSES = {"fit": "mixer fit", "test": "mixer test", "fit2": "mixer fit2",
            "test2": "mixer test2"}
ALL = tuple(ANALYSES)

OPTIONS = [
    option("action", applies=ALL, role="selector", choices=list(ANALYSES), metavar="ACTION",
           help="fit or test (univariate), fit2 or test2 (bivariate)"),
    option("--sumstats", applies=ALL, required=ALL, input="file", metavar="FILE",
           help="GWAS summary statistics (of trait 1 for fit2/test2)"),
    option("--sumstats2", applies=("fit2", "test2"), required=("fit2", "test2"), input="file",
           metavar="FILE", help="summary statistics of trait 2"),
    option("--ld", applies=ALL, required=ALL, input="template", metavar="TEMPLATE",
           help="LD folder(s), '@' standing for the chromosome"),
    option("--chr", applies=ALL, default="1-22", metavar="LIST",
           help="chromosomes, e.g. 1-22 or 21,22"),
    option("--out", applies=ALL, required=ALL, role="output", metavar="PREFIX",
           help="output prefix"),
    option("--params", applies=("test", "fit2", "test2"), required=("test", "fit2", "test2"),
           input="file", metavar="JSON",
           help="test: the univariate fit to test; fit2: trait 1's univariate fit; test2: "
                "the fit2 JSON"),
    option("--params2", applies=("fit2",), required=("fit2",), input="file", metavar="JSON",
           help="fit2: trait 2's univariate fit"),
    option("--method", applies=("fit",), default="convolve", choices=["convolve", "fast", "full"],
           conflicts=("sequence",),
           help="likelihood of the final fit step (the sequence is infinitesimal, "
                "constrained, METHOD)"),
    option("--optimizer", applies=("fit",), choices=["lbfgs", "neldermead"],
           conflicts=("sequence",),
           help="optimiser of the final step (default: lbfgs; neldermead for full)"),
    option("--sequence", applies=("fit", "fit2"), nargs="+", metavar="STEP",
           conflicts=("method", "optimizer"),
           help="the whole fit sequence instead: fit "
                f"{' '.join(FIT1_STEPS)} (optionally prefixed neldermead-/lbfgs-); fit2 "
                f"infinitesimal fast full [default fit2: {' '.join(DEFAULT_FIT2_SEQUENCE)}]"),
    option("--censor-z", applies=("fit",), type=positive_float,
           help="right-censor |z| above this through the CDF (e.g. 5.45)"),
    option("--kmax", applies=("fit", "fit2"), default=1000, type=positive_int,
           help="causal-set draws of the sampled 'full' likelihood"),
    option("--draws", applies=("fit", "fit2"), default=1000, type=positive_int,
           help="draws for the CIs/SEs of derived quantities"),
    option("--nuts", applies=("fit",), default=0, type=nonnegative_int, metavar="DRAWS",
           help="NUTS posterior with DRAWS (and as many tuning) draws per chain, 2 chains"),
    option("--plots", applies=("fit",), action="store_true",
           help="also write test's Q-Q and power-curve outputs under OUT.test"),
    option("--qq-method", applies=("fit", "test"), choices=["convolve", "fast"],
           requires=("plots",), requires_in=("fit",),
           help="model curve of the Q-Q plots (default: the fitted method, convolve for full)"),
    option("--profile-points", applies=("fit2",), default=25, type=nonnegative_int,
           help="points of the pi12 log-likelihood profile (0: none)"),
    option("--extract", applies=("fit", "fit2", "test2"), input="file", metavar="FILE",
           help="tag SNPs to use"),
    option("--exclude", applies=ALL, input="file", metavar="FILE", help="tag SNPs to leave out"),
    option("--exclude-ranges", applies=ALL, default="MHC", metavar="RANGES",
           help="MHC (hg19), [] for none, a chr start end file, or CHR:FROM-TO[KB|MB] tokens"),
    option("--ld-in-sample", applies=ALL, action="store_true",
           help="the LD folders are the GWAS sample's own LD (or the statistics were "
                "simulated from them): use their weak-LD sums as stored (default: calibrated "
                "for a reference panel's sampling noise)"),
    option("--prune-passes", applies=ALL, default=64, type=positive_int,
           help="random-pruning passes of the tag-SNP weights"),
    option("--prune-r2", applies=ALL, default=0.1, type=unit_interval,
           help="random-pruning r^2 threshold"),
    option("--seed", applies=ALL, default=0, type=nonnegative_int,
           help="seed of the pruning weights, the sampled likelihood and derived draws"),
    option("--resume", applies=("fit", "fit2"), role="runtime", action="store_true",
           help="continue an interrupted fit from its checkpoint OUT.ckpt (inputs and settings "
                "must be unchanged)"),
    option("--threads", applies=ALL, role="runtime", type=positive_int,
           help="threads of the likelihood kernels (results do not change)"),
]


def detect(namespace: dict) -> str:
    from bayesmix.errors import InputError

    if "action" not in namespace:
        raise InputError("give an action: fit, test, fit2 or test2")
    return namespace["action"]


SPEC = CommandSpec(prog="bayesmix mixer", description=__doc__, analyses=ANALYSES,
                   options=OPTIONS, detect=detect)


def run(invocation, run_log) -> int:
    from bayesmix.cli import mixer_runs as runs
    from bayesmix.prepare.mixer import MixerInputs, parse_chromosomes

    args, action = invocation.args, invocation.analysis
    sequence = None
    if action == "fit":
        final = f"{args.optimizer}-{args.method}" if args.optimizer else args.method
        sequence = steps_of(args.sequence or ["infinitesimal", "constrained", final],
                            fit1_step, "--sequence" if args.sequence else "--method/--optimizer")
    elif action == "fit2":
        sequence = steps_of(args.sequence or DEFAULT_FIT2_SEQUENCE, fit2_step, "--sequence")
    runs.set_threads(args.threads)
    traits = (args.sumstats,) + ((args.sumstats2,) if args.sumstats2 else ())
    inputs = MixerInputs(traits, args.ld, parse_chromosomes(args.chr), extract=args.extract,
                         exclude=args.exclude, exclude_ranges=args.exclude_ranges,
                         randprune_n=args.prune_passes, randprune_r2=args.prune_r2,
                         seed=args.seed, ld_in_sample=args.ld_in_sample)
    options = invocation.record()
    if action == "fit":
        qq = None
        if args.plots:
            qq = args.qq_method or ("fast" if sequence[-1].endswith("fast") else "convolve")
        return runs.run_fit1(run_log, inputs, args.out, sequence=sequence,
                             censor_z=args.censor_z, censor_option="--censor-z",
                             kmax=args.kmax, n_draws=args.draws,
                             nuts=args.nuts, options=options, plots_qq_method=qq,
                             resume=args.resume, fingerprint=invocation.fingerprint())
    if action == "test":
        return runs.run_test1(run_log, inputs, args.out, params_file=args.params,
                              qq_method=args.qq_method or "convolve", options=options)
    if action == "fit2":
        return runs.run_fit2(run_log, inputs, args.out, params_files=(args.params, args.params2),
                             sequence=sequence,
                             kmax=args.kmax, n_draws=args.draws,
                             profile_points=args.profile_points, options=options,
                             resume=args.resume, fingerprint=invocation.fingerprint())
    return runs.run_test2(run_log, inputs, args.out, params_file=args.params)
