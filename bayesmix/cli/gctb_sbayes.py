"""GCTB's summary-data options for ``bayesmix-gctb``: SBayesC/R/S and building LD matrices.

``bayesmix/cli/gctb.py`` owns the parser; it calls :func:`add_arguments` and dispatches to
:func:`run` through :data:`ANALYSES`. Options GCTB shares with the individual-level
analyses (--bfile, --chr, --out, --pi, --gamma, --hsq, --S, --chain-length, --burn-in,
--out-freq, --thin, --seed ...) are added here only when the parser does not define them yet.

Command lines of the GCTB tutorial that run unchanged::

    gctb --bfile ref --chr 22 --make-full-ldm --snp 1-1000 --out ref      # a piece
    gctb --mldm pieces.txt --make-full-ldm --out ref                       # merge pieces
    gctb --bfile ref --make-sparse-ldm --chisq 10 --out ref                # or --ldm X.ldm.full
    gctb --bfile ref --chr 22 --make-shrunk-ldm --gen-map map.txt --out ref
    gctb --ldm ref.ldm.sparse --write-ldm-txt --out ref
    gctb --sbayes R --ldm ref.ldm.sparse --pi 0.95,0.02,0.02,0.01 --gamma 0.0,0.01,0.1,1 \\
         --gwas-summary trait.ma --chain-length 10000 --burn-in 2000 --out-freq 10 --out trait
    gctb --sbayes C --mldm ldm_list.txt --gwas-summary trait.ma --exclude-mhc --impute-n ...

Outputs of an SBayes run (the alphabet's writers, :mod:`bayesmix.report.gctb`): ``OUT.parRes``,
``OUT.snpRes`` (GCTB format), ``OUT.mcmcsamples.Par`` (and ``.SnpEffects`` unless
--no-mcmc-bin), ``OUT.nc`` (ArviZ); the data summary, QC table, robust settings and progress
lines go to stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

log = logging.getLogger("bayesmix")

LD_ACTIONS = ("make_full_ldm", "make_sparse_ldm", "make_shrunk_ldm", "write_ldm_txt")


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the summary-data and LD-building options (and missing shared ones) to ``parser``."""
    existing = set(parser._option_string_actions)  # noqa: SLF001 - argparse has no public query

    def add(group, *flags, **kwargs):
        if not any(f in existing for f in flags):
            group.add_argument(*flags, **kwargs)

    shared = parser.add_argument_group("shared with individual-level analyses")
    add(shared, "--bfile", help="PLINK prefix (LD reference panel when building LD)")
    add(shared, "--chr", dest="chrom", help="chromosome")
    add(shared, "--extract", help="file of SNP ids to use")
    add(shared, "--keep", help="file of FID IID of the individuals to use")
    add(shared, "--out", default="gctb", help="output prefix")
    add(shared, "--pi", type=_floats, help="starting pi (C/S: non-zero share; R: K weights)")
    add(shared, "--gamma", type=_floats, help="SBayesR component variance multipliers")
    add(shared, "--hsq", type=float, default=0.5, help="starting heritability")
    add(shared, "--S", dest="S", type=float, default=0.0, help="starting S (SBayesS)")
    add(shared, "--fix-pi", action="store_true", help="do not sample pi")
    add(shared, "--chain-length", type=int, default=3000)
    add(shared, "--burn-in", type=int, default=1000)
    add(shared, "--out-freq", type=int, default=100)
    add(shared, "--thin", type=int, default=10)
    add(shared, "--seed", type=int, default=0)
    add(shared, "--thread", type=int, default=1, help="threads (LD building, block sweeps)")
    add(shared, "--unscale-genotype", action="store_true",
        help="prior variance of per-allele effects independent of allele frequency")
    add(shared, "--no-mcmc-bin", action="store_true", help="no .mcmcsamples files")
    add(shared, "--chains", type=int, default=1, help="number of chains (bayesmix extra)")
    add(shared, "--checkpoint-every", type=int, default=0,
        help="write PREFIX.ckpt.chainK every k iterations and resume from it (0: off)")

    sb = parser.add_argument_group("summary-data Bayesian models (SBayes)")
    add(sb, "--sbayes", choices=["C", "R", "S"], type=str.upper, help="SBayesC, SBayesR or SBayesS")
    add(sb, "--gwas-summary", help="GWAS summary statistics (.ma: SNP A1 A2 freq b se p N)")
    add(sb, "--ldm", help="LD matrix: GCTB PREFIX.ldm.TYPE, a bayesmix LD folder or an "
                          "eigen-decomposed LD folder")
    add(sb, "--mldm", help="file listing LD matrices, one per line (one per chromosome; or "
                           "row pieces to merge with --make-full-ldm)")
    add(sb, "--exclude-mhc", nargs="?", const="hg19", choices=["hg19", "hg38"],
        help="drop the MHC region (genome build hg19 by default)")
    add(sb, "--exclude-region", help="file of regions to drop: chr start end")
    add(sb, "--impute-n", action="store_true",
        help="drop SNPs whose N is more than 3 SD from the median N")
    add(sb, "--p-value", type=float, help="keep SNPs with GWAS p-value <= this")
    add(sb, "--rsq", type=float,
        help="drop SNPs in LD r^2 > this with a more significant SNP (GCTB's high-LD filter)")
    add(sb, "--keep-ambiguous", action="store_true", help="keep strand-ambiguous A/T, C/G SNPs")
    add(sb, "--robust", dest="robust", action="store_true", default=True,
        help="robust setting (default): LD sampling-variance correction and an LD ridge from "
             "an eigenvalue check")
    add(sb, "--no-robust", dest="robust", action="store_false",
        help="exact summary-data likelihood (in-sample LD only)")
    add(sb, "--ld-ridge", type=float, help="ridge towards the LD diagonal in [0, 1) (default: "
                                           "from the eigenvalue check)")
    add(sb, "--ld-layout", choices=["auto", "band", "upper", "csr"], default="auto",
        help="LD held for the sweeps: band (rows as contiguous runs, 2 bytes per value with "
             "int16), upper triangle (2 bytes per nonzero; slower sweeps when few effects "
             "change) or full CSR (6 bytes per nonzero); auto: band for window/band/shrunk/full "
             "LD, else CSR up to 2 GiB of LD arrays, else upper")
    add(sb, "--min-eigenvalue", type=float,
        help="smallest LD eigenvalue the automatic ridge aims for (default 0.01; 0 with "
             "in-sample LD)")
    sample = sb.add_mutually_exclusive_group()
    sample.add_argument("--ld-in-sample", dest="ld_in_sample", action="store_const", const=True,
                        help="the LD panel is the GWAS sample itself (default: assumed when "
                             "the panel size equals the largest GWAS N)")
    sample.add_argument("--ld-out-of-sample", dest="ld_in_sample", action="store_const",
                        const=False, help="the LD panel is an independent reference")

    ldb = parser.add_argument_group("LD matrices")
    add(ldb, "--make-full-ldm", action="store_true", help="full LD (or merge --mldm pieces)")
    add(ldb, "--make-sparse-ldm", action="store_true", help="sparse LD: keep n r^2 >= --chisq")
    add(ldb, "--make-shrunk-ldm", action="store_true", help="Wen-Stephens shrunk LD")
    add(ldb, "--snp", metavar="i-j", help="build rows i..j only (1-based), a piece to merge")
    add(ldb, "--chisq", type=float, default=10.0, help="sparse LD threshold of n r^2")
    add(ldb, "--gen-map", help="genetic map: SNP bp cM, no header (shrunk LD)")
    add(ldb, "--ne", type=float, default=11490.672741, help="effective population size (shrunk)")
    add(ldb, "--genmap-n", type=int, default=183, help="individuals behind the genetic map")
    add(ldb, "--shrunk-cutoff", type=float, default=1e-5, help="shrinkage cutoff (shrunk)")
    add(ldb, "--write-ldm-txt", action="store_true", help="write the LD matrix as text")


def run(args) -> int:
    """Run the LD operation or SBayes analysis the arguments ask for."""
    if any(getattr(args, a, False) for a in LD_ACTIONS):
        return _run_ld(args)
    return _run_sbayes(args)


ANALYSES = [(flag, run) for flag in (*LD_ACTIONS, "sbayes")]
"""(attribute, runner) pairs for ``bayesmix.cli.gctb``'s dispatch."""


# --------------------------------------------------------------------------- LD matrices
def _ld_output_name(args, gctb_type: str) -> str:
    parts = [args.out]
    if args.chrom and not args.snp:
        parts.append(f"chr{args.chrom}")
    if args.snp:
        parts.append(f"snp{args.snp}")
    return ".".join(parts)


def _run_ld(args) -> int:
    from bayesmix.cli.cmd_ld import parse_snp_range
    from bayesmix.errors import InputError
    from bayesmix.ld.compute import build_ld
    from bayesmix.ld.gctb import write_gctb_ldm, write_ldm_text
    from bayesmix.ld.open import open_ld, open_ld_list, thin_to_sparse
    from bayesmix.ld.store import merge

    kinds = [k for k, flag in (("full", "make_full_ldm"), ("sparse", "make_sparse_ldm"),
                               ("shrunk", "make_shrunk_ldm")) if getattr(args, flag)]
    if len(kinds) > 1:
        raise InputError("choose one of --make-full-ldm, --make-sparse-ldm, --make-shrunk-ldm")
    if args.write_ldm_txt and not kinds:
        if not args.ldm:
            raise InputError("--write-ldm-txt needs --ldm PREFIX")
        path = write_ldm_text(open_ld(args.ldm), f"{args.out}.ldm.txt")
        print(f"Written the LD matrix as text to [{path}].")
        return 0
    kind = kinds[0]
    if args.mldm:
        if kind != "full":
            raise InputError("--mldm with LD building merges pieces: use --make-full-ldm")
        pieces = open_ld_list(args.mldm)
        ld = merge(pieces)
        ld.meta["kind"] = "full"
        print(f"Merged {len(pieces)} LD matrix pieces: {ld.shape[0]} SNPs.")
    elif args.ldm:
        if kind != "sparse":
            raise InputError("from an existing --ldm only --make-sparse-ldm is supported")
        ld = thin_to_sparse(open_ld(args.ldm), args.chisq)
    else:
        if not args.bfile:
            raise InputError(f"--make-{kind}-ldm needs --bfile PREFIX (or --mldm / --ldm)")
        options = dict(chrom=args.chrom, snp_range=parse_snp_range(args.snp) if args.snp else None,
                       threads=args.thread, progress=sys.stderr.isatty(), extract=args.extract,
                       keep=args.keep)
        if kind == "sparse":
            options["chisq"] = args.chisq
        if kind == "shrunk":
            if not args.gen_map:
                raise InputError("--make-shrunk-ldm needs --gen-map FILE (SNP bp cM)")
            options.update(gen_map=args.gen_map, ne=args.ne, genmap_n=args.genmap_n,
                           cutoff=args.shrunk_cutoff)
        ld = build_ld(args.bfile, kind, **options)
    if not ld.is_square:
        # a row piece (--snp i-j): GCTB files are square, so pieces are bayesmix LD folders
        # named like GCTB's pieces; --mldm LIST --make-full-ldm merges them.
        folder = ld.save(f"{_ld_output_name(args, kind)}.ldm.{kind}")
        print(f"Written rows {args.snp} of the {kind} LD matrix ({ld.shape[0]} x {ld.shape[1]}) "
              f"to the folder [{folder}]; merge the pieces with --mldm LIST --make-full-ldm.")
        return 0
    prefix = write_gctb_ldm(ld, _ld_output_name(args, kind), kind)
    print(f"Written the {kind} LD matrix of {ld.shape[0]} SNPs ({ld.nnz} nonzeros) to "
          f"[{prefix}.bin] and [{prefix}.info].")
    if args.write_ldm_txt:
        write_ldm_text(ld, f"{prefix}.txt")
    return 0


# --------------------------------------------------------------------------- SBayes
def _run_sbayes(args) -> int:
    """Read the LD and statistics, run SBayesC/R/S, write GCTB outputs and ``OUT.log``."""
    from bayesmix.cli.common import version_string
    from bayesmix.cli.gctb import Tee
    from bayesmix.errors import InputError
    from bayesmix.inference.chain import ChainSettings, run_chains
    from bayesmix.inference.sbayes_data import prepare_summary_data
    from bayesmix.inference.sbayes_gibbs import make_sbayes_steps
    from bayesmix.io.files import atomic_open
    from bayesmix.io.sumstats import read_sumstats
    from bayesmix.ld.open import open_reference_ld
    from bayesmix.models.alphabet import AlphabetPrior
    from bayesmix.models.sbayes import SBayesModel

    out = Tee(sys.stdout)

    def say(text=""):
        print(text, file=out, flush=True)

    if not args.gwas_summary:
        raise InputError("--sbayes needs --gwas-summary FILE.ma")
    every = getattr(args, "checkpoint_every", 0)
    try:
        settings = ChainSettings(chain_length=args.chain_length, burn_in=args.burn_in,
                                 thin=args.thin, out_freq=args.out_freq, seed=args.seed,
                                 store_snp_draws=not args.no_mcmc_bin,
                                 checkpoint=f"{args.out}.ckpt" if every else None,
                                 checkpoint_every=every or 1)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    log_path = f"{args.out}.log"
    started = time.time()
    try:
        say(version_string("bayesmix-gctb"))
        say("Options: " + " ".join(getattr(args, "argv", None) or sys.argv[1:]))
        say()
        ld = open_reference_ld(args.ldm, args.mldm)
        say(f"Read an LD matrix of {ld.shape[0]} SNPs ({ld.nnz} nonzeros, {ld.dtype}).")
        sumstats = read_sumstats(args.gwas_summary)
        say(f"Read {len(sumstats)} SNPs from [{args.gwas_summary}].")
        if args.p_value is not None:
            keep = ~(sumstats["P"] > args.p_value)
            say(f"{int((~keep).sum())} SNPs with GWAS p-value > {args.p_value:g} removed.")
            sumstats = sumstats.loc[keep.to_numpy()]
        data = prepare_summary_data(sumstats, ld, exclude_mhc=args.exclude_mhc,
                                    exclude_regions=args.exclude_region, impute_n=args.impute_n,
                                    keep_ambiguous=args.keep_ambiguous,
                                    rsq=args.rsq, ld_in_sample=args.ld_in_sample)
        say(str(data.qc))
        say()
        say(data.format_summary())
        pi = args.pi if args.pi is None or args.sbayes == "R" else args.pi[-1]
        prior = AlphabetPrior(args.sbayes, pi=pi, gamma=args.gamma, hsq=args.hsq, S=args.S,
                              fix_pi=args.fix_pi)
        model = SBayesModel(data, prior, robust=args.robust, ridge=args.ld_ridge,
                            min_eigenvalue=args.min_eigenvalue, unscaled=args.unscale_genotype,
                            parallel_blocks=args.thread > 1 and args.chains == 1,
                            ld_layout=args.ld_layout)
        say(f"\nSBayes{args.sbayes}: {model.robust_description()}; chain length "
            f"{settings.chain_length}, burn-in {settings.burn_in}, thin {settings.thin}, seed "
            f"{settings.seed}, {args.chains} chain(s).")
        say()
        result = run_chains(model, make_sbayes_steps, settings, chains=args.chains,
                            cores=min(args.chains, args.thread), progress_stream=out)
        if result.n_draws == 0:
            raise InputError("no draws were kept (stopped during burn-in, or chain length - "
                             "burn-in < thin); nothing to write")
        say()
        say("Posterior statistics from MCMC samples:")
        say(result.diagnostics().to_string(index=False, float_format=lambda v: f"{v:.6g}"))
        say()
        paths = write_outputs(result, args.out, mcmc_bin=not args.no_mcmc_bin,
                              netcdf=not getattr(args, "no_netcdf", False))
        for path in paths + [log_path]:
            say(f"Wrote {path}")
        say(f"Analysis finished in {time.time() - started:.1f} s "
            f"({1e3 * result.chains[0].seconds_per_iteration:.2f} ms per iteration)"
            f"{' - INTERRUPTED, outputs cover the finished iterations' if result.interrupted else ''}")
        return 130 if result.interrupted else 0
    finally:
        with atomic_open(log_path) as fh:
            fh.write("".join(out.lines))


def write_outputs(result, out: str, *, mcmc_bin: bool = True, netcdf: bool = True) -> list[str]:
    """GCTB files and the ArviZ netCDF through the alphabet's writers; returns the paths."""
    from bayesmix.report.gctb import write_outputs as write_gctb_outputs

    return write_gctb_outputs(result, out, mcmc_bin=mcmc_bin, netcdf=netcdf)
