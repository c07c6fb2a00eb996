"""``bayesmix-mixer``: MiXeR's command line (``ld``, ``fit1``, ``test1``, ``fit2``, ``test2``).

    bayesmix-mixer ld --bfile P_chr21 --r2min 0.05 --ld-window-kb 10000 --out P_chr21.ld
    bayesmix-mixer fit1 --trait1-file T.sumstats.gz --bim-file P_chr@.bim --ld-file P_chr@.ld \\
        --chr2use 21-22 --extract X.snps --out T.fit
    bayesmix-mixer test1 --trait1-file T.sumstats.gz --bim-file P_chr@.bim \\
        --ld-file P_chr@.ld --chr2use 21-22 --load-params-file T.fit.json --out T.test
    bayesmix-mixer fit2 --trait1-file A.sumstats.gz --trait2-file B.sumstats.gz \\
        --trait1-params-file A.fit.json --trait2-params-file B.fit.json \\
        --ld-file P_chr@.ld --chr2use 1-22 --extract X.snps --out AB.fit
    bayesmix-mixer test2 --trait1-file A.sumstats.gz --trait2-file B.sumstats.gz \\
        --ld-file P_chr@.ld --chr2use 1-22 --load-params-file AB.fit.json --out AB.test
    bayesmix-mixer snps --bim-file P_chr@.bim --ld-file P_chr@.ld --chr2use 1-22 --r2 0.8 \\
        --maf 0.05 --subset 2000000 --seed 1 --out X.rep1.snps
    bayesmix-mixer fit1 ... --replicates 20 --cluster local:4 --out T.fit   # T.fit.rep@.json
    bayesmix-mixer combine --json T.fit.rep@.json --out T.combined
    bayesmix-mixer fit2 --trait-files A.sumstats.gz,B.sumstats.gz,C.sumstats.gz \\
        --trait-params-files A.fit.json,B.fit.json,C.fit.json ... --out P   # P.A_vs_B.json

``@`` in --bim-file/--ld-file stands for the chromosome. The .ld "file" is a bayesmix LD
folder (rows = columns = the reference SNPs of the .bim, r^2 >= r2min). Each subcommand's
options are declared once in :data:`SPEC` with the subcommands they apply to; an option of
another subcommand is refused with a message. The analyses are in
:mod:`bayesmix.cli.mixer_runs`.
"""

from __future__ import annotations

import argparse
import sys

from bayesmix.cli.mixer_runs import (DEFAULT_FIT1_SEQUENCE, DEFAULT_FIT2_SEQUENCE, fit1_step,
                                     fit2_step)
from bayesmix.cli.options import (CommandSpec, Parser, dask_options, minor_allele_frequency,
                                  nonnegative_float, nonnegative_int, option, positive_float,
                                  positive_int, steps_of, unit_interval, unsupported)

#: MiXeR's --seed default of fit1/test1/fit2/test2 and snps (precimed/bivar_mixer/cli.py,
#: parser_add_common_arguments and parser_snps_add_arguments)
MIXER_SEED = 123
#: MiXeR's test1/test2 --fit-sequence default (bivar_mixer/cli.py): the loaded parameters,
#: then the inflation parameters refitted to the tested tags
TEST_SEQUENCE = ("load", "inflation")

ANALYSES = {"ld": "ld", "fit1": "fit1", "test1": "test1", "fit2": "fit2", "test2": "test2",
            "snps": "snps", "combine": "combine"}
HELP = {"ld": "LD reference (r^2 >= r2min; the whole chromosome or a window) of one "
              "chromosome from PLINK",
        "fit1": "fit the univariate model", "test1": "Q-Q plots and power curve of fit1",
        "fit2": "fit the bivariate model (polygenic overlap)",
        "test2": "Venn, conditional Q-Q, densities and shared-SNP posteriors of fit2",
        "snps": "a random LD-pruned subset of the reference SNPs (tag SNPs of one replicate)",
        "combine": "mean and SD of replicate fits (fit1 or fit2 JSONs, '@' = replicate)"}
FITS = ("fit1", "test1", "fit2", "test2")
UNI, BI = ("fit1", "test1"), ("fit2", "test2")
REFERENCE = FITS + ("snps",)   # the analyses that read the LD reference

OPTIONS = [
    # ld
    option("--bfile", applies=("ld",), required=("ld",), input="plink", metavar="PREFIX",
           help="PLINK fileset of the reference panel (one chromosome, or give --chr)"),
    option("--r2min", applies=("ld",), default=0.05, type=unit_interval,
           help="store pairs with r^2 >= this; the window's weaker pairs are kept as "
                "per-SNP weak-LD sums (of noise-corrected r^2 and r^4, all of them)"),
    option("--ld-window-kb", applies=("ld",), default=0.0, type=nonnegative_float,
           help="store (and sum as weak LD) only pairs within this many kb; 0 (default, "
                "MiXeR's): the whole chromosome. MiXeR's documented runs give 10000 (1000 "
                "Genomes: 30000); on the shipped chr22 panel (10,000 SNPs over 20.7 Mb) the "
                "whole chromosome took 1.25x the time of 10000 and gave a fit1 1-2%% lower "
                "h2 (up to 8%% with --ld-in-sample; docs/mixer.md); a chromosome of L Mb "
                "costs about L / 20 times a 10 Mb window"),
    option("--chr", applies=("ld",), metavar="CHR",
           help="the chromosome to use when the fileset holds several"),
    unsupported("--ldscore-r2min", reason="bayesmix keeps every pair of the window below "
                "--r2min in its per-SNP weak-LD sums (r^2 corrected for the panel's sampling "
                "noise, so no lower cut-off is needed), and the fits use them (MiXeR's fits "
                "do not use its ld scores); drop the option"),
    # inputs of the fits
    option("--trait1-file", applies=FITS, required=("fit1", "test1", "test2"), input="file",
           metavar="FILE", conflicts=("trait_files",),
           help="summary statistics of trait 1 (LDSC/MiXeR .sumstats, plain or gzip)"),
    option("--trait2-file", applies=BI, required=("test2",), input="file", metavar="FILE",
           conflicts=("trait_files",), help="summary statistics of trait 2"),
    option("--trait-files", applies=("fit2",), metavar="A,B,...",
           conflicts=("trait1_file", "trait2_file"), requires=("trait_params_files",),
           help="summary statistics of several traits (comma-separated): fit2 of every pair, "
                "written to OUT.A_vs_B.json (A, B: the file names without .gz and the format "
                "extension) and the pairs' table OUT.pairs.csv (with --replicates: the mean "
                "over the replicates, their SD as the error)"),
    option("--trait-params-files", applies=("fit2",), metavar="A,B,...",
           conflicts=("trait1_params_file", "trait2_params_file"), requires=("trait_files",),
           help="the univariate fit JSON of each trait of --trait-files, in the same order "
                "('@' = replicate number with --replicates)"),
    option("--ld-file", applies=REFERENCE, required=REFERENCE, input="template",
           metavar="TEMPLATE", help="LD folders from 'ld', '@' standing for the chromosome"),
    option("--bim-file", applies=REFERENCE, input="template", metavar="TEMPLATE",
           help="reference .bim per chromosome ('@'), checked against the LD's SNPs"),
    option("--chr2use", applies=REFERENCE, default="1-22", metavar="LIST",
           help="chromosomes, e.g. 1-22 or 21,22"),
    option("--extract", applies=("fit1", "fit2", "test2"), input="file", metavar="FILE",
           help="tag SNPs to use (e.g. one random pruned subset per fit, as MiXeR's 'snps')"),
    option("--exclude", applies=FITS, input="file", metavar="FILE",
           help="tag SNPs to leave out"),
    option("--exclude-ranges", applies=FITS, default="MHC", metavar="RANGES", nargs="+",
           help="regions of tag SNPs to leave out, as MiXeR's: CHR:FROM-TO[KB|MB] tokens "
                "(e.g. chr6:25-35MB), MHC (= 6:25-35MB, MiXeR's MHC), APOE (= 19:45-46MB), "
                "[] for none; or a chr start end file"),
    option("--ld-in-sample", applies=FITS, action="store_true",
           help="the LD folders are the GWAS sample's own LD (or the statistics were "
                "simulated from them): use their weak-LD sums as stored (default: calibrated "
                "for a reference panel's sampling noise, docs/mixer.md)"),
    option("--randprune-n", applies=FITS, default=64, type=positive_int,
           help="random-pruning passes of the tag-SNP weights"),
    option("--randprune-r2", applies=FITS, default=0.1, type=unit_interval,
           help="random-pruning r^2 threshold"),
    option("--seed", applies=REFERENCE, default=MIXER_SEED, type=nonnegative_int,
           help="seed of the pruning weights, the sampled likelihood and derived-quantity "
                "draws (fit1/fit2 --replicates: replicate k uses seed + k); snps: of the "
                "random subset (default 123, MiXeR's; the draws are bayesmix's own, so a "
                "seed does not reproduce MiXeR's random numbers)"),
    # snps (MiXeR's names)
    option("--r2", applies=("snps",), default=0.8, type=unit_interval,
           help="prune the subset at this r^2 (random order: a SNP is dropped when one kept "
                "before it has r^2 >= this)"),
    option("--maf", applies=("snps",), default=0.05, type=minor_allele_frequency,
           help="only SNPs with minor allele frequency >= this (of the LD reference)"),
    option("--subset", applies=("snps",), default=2_000_000, type=positive_int,
           help="draw this many SNPs at random (of those passing --maf) before pruning"),
    # replicate fits
    option("--replicates", applies=("fit1", "fit2"), type=positive_int, metavar="N",
           help="fit N random LD-pruned subsets of tag SNPs (as 'snps' with seed + k, "
                "k = 1..N): OUT.repk.{snps,json,nc}, combined into OUT.json, OUT.csv and "
                "OUT.replicates.png; one Dask task each with --cluster/--dask-scheduler"),
    option("--replicate-r2", applies=("fit1", "fit2"), default=0.8, type=unit_interval,
           requires=("replicates",), help="r^2 of the replicates' random pruning ('snps' --r2)"),
    option("--replicate-maf", applies=("fit1", "fit2"), default=0.05, type=unit_interval,
           requires=("replicates",), help="minimum MAF of the replicates' SNPs ('snps' --maf)"),
    option("--replicate-subset", applies=("fit1", "fit2"), default=2_000_000,
           type=positive_int, requires=("replicates",),
           help="SNPs drawn per replicate before pruning ('snps' --subset)"),
    *dask_options(("ld", "fit1", "fit2"), pieces=("ld",)),
    # combine (mixer_figures.py combine)
    option("--json", applies=("combine",), required=("combine",), metavar="PATTERN",
           help="the replicates' fit JSONs, '@' standing for the replicate number (e.g. "
                "T.fit.rep@.json)"),
    option("--rep2use", applies=("combine",), metavar="LIST",
           help="replicate numbers to combine, e.g. 1-20 (default: every file of the "
                "pattern, which must run 1..N without a gap)"),
    option("--threads", applies=("ld",) + FITS, role="runtime", type=positive_int,
           help="threads of the likelihood kernels / LD products (results do not change)"),
    # fits
    option("--trait1-params-file", applies=("fit2",), input="template", metavar="JSON",
           help="univariate fit of trait 1 (fit1's or MiXeR's JSON; '@' = replicate number "
                "with --replicates)"),
    option("--trait2-params-file", applies=("fit2",), input="template", metavar="JSON",
           help="univariate fit of trait 2"),
    option("--load-params-file", applies=("test1", "test2"), required=("test1", "test2"),
           input="file", metavar="JSON", help="the fit to test (fit1's or fit2's JSON)"),
    option("--fit-sequence", applies=FITS,
           default={"fit1": DEFAULT_FIT1_SEQUENCE, "fit2": DEFAULT_FIT2_SEQUENCE,
                    "test1": TEST_SEQUENCE, "test2": TEST_SEQUENCE}, nargs="+",
           metavar="STEP",
           help="fit steps: fit1 infinitesimal constrained fast full convolve (fast/full/"
                "convolve optionally prefixed neldermead- or lbfgs-), fit2 infinitesimal fast "
                "full; MiXeR's names (diffevo-fast, neldermead-fast, neldermead, brute1, "
                "brent1, inflation) are mapped. test1/test2, as MiXeR's: load inflation "
                "(default: sig2_zero, and rho_zero for test2, refitted to these tags by the "
                "fast likelihood) or load (the loaded parameters as they are)"),
    option("--kmax", applies=("fit1", "fit2"), default={"fit1": 20000, "fit2": 1000},
           type=positive_int, help="causal-set draws of the sampled 'full' likelihood"),
    option("--n-draws", applies=("fit1", "fit2"), default=1000, type=positive_int,
           help="draws from the asymptotic normal for the CIs/SEs of derived quantities"),
    option("--z1max", applies=("fit1",), type=positive_float,
           help="right-censor |z| above this through the CDF (MiXeR uses 5.45)"),
    option("--nuts", applies=("fit1",), default=0, type=nonnegative_int, metavar="DRAWS",
           help="also sample the posterior by NUTS: DRAWS (and as many tuning) draws per "
                "chain, 2 chains, into OUT.nc"),
    option("--profile-points", applies=("fit2",), default=25, type=nonnegative_int,
           help="points of the pi12 log-likelihood profile (0: none)"),
    option("--qq-method", applies=("test1",), default="convolve", choices=["convolve", "fast"],
           help="model curve of the Q-Q plots: exact convolve tails or the fast moments "
                "approximation"),
    option("--resume", applies=("ld", "fit1", "fit2"), role="runtime", action="store_true",
           help="continue an interrupted run from its checkpoint OUT.ckpt (finished LD blocks "
                "or fit stages; inputs and settings must be unchanged)"),
    # output
    option("--out", applies=tuple(ANALYSES), required=tuple(ANALYSES), role="output",
           metavar="PREFIX", help="output prefix (ld: the LD folder)"),
    unsupported("--argsfile", reason="put the options on the command line (or in a shell "
                "script)"),
    unsupported("--kmax-pdf", reason="the Q-Q and power curves of test1 use the exact "
                "convolve (or fast) model, not sampling"),
    unsupported("--downsample-factor", reason="test1 uses every tag SNP"),
    unsupported("--diffevo-fast-repeats", reason="bayesmix's constrained step is a grid "
                "search refined by Brent, with no random restarts"),
]


def detect(namespace: dict) -> str:
    command = namespace.get("command")
    if command is None:
        from bayesmix.errors import InputError

        raise InputError("give a subcommand: ld, fit1, test1, fit2, test2, snps or combine "
                         "(see --help)")
    return command


SPEC = CommandSpec(prog="bayesmix-mixer",
                   description="MiXeR-compatible front end of bayesmix (causal mixture models "
                               "of GWAS z-scores).",
                   analyses=ANALYSES, options=OPTIONS, detect=detect, epilog=__doc__)


def build_parser() -> argparse.ArgumentParser:
    from bayesmix.cli.common import version_string

    parser = Parser(prog=SPEC.prog, description=SPEC.description,
                                     epilog=SPEC.epilog,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=version_string(SPEC.prog))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in ANALYSES:
        SPEC.add_to(sub.add_parser(name, help=HELP[name], description=HELP[name]),
                    analysis=name)
    return parser


def inputs_from(args):
    """The MiXeR inputs of a fit/test subcommand."""
    from bayesmix.prepare.mixer import MixerInputs, parse_chromosomes

    traits = (args.trait1_file,) + ((args.trait2_file,) if args.trait2_file else ())
    if getattr(args, "trait_files", None):   # fit2 of every pair: each pair's own inputs
        traits = tuple(_comma_list(args.trait_files)[:2])
    return MixerInputs(traits, args.ld_file, parse_chromosomes(args.chr2use),
                       bim_template=args.bim_file, extract=args.extract, exclude=args.exclude,
                       exclude_ranges=mixer_exclude_ranges(args.exclude_ranges),
                       randprune_n=args.randprune_n,
                       randprune_r2=args.randprune_r2, seed=args.seed,
                       ld_in_sample=args.ld_in_sample, prefer_z=True)


#: MiXeR's named ranges (precimed/common/utils_cli.py make_ranges: "MHC" is 6:25-35MB,
#: "APOE" 19:45-46MB, both ends included)
MIXER_NAMED_RANGES = {"MHC": "6:25000000-35000000", "APOE": "19:45000000-46000000"}


def mixer_exclude_ranges(value) -> str:
    """MiXeR's ``--exclude-ranges`` tokens (one string or a list) -> the text
    :func:`bayesmix.prepare.mixer.parse_exclude_ranges` reads, with MiXeR's meaning: MHC and
    APOE are MiXeR's regions (not bayesmix's hg19 extended MHC), a ``chr`` prefix of any case
    is dropped, ``[]`` adds nothing (only ``[]``: no region). A single existing file of
    ``chr start end`` lines is passed on as it is."""
    import os

    tokens = [value] if isinstance(value, str) else list(value or [])
    if len(tokens) == 1 and os.path.isfile(tokens[0]):
        return tokens[0]
    out = []
    for token in (t for text in tokens for t in str(text).replace(",", " ").split()):
        token = token.strip()
        if token == "[]":
            continue
        if token[:3].upper() == "CHR":
            token = token[3:]
        out.append(MIXER_NAMED_RANGES.get(token.upper(), token))
    return " ".join(out) or "[]"


def run(invocation, run_log) -> int:
    from bayesmix.cli import mixer_runs as runs

    args, command = invocation.args, invocation.analysis
    if command == "ld":
        return runs.run_ld(run_log, args, bfile=args.bfile, out=args.out, r2min=args.r2min,
                           window_kb=args.ld_window_kb or None, chrom=args.chr,
                           threads=args.threads,
                           resume=args.resume, fingerprint=invocation.fingerprint())
    if command == "snps":
        from bayesmix.prepare.mixer import parse_chromosomes

        return runs.run_snps(run_log, args.ld_file, parse_chromosomes(args.chr2use), args.out,
                             bim_template=args.bim_file, r2=args.r2, maf=args.maf,
                             subset=args.subset, seed=args.seed)
    if command == "combine":
        return runs.run_combine(run_log, args.json, args.out, rep2use=args.rep2use)
    sequence = None
    inflation = command in ("test1", "test2") and inflation_requested(args.fit_sequence)
    if command in ("fit1", "fit2"):
        sequence = steps_of(args.fit_sequence, fit1_step if command == "fit1" else fit2_step,
                            "--fit-sequence")
    runs.set_threads(args.threads)
    if command == "fit2" and not args.trait_files and not (
            args.trait2_file and args.trait1_params_file and args.trait2_params_file):
        from bayesmix.errors import InputError

        raise InputError("fit2 needs --trait1-file, --trait2-file, --trait1-params-file and "
                         "--trait2-params-file (or, for every pair of several traits, "
                         "--trait-files and --trait-params-files)")
    if command == "fit2" and not args.replicates:
        for path in (args.trait1_params_file, args.trait2_params_file,
                     *_comma_list(args.trait_params_files)):
            if path and "@" in str(path):
                from bayesmix.errors import InputError

                raise InputError("'@' in a params file stands for the replicate number: give "
                                 "--replicates", path)
    inputs = inputs_from(args)
    options = invocation.record()
    if command in ("fit1", "fit2") and (args.replicates or args.cluster or args.dask_scheduler
                                        or (command == "fit2" and args.trait_files)):
        return _run_fits(run_log, invocation, inputs, sequence, options)
    if command == "fit1":
        return runs.run_fit1(run_log, inputs, args.out, sequence=sequence,
                             censor_z=args.z1max, censor_option="--z1max", kmax=args.kmax,
                             n_draws=args.n_draws, nuts=args.nuts, options=options,
                             resume=args.resume, fingerprint=invocation.fingerprint(),
                             mixer_counts=True)
    if command == "test1":
        return runs.run_test1(run_log, inputs, args.out, params_file=args.load_params_file,
                              qq_method=args.qq_method, options=options, inflation=inflation)
    if command == "fit2":
        return runs.run_fit2(run_log, inputs, args.out,
                             params_files=(args.trait1_params_file, args.trait2_params_file),
                             sequence=sequence, kmax=args.kmax, n_draws=args.n_draws,
                             profile_points=args.profile_points, options=options,
                             resume=args.resume, fingerprint=invocation.fingerprint(),
                             mixer_counts=True)
    return runs.run_test2(run_log, inputs, args.out, params_file=args.load_params_file,
                          inflation=inflation)



def inflation_requested(sequence) -> bool:
    """Whether a test1/test2 ``--fit-sequence`` (MiXeR's choices: ``load``, then optionally
    ``inflation``) refits the inflation parameters."""
    from bayesmix.errors import InputError

    steps = [step for text in sequence for step in str(text).replace(",", " ").split()]
    if steps not in (["load"], ["load", "inflation"]):
        raise InputError(f"--fit-sequence of test1/test2 is 'load' or 'load inflation' (as "
                         f"MiXeR's), got {' '.join(steps)!r}")
    return steps == ["load", "inflation"]


def _run_fits(run_log, invocation, inputs, sequence, options) -> int:
    """fit1/fit2 with --replicates, --trait-files or on Dask: the fits as units
    (:mod:`bayesmix.cli.mixer_replicates`)."""
    from bayesmix.cli import mixer_replicates as plans
    from bayesmix.cli.common import dask_client, dask_where
    from bayesmix.errors import InputError

    args, command = invocation.args, invocation.analysis
    if command == "fit1" and args.nuts:
        raise InputError("--nuts samples one fit in this process: drop --replicates, "
                         "--cluster and --dask-scheduler to use it")
    settings = {"sequence": list(sequence), "kmax": args.kmax, "n_draws": args.n_draws,
                "censor_z": args.z1max, "profile_points": args.profile_points}
    pairs = None
    if command == "fit2" and args.trait_files:
        pairs = plans.trait_pairs(_comma_list(args.trait_files),
                                  _comma_list(args.trait_params_files))
    rule = plans.SubsetRule(args.replicate_r2, args.replicate_maf, args.replicate_subset)
    on_dask = bool(args.cluster or args.dask_scheduler)
    groups = plans.plan_units(
        command, args.out, inputs, settings=settings, replicates=args.replicates, rule=rule,
        pairs=pairs,
        params_files=(args.trait1_params_file, args.trait2_params_file) if command == "fit2"
        and not pairs else (),
        options=options, fingerprint=invocation.fingerprint(),
        threads=_numba_threads(args.threads) if on_dask else None)
    plans.check_params_files(groups)
    count = sum(len(units) for _, units in groups)
    with dask_client(args) as client:
        run_log.say(f"{command}: {count} fit(s) on {dask_where(args) or 'this process'}")
        plans.run_plan(run_log, groups, out=args.out, client=client, resume=args.resume,
                       plan={"fingerprint": invocation.fingerprint(), "units": [
                           unit.label for _, units in groups for unit in units]})
    if pairs:
        plans.write_pairs_table(run_log, args.out, groups)
    return 0


def _numba_threads(threads) -> int:
    """The likelihood kernels' thread count of a serial run (``--threads``, else every core):
    the tasks on Dask use it too, since the kernels' sums over tags are split by thread and
    their rounding (1e-13 relative) depends on the count."""
    import numba

    return int(threads) if threads else int(numba.config.NUMBA_NUM_THREADS)


def _comma_list(text) -> list[str]:
    return [part for part in str(text or "").split(",") if part]


def main(argv=None) -> int:
    from bayesmix.cli.common import parse_and_execute

    program = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    return parse_and_execute(lambda namespace: (SPEC, run, False), argv, None,
                             parser=build_parser(), program=program)


if __name__ == "__main__":
    sys.exit(main())
