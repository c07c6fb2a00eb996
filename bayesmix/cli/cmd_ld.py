"""``bayesmix ld``: build, merge, convert LD matrices; LD scores and random-pruning weights.

    bayesmix ld [build] --bfile PREFIX [--chr C] [--snp i-j] --kind KIND [window options]
                --out PATH                               # build one chromosome's LD matrix
    bayesmix ld merge PIECE [PIECE ...] --out PATH       # join --snp pieces
    bayesmix ld convert INPUT --to gctb|text|bayesmix --out OUT [--from gctb|bayesmix]
    bayesmix ld scores INPUT --out FILE.tsv              # ldsc, het_r2, het2_r4 per SNP
    bayesmix ld prune INPUT --out FILE.tsv [--passes 64 --max-r2 0.1 --seed 0]
    bayesmix ld eigen --bfile PREFIX [--chr C] (--ld-blocks FILE | --block-snps K)
                [--prop 0.995] --out PATH               # eigen-decomposed LD blocks

The action is an optional first positional word (default ``build``), so GCTB/MiXeR-style
``bayesmix ld --bfile X --kind sparse --out Y`` works as written.
"""

from __future__ import annotations

import argparse
import logging
import sys

HELP = "build, merge and convert LD matrices; LD scores and pruning weights"
ACTIONS = ("build", "merge", "convert", "scores", "prune", "eigen")

log = logging.getLogger("bayesmix")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__
    parser.add_argument("action", nargs="?", default="build", metavar="ACTION",
                        help=f"one of {', '.join(ACTIONS)} (default build)")
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="LD matrices (merge: pieces; convert/scores/prune: one input)")
    parser.add_argument("--out", required=True, help="output path")

    build = parser.add_argument_group("build")
    build.add_argument("--bfile", help="PLINK prefix of the LD reference panel")
    build.add_argument("--chr", dest="chrom", help="chromosome to use")
    build.add_argument("--snp", metavar="i-j", help="build rows i..j only (1-based), for merge")
    build.add_argument("--kind", choices=["full", "window", "sparse", "r2", "shrunk"])
    build.add_argument("--window-kb", type=float, help="window in kb")
    build.add_argument("--window-snps", type=int, help="window in SNPs")
    build.add_argument("--window-cm", type=float, help="window in cM")
    build.add_argument("--chisq", type=float, default=10.0,
                       help="sparse: keep n r^2 >= CHISQ (default 10)")
    build.add_argument("--r2min", type=float, default=0.05,
                       help="r2: keep r^2 >= R2MIN (default 0.05; window default 10000 kb)")
    build.add_argument("--gen-map", help="genetic map file: SNP bp cM (no header)")
    build.add_argument("--cm-per-mb", type=float, help="constant recombination rate instead of a map")
    build.add_argument("--ne", type=float, default=11400.0, help="shrunk: effective population size")
    build.add_argument("--genmap-n", type=int, default=183,
                       help="shrunk: individuals behind the genetic map")
    build.add_argument("--cutoff", type=float, default=1e-5, help="shrunk: shrinkage cutoff")
    build.add_argument("--tags", help="SNP list of tag SNPs: rows of a tag x reference matrix")
    build.add_argument("--missing", choices=["mean", "pairwise"], default="mean",
                       help="missing calls: mean-imputed (default) or pairwise-complete (plink)")
    build.add_argument("--dtype", choices=["float32", "int16"], default="float32")
    build.add_argument("--layout", choices=["csr", "upper"], default="csr",
                       help="store layout: csr (memory-mapped) or upper (compact, ~2 bytes per "
                            "nonzero with int16; square matrices)")
    build.add_argument("--threads", type=int, help="BLAS threads")
    build.add_argument("--max-memory", type=float, default=1024.0, metavar="MB",
                       help="bound on cached genotypes (default 1024 MB)")
    build.add_argument("--block-size", type=int, help="SNP rows per block (default: from the window)")
    build.add_argument("--keep", help="FID IID file of samples to keep")
    build.add_argument("--remove", help="FID IID file of samples to remove")
    build.add_argument("--extract", help="SNP list to keep")
    build.add_argument("--exclude", help="SNP list to drop")
    build.add_argument("--maf", type=float, default=0.0, help="minimum minor allele frequency")
    build.add_argument("--no-progress", action="store_true", help="no progress bar (it is shown only on a terminal anyway)")

    conv = parser.add_argument_group("convert")
    conv.add_argument("--to", choices=["gctb", "text", "bayesmix"], help="output format")
    conv.add_argument("--from", dest="source_format", choices=["gctb", "bayesmix"],
                      help="input format (default: guessed from the name)")
    conv.add_argument("--gctb-type", choices=["full", "band", "sparse", "shrunk"],
                      help="GCTB type to write (default from the LD kind)")

    eigen = parser.add_argument_group("eigen")
    eigen.add_argument("--ld-blocks", help="LD block file: header, then Block Chrom StartBP EndBP")
    eigen.add_argument("--block-snps", type=int, help="consecutive blocks of this many SNPs")
    eigen.add_argument("--prop", type=float, default=0.995,
                       help="share of LD variance (positive eigenvalues) kept per block")

    prune = parser.add_argument_group("prune")
    prune.add_argument("--passes", type=int, default=64, help="random pruning passes")
    prune.add_argument("--max-r2", type=float, default=0.1, help="pruning r^2 threshold")
    prune.add_argument("--seed", type=int, default=0, help="random seed")


def run(args) -> int:
    from bayesmix.errors import InputError

    if args.action not in ACTIONS:
        raise InputError(f"unknown action {args.action!r}; use one of {', '.join(ACTIONS)} "
                         f"(or none to build)")
    return {"build": _build, "merge": _merge, "convert": _convert, "scores": _scores,
            "prune": _prune, "eigen": _eigen}[args.action](args)


def parse_snp_range(text: str) -> tuple[int, int]:
    """``"i-j"`` -> (i, j), 1-based inclusive."""
    from bayesmix.errors import InputError

    parts = text.split("-")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError(f"--snp expects i-j (e.g. 1-5000), not {text!r}")
    first, last = int(parts[0]), int(parts[1])
    if not 1 <= first <= last:
        raise InputError(f"--snp {text}: expected 1 <= i <= j")
    return first, last


def _build(args) -> int:
    from bayesmix.errors import InputError
    from bayesmix.io.plink import read_snp_list
    from bayesmix.ld.compute import build_ld

    if args.inputs:
        raise InputError(f"build takes no positional inputs (got {' '.join(args.inputs)})")
    if not args.bfile or not args.kind:
        raise InputError("building LD needs --bfile PREFIX and --kind full|window|sparse|r2|shrunk")
    ld = build_ld(
        args.bfile, args.kind, chrom=args.chrom,
        snp_range=parse_snp_range(args.snp) if args.snp else None,
        tags=read_snp_list(args.tags) if args.tags else None,
        window_kb=args.window_kb, window_snps=args.window_snps, window_cm=args.window_cm,
        chisq=args.chisq, r2min=args.r2min, gen_map=args.gen_map, cm_per_mb=args.cm_per_mb,
        ne=args.ne, genmap_n=args.genmap_n, cutoff=args.cutoff, dtype=args.dtype,
        missing=args.missing, block_size=args.block_size, max_memory_mb=args.max_memory,
        threads=args.threads, progress=not args.no_progress and sys.stderr.isatty(), keep=args.keep,
        remove=args.remove, extract=args.extract, exclude=args.exclude, maf=args.maf,
    )
    ld.save(args.out, layout=args.layout)
    log.info("ld: wrote %s: %d x %d, %d nonzeros (%s)", args.out, *ld.shape, ld.nnz, ld.dtype)
    return 0


def _one_input(args):
    from bayesmix.errors import InputError

    if len(args.inputs) != 1:
        raise InputError(f"{args.action} takes exactly one input LD matrix")
    from bayesmix.ld.open import open_ld

    return open_ld(args.inputs[0], getattr(args, "source_format", None))


def _merge(args) -> int:
    from bayesmix.errors import InputError
    from bayesmix.ld.open import open_ld
    from bayesmix.ld.store import merge

    if len(args.inputs) < 1:
        raise InputError("merge needs the LD pieces as positional inputs")
    merged = merge(open_ld(p) for p in args.inputs)
    if args.dtype != "float32" or merged.dtype != "float32":
        merged = merged.astype(args.dtype)
    merged.save(args.out, layout=args.layout)
    log.info("ld: merged %d pieces into %s: %d x %d", len(args.inputs), args.out, *merged.shape)
    return 0


def _convert(args) -> int:
    from bayesmix.errors import InputError
    from bayesmix.ld.gctb import write_gctb_ldm, write_ldm_text

    if args.to is None:
        raise InputError("convert needs --to gctb|text|bayesmix")
    ld = _one_input(args)
    if args.to == "gctb":
        prefix = write_gctb_ldm(ld, args.out, args.gctb_type)
        log.info("ld: wrote %s.bin/.info", prefix)
    elif args.to == "text":
        write_ldm_text(ld, args.out)
    else:
        ld.astype(args.dtype).save(args.out, layout=args.layout)
    return 0


def _scores(args) -> int:
    from bayesmix.io.files import atomic_open
    from bayesmix.ld.scores import ld_scores

    table = ld_scores(_one_input(args))
    with atomic_open(args.out, "wt") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    return 0


def _prune(args) -> int:
    from bayesmix.io.files import atomic_open
    from bayesmix.ld.pruning import random_pruning_weights

    ld = _one_input(args)
    table = ld.snps[["snp", "chr", "bp"]].copy()
    table["weight"] = random_pruning_weights(ld, n_passes=args.passes, max_r2=args.max_r2,
                                             seed=args.seed)
    with atomic_open(args.out, "wt") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    return 0


def _eigen(args) -> int:
    from bayesmix.errors import InputError
    from bayesmix.ld.eigen import eigen_decompose_blocks

    if not args.bfile:
        raise InputError("eigen needs --bfile PREFIX")
    eig = eigen_decompose_blocks(
        args.bfile, blocks=args.ld_blocks, block_snps=args.block_snps, prop=args.prop,
        chrom=args.chrom, missing=args.missing, progress=not args.no_progress and sys.stderr.isatty(), keep=args.keep,
        remove=args.remove, extract=args.extract, exclude=args.exclude, maf=args.maf)
    eig.save(args.out)
    log.info("ld: wrote %s: %d blocks, %d SNPs, %d eigenvectors kept", args.out, eig.n_blocks,
             len(eig.snps), int(eig.rank_ptr[-1]))
    return 0
