"""``bayesmix ld``: build, merge, convert LD matrices; LD scores and random-pruning weights.

    bayesmix ld [build] --bfile PREFIX [--chr C] [--snp i-j] --kind KIND [window options]
                [--cluster local:N | --dask-scheduler ADDRESS [--pieces N]]
                --out PATH                               # build one chromosome's LD matrix
    bayesmix ld merge PIECE [PIECE ...] --out PATH       # join --snp pieces
    bayesmix ld convert INPUT --to gctb|text|bayesmix --out OUT   # format by name/folder
    bayesmix ld scores INPUT --out FILE.tsv              # ldsc, het_r2, het2_r4 per SNP
    bayesmix ld prune INPUT --out FILE.tsv [--passes 64 --max-r2 0.1 --seed 0]
    bayesmix ld eigen --bfile PREFIX [--chr C] (--ld-blocks FILE | --block-snps K)
                [--prop 0.995] --out PATH               # eigen-decomposed LD blocks

The action is an optional first positional word (default ``build``), so GCTB/MiXeR-style
``bayesmix ld --bfile X --kind sparse --out Y`` works as written. Each option applies to
the actions (and, for ``build``, the kinds) declared with it; others refuse it.
"""

from __future__ import annotations

from bayesmix.cli.options import (CommandSpec, dask_options, minor_allele_frequency,
                                  nonnegative_float, nonnegative_int, option, positive_float,
                                  positive_int, snp_range, unit_interval)
from bayesmix.errors import InputError

HELP = "build, merge and convert LD matrices; LD scores and pruning weights"
KINDS = ("full", "window", "sparse", "r2", "shrunk")
BUILD = tuple(f"build-{k}" for k in KINDS)
ACTIONS = ("build", "merge", "convert", "scores", "prune", "eigen")
ANALYSES = {**{f"build-{k}": f"ld build --kind {k}" for k in KINDS},
            **{a: f"ld {a}" for a in ACTIONS[1:]}}
WINDOWED = ("build-window", "build-sparse", "build-r2", "build-shrunk")
GENOTYPES = BUILD + ("eigen",)
STORE = BUILD + ("merge", "convert")

OPTIONS = [
    option("action", applies=tuple(ANALYSES), role="selector", nargs="?", metavar="ACTION",
           help=f"one of {', '.join(ACTIONS)} (default build)"),
    option("inputs", applies=("merge", "convert", "scores", "prune"),
           required=("merge", "convert", "scores", "prune"), nargs="*", metavar="INPUT",
           input="ld",
           help="LD matrices (merge: the pieces; convert/scores/prune: one matrix)"),
    option("--out", applies=tuple(ANALYSES), required=tuple(ANALYSES), role="output",
           metavar="PATH", help="output path"),
    # genotypes
    option("--bfile", applies=GENOTYPES, required=GENOTYPES, input="plink", metavar="PREFIX",
           help="PLINK fileset of the LD reference panel"),
    option("--chr", applies=GENOTYPES, dest="chrom", metavar="CHR",
           help="the chromosome to use (LD is built per chromosome)"),
    option("--keep", applies=GENOTYPES, input="file", metavar="FILE",
           help="FID IID file of samples to keep"),
    option("--remove", applies=GENOTYPES, input="file", metavar="FILE",
           help="FID IID file of samples to remove"),
    option("--extract", applies=GENOTYPES, input="file", metavar="FILE", help="SNPs to keep"),
    option("--exclude", applies=GENOTYPES, input="file", metavar="FILE", help="SNPs to drop"),
    option("--maf", applies=GENOTYPES, default=0.0, type=minor_allele_frequency,
           help="minimum minor allele frequency"),
    option("--missing", applies=GENOTYPES, default="mean", choices=["mean", "pairwise"],
           help="missing calls: mean-imputed, or pairwise-complete correlations (plink --r)"),
    option("--no-progress", applies=GENOTYPES, role="runtime", action="store_true",
           help="no progress output (a bar on a terminal, logged lines otherwise)"),
    option("--resume", applies=GENOTYPES, role="runtime", action="store_true",
           help="continue an interrupted build from its checkpoint OUT.ckpt (finished row or "
                "LD blocks; inputs and settings must be unchanged)"),
    # build
    option("--kind", applies=BUILD, required=BUILD, role="selector", choices=list(KINDS),
           help="full, window, sparse (n r^2 >= --chisq), r2 (r^2 >= --r2min) or shrunk"),
    option("--snp", applies=BUILD, type=snp_range, metavar="i-j",
           help="build rows i..j only (1-based), a piece to merge"),
    option("--tags", applies=BUILD, input="file", metavar="FILE",
           help="SNP list of tag SNPs: the rows of a tag x reference matrix"),
    option("--window-kb", applies=WINDOWED, type=positive_float,
           help="window in kb (r2: default 10000)"),
    option("--window-snps", applies=WINDOWED, type=positive_int, help="window in SNPs"),
    option("--window-cm", applies=WINDOWED, type=positive_float,
           help="window in cM (needs map positions: the .bim, --gen-map or --cm-per-mb)"),
    option("--chisq", applies=("build-sparse",), default=10.0, type=nonnegative_float,
           help="keep n r^2 >= CHISQ"),
    option("--r2min", applies=("build-r2",), default=0.05, type=unit_interval,
           help="keep r^2 >= R2MIN"),
    option("--gen-map", applies=WINDOWED, input="file", conflicts=("cm_per_mb",),
           requires=("window_cm",), requires_in=("build-window", "build-sparse", "build-r2"),
           metavar="FILE", help="genetic map: SNP bp cM per line, no header (shrunk LD, or "
                                "--window-cm)"),
    option("--cm-per-mb", applies=WINDOWED, type=positive_float, conflicts=("gen_map",),
           requires=("window_cm",), requires_in=("build-window", "build-sparse", "build-r2"),
           help="a constant recombination rate instead of a map"),
    option("--ne", applies=("build-shrunk",), default=11400.0, type=positive_float,
           help="effective population size"),
    option("--genmap-n", applies=("build-shrunk",), default=183, type=positive_int,
           help="individuals behind the genetic map"),
    option("--cutoff", applies=("build-shrunk",), default=1e-5, type=nonnegative_float,
           help="shrinkage factors below this are set to 0"),
    option("--threads", applies=BUILD, role="runtime", type=positive_int,
           help="BLAS threads (results do not change)"),
    option("--max-memory", applies=BUILD, default=1024.0, role="runtime",
           type=positive_float, metavar="MB", help="bound on cached genotypes, in MB"),
    option("--block-size", applies=BUILD, role="runtime", type=positive_int,
           help="SNP rows per block (default: from the window)"),
    *dask_options(BUILD),
    # storage
    option("--dtype", applies=STORE, default="float32", choices=["float32", "int16"],
           help="stored values: float32, or int16 (error <= 1.53e-5, half the size); "
                "convert: --to bayesmix only"),
    option("--layout", applies=STORE, default="csr", choices=["csr", "upper"],
           help="store layout: csr (memory-mapped) or upper (~2 bytes per nonzero with int16; "
                "square matrices); convert: --to bayesmix only"),
    # convert
    option("--to", applies=("convert",), required=("convert",),
           choices=["gctb", "text", "bayesmix"], help="output format"),
    option("--gctb-type", applies=("convert",), choices=["full", "band", "sparse", "shrunk"],
           help="GCTB type to write with --to gctb (default from the LD kind)"),
    # eigen
    option("--ld-blocks", applies=("eigen",), input="file", conflicts=("block_snps",),
           metavar="FILE", help="LD block file: header, then Block Chrom StartBP EndBP"),
    option("--block-snps", applies=("eigen",), type=positive_int, conflicts=("ld_blocks",),
           help="consecutive blocks of this many SNPs"),
    option("--prop", applies=("eigen",), default=0.995, type=unit_interval,
           help="share of LD variance (positive eigenvalues) kept per block"),
    # prune
    option("--passes", applies=("prune",), default=64, type=positive_int,
           help="random pruning passes"),
    option("--max-r2", applies=("prune",), default=0.1, type=unit_interval,
           help="pruning r^2 threshold"),
    option("--seed", applies=("prune",), default=0, type=nonnegative_int, help="random seed"),
]


def detect(namespace: dict) -> str:
    action = namespace.get("action", "build")
    if action not in ACTIONS:
        raise InputError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)} "
                         "(or none to build)")
    if action != "build":
        return action
    if "kind" not in namespace:
        raise InputError("building LD needs --kind full|window|sparse|r2|shrunk (and --bfile)")
    return f"build-{namespace['kind']}"


SPEC = CommandSpec(prog="bayesmix ld", description=__doc__, analyses=ANALYSES,
                   options=OPTIONS, detect=detect)


def run(invocation, run_log) -> int:
    args, analysis = invocation.args, invocation.analysis
    action = analysis.split("-")[0]
    if action in ("convert", "scores", "prune") and len(args.inputs) != 1:
        raise InputError(f"ld {action} takes exactly one input LD matrix")
    if action == "convert" and args.to != "bayesmix" and (
            "dtype" in invocation.given or "layout" in invocation.given):
        raise InputError("--dtype and --layout apply to --to bayesmix only")
    if action == "convert" and args.to != "gctb" and args.gctb_type is not None:
        raise InputError("--gctb-type applies to --to gctb only")
    return {"build": _build, "merge": _merge, "convert": _convert, "scores": _scores,
            "prune": _prune, "eigen": _eigen}[action](invocation, run_log)


def _resumable(invocation):
    """Checkpoint keywords of a build (OUT.ckpt, refused up front without --resume) and
    the message of an interrupt."""
    from bayesmix.checkpoint import Checkpoint

    args = invocation.args
    path = f"{args.out}.ckpt"
    Checkpoint.check_resume(path, args.resume)
    return (dict(checkpoint=path, resume=args.resume, fingerprint=invocation.fingerprint()),
            f"the finished blocks are kept in {path}; rerun the same command with --resume "
            "to finish")


def _build(invocation, run_log) -> int:
    from bayesmix.cli.common import dask_client, dask_note, kept_on_interrupt
    from bayesmix.io.plink import read_snp_list
    from bayesmix.ld.compute import build_ld

    args = invocation.args
    if args.layout == "upper" and (args.tags or args.snp):
        raise InputError("--layout upper stores square matrices: --tags and --snp build "
                         "rectangular ones (use --layout csr)")
    resumable, kept = _resumable(invocation)
    kind_options = {"sparse": {"chisq": args.chisq}, "r2": {"r2min": args.r2min},
                    "shrunk": {"ne": args.ne, "genmap_n": args.genmap_n,
                               "cutoff": args.cutoff}}.get(args.kind, {})
    with kept_on_interrupt(kept), dask_client(args) as client:
        ld = build_ld(
            args.bfile, args.kind, chrom=args.chrom, snp_range=args.snp,
            tags=read_snp_list(args.tags) if args.tags else None,
            window_kb=args.window_kb, window_snps=args.window_snps, window_cm=args.window_cm,
            gen_map=args.gen_map, cm_per_mb=args.cm_per_mb, dtype=args.dtype,
            missing=args.missing, block_size=args.block_size, max_memory_mb=args.max_memory,
            threads=args.threads, progress=not args.no_progress, keep=args.keep,
            remove=args.remove, extract=args.extract, exclude=args.exclude, maf=args.maf,
            client=client, pieces=args.pieces, **kind_options, **resumable)
    ld.save(args.out, layout=args.layout)
    run_log.say(f"ld: wrote {args.out}: {ld.shape[0]} x {ld.shape[1]}, {ld.nnz} nonzeros "
                f"({ld.dtype}, {args.layout} layout); rows in blocks of "
                f"{args.block_size or 'auto'}, genotype cache <= {args.max_memory:g} MB, "
                f"{args.threads or 'default'} BLAS threads"
                f"{dask_note(args)}"
                f"{', progress not shown' if args.no_progress else ''}")
    return 0


def _open_input(args):
    from bayesmix.ld.open import open_ld

    return open_ld(args.inputs[0])


def _merge(invocation, run_log) -> int:
    from bayesmix.ld.open import open_ld
    from bayesmix.ld.store import merge

    args = invocation.args
    merged = merge(open_ld(p) for p in args.inputs)
    if args.dtype != merged.dtype:
        merged = merged.astype(args.dtype)
    merged.save(args.out, layout=args.layout)
    run_log.say(f"ld: merged {len(args.inputs)} pieces into {args.out}: {merged.shape[0]} x "
                f"{merged.shape[1]}")
    if not merged.is_square:
        have = set(merged.snps["snp"])
        missing = [k for k, snp in enumerate(merged.ref_snps["snp"]) if snp not in have]
        run_log.say(f"warning: the pieces cover {merged.shape[0]} of the {merged.shape[1]} "
                    f"rows (first missing: row {missing[0] + 1}, {len(missing)} in all): "
                    f"the result is a row piece, not the square matrix; merge every piece")
    return 0


def _convert(invocation, run_log) -> int:
    from bayesmix.ld.gctb import write_gctb_ldm, write_ldm_text

    args = invocation.args
    ld = _open_input(args)
    if args.to == "gctb":
        prefix = write_gctb_ldm(ld, args.out, args.gctb_type)
        run_log.say(f"ld: wrote {prefix}.bin/.info")
    elif args.to == "text":
        write_ldm_text(ld, args.out)
        run_log.say(f"ld: wrote {args.out}")
    else:
        ld.astype(args.dtype).save(args.out, layout=args.layout)
        run_log.say(f"ld: wrote {args.out}")
    return 0


def _scores(invocation, run_log) -> int:
    from bayesmix.io.files import atomic_open
    from bayesmix.ld.scores import ld_scores

    args = invocation.args
    table = ld_scores(_open_input(args))
    with atomic_open(args.out, "wt") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    run_log.say(f"ld: wrote LD scores of {len(table)} SNPs to {args.out}")
    return 0


def _prune(invocation, run_log) -> int:
    from bayesmix.io.files import atomic_open
    from bayesmix.ld.pruning import random_pruning_weights

    args = invocation.args
    ld = _open_input(args)
    table = ld.snps[["snp", "chr", "bp"]].copy()
    table["weight"] = random_pruning_weights(ld, n_passes=args.passes, max_r2=args.max_r2,
                                             seed=args.seed)
    with atomic_open(args.out, "wt") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    run_log.say(f"ld: wrote pruning weights of {len(table)} SNPs to {args.out}")
    return 0


def _eigen(invocation, run_log) -> int:
    from bayesmix.cli.common import kept_on_interrupt
    from bayesmix.ld.eigen import eigen_decompose_blocks

    args = invocation.args
    if args.ld_blocks is None and args.block_snps is None:
        raise InputError("ld eigen needs --ld-blocks FILE or --block-snps K")

    resumable, kept = _resumable(invocation)
    with kept_on_interrupt(kept):
        eig = eigen_decompose_blocks(
            args.bfile, blocks=args.ld_blocks, block_snps=args.block_snps, prop=args.prop,
            chrom=args.chrom, missing=args.missing, progress=not args.no_progress,
            keep=args.keep, remove=args.remove, extract=args.extract, exclude=args.exclude,
            maf=args.maf, **resumable)
    eig.save(args.out)
    run_log.say(f"ld: wrote {args.out}: {eig.n_blocks} blocks, {len(eig.snps)} SNPs, "
                f"{int(eig.rank_ptr[-1])} eigenvectors kept"
                f"{'; progress not shown' if args.no_progress else ''}")
    return 0
