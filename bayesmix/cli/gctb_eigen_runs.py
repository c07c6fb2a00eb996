"""The block-LD analyses of ``bayesmix-gctb`` (GCTB's eigen-decomposed LD): library calls of
:mod:`bayesmix.ld.gctb_eigen` and the lines they log. Nothing here parses files or computes LD.

- ``--bfile --make-block-ldm --block-info FILE --out DIR``: :func:`run_make_block_ldm`;
- ``--ldm DIR --merge-block-ldm-info``: :func:`run_merge_block_ldm_info`;
- ``--ldm DIR --make-ldm-eigen``: :func:`run_make_ldm_eigen`;
- ``--bfile --make-ldm-eigen --block-info FILE --out DIR``: :func:`run_make_ldm_eigen_bfile`.
"""

from __future__ import annotations

import time

#: blocks listed one per line in the log up to this many
LISTED_BLOCKS = 30


def _filters(args) -> dict:
    return dict(keep=args.keep, remove=args.remove, extract=args.extract,
                exclude=args.exclude, chrom=args.chrom, maf=args.maf,
                exclude_mhc=args.exclude_mhc, exclude_regions=args.exclude_region)


def _interrupted_note(args) -> str:
    return (f"the finished blocks' files are in {args.out if args.ldm is None else args.ldm}; "
            "rerun the same command with --resume to finish")


def _say_mapping(run_log, run, args) -> None:
    """Samples, SNPs left out and how the SNPs fell into the blocks."""
    run_log.say(f"LD of {run.n_samples} individuals (Pearson r of the A1 counts, missing "
                "calls at the SNP mean).")
    for reason, count in run.dropped.items():
        run_log.say(f"  {reason:<45} {count:>10}")
    if run.outside:
        run_log.say(f"{run.outside} SNPs are in no block of [{args.block_info}] (a block holds "
                    "StartBP <= bp < EndBP of its chromosome) and are left out.")
    if run.empty:
        shown = ", ".join(str(i) for i in run.empty[:LISTED_BLOCKS])
        run_log.say(f"{len(run.empty)} block(s) hold none of the SNPs, nothing written for "
                    f"them: {shown}{', ...' if len(run.empty) > LISTED_BLOCKS else ''}.")


def _say_blocks(run_log, run, args) -> None:
    """Per-block lines (up to :data:`LISTED_BLOCKS`), what was resumed and written."""
    if args.resume:
        run_log.say(f"--resume: {run.resumed} block(s) were finished by the interrupted run"
                    if run.resumed else "--resume: no unfinished run to continue in the "
                                        "folder; every block was built")
    if len(run.ids) <= LISTED_BLOCKS:
        for i, block_id in enumerate(run.ids):
            rank = "" if run.ranks is None else f", {run.ranks[i]} eigenvalues kept"
            run_log.say(f"  block {block_id}: {run.sizes[i]} SNPs{rank}")
    if run.ids:
        run_log.say(f"{len(run.ids)} block(s), {sum(run.sizes)} SNPs ({min(run.sizes)} to "
                    f"{max(run.sizes)} per block)"
                    + ("" if run.ranks is None else
                       f", {sum(run.ranks)} eigenvalues kept ({min(run.ranks)} to "
                       f"{max(run.ranks)} per block)") + ".")
        run_log.say(f"Wrote {', '.join(run.written)} in [{run.folder}].")


def _say_end(run_log, args, started) -> None:
    run_log.say(f"Finished in {time.time() - started:.1f} s with {args.thread} thread(s).")


def run_make_block_ldm(invocation, run_log) -> int:
    """GCTB's --make-block-ldm: the full LD of each block into the folder --out."""
    from bayesmix.cli.common import kept_on_interrupt
    from bayesmix.ld.gctb_eigen import make_block_ldm

    args, started = invocation.args, time.time()
    with kept_on_interrupt(_interrupted_note(args)):
        run = make_block_ldm(args.bfile, args.block_info, args.out, block=args.block,
                             write_text=args.write_ldm_txt, threads=args.thread,
                             resume=args.resume, fingerprint=invocation.fingerprint(),
                             **_filters(args))
    _say_mapping(run_log, run, args)
    _say_blocks(run_log, run, args)
    if run.merged:
        run_log.say("The SNPs cover 22 or more chromosomes: the block info files were merged "
                    "into snp.info and ldm.info, as GCTB does.")
    elif run.ids:
        run_log.say(f"Next: --ldm {args.out} --merge-block-ldm-info (once every block is "
                    f"built), then --ldm {args.out} --make-ldm-eigen.")
    _say_end(run_log, args, started)
    return 0


def run_merge_block_ldm_info(invocation, run_log) -> int:
    """GCTB's --merge-block-ldm-info on the folder --ldm."""
    from bayesmix.ld.gctb_eigen import merge_block_ldm_info

    args, started = invocation.args, time.time()
    run = merge_block_ldm_info(args.ldm)
    run_log.say(f"Merged the info files of {len(run.ids)} block(s), {sum(run.sizes)} SNPs, "
                f"into [{run.folder}/snp.info] and [{run.folder}/ldm.info]; the per-block "
                "info files were deleted.")
    run_log.say(f"Finished in {time.time() - started:.1f} s.")
    return 0


def run_make_ldm_eigen(invocation, run_log) -> int:
    """GCTB's --ldm DIR --make-ldm-eigen: block<ID>.eigen.bin next to each block's LD."""
    from bayesmix.cli.common import kept_on_interrupt
    from bayesmix.ld.gctb_eigen import make_ldm_eigen

    args, started = invocation.args, time.time()
    with kept_on_interrupt(_interrupted_note(args)):
        run = make_ldm_eigen(args.ldm, args.ldm_eigen_cutoff, block=args.block,
                             write_text=args.write_ldm_txt, threads=args.thread,
                             resume=args.resume)
    run_log.say(f"Eigen-decomposed the block LD of [{args.ldm}], keeping per block the fewest "
                "leading eigenvalues whose share of the sum of positive eigenvalues exceeds "
                f"{args.ldm_eigen_cutoff}.")
    _say_blocks(run_log, run, args)
    _say_end(run_log, args, started)
    return 0


def run_make_ldm_eigen_bfile(invocation, run_log) -> int:
    """--bfile --make-ldm-eigen --block-info: the eigen LD folder --out in one pass."""
    from bayesmix.cli.common import kept_on_interrupt
    from bayesmix.ld.gctb_eigen import make_ldm_eigen_from_genotypes

    args, started = invocation.args, time.time()
    with kept_on_interrupt(_interrupted_note(args)):
        run = make_ldm_eigen_from_genotypes(
            args.bfile, args.block_info, args.out, args.ldm_eigen_cutoff, block=args.block,
            write_text=args.write_ldm_txt, threads=args.thread, resume=args.resume,
            fingerprint=invocation.fingerprint(), **_filters(args))
    _say_mapping(run_log, run, args)
    run_log.say(f"Kept per block the fewest leading eigenvalues whose share of the sum of "
                f"positive eigenvalues exceeds {args.ldm_eigen_cutoff}.")
    _say_blocks(run_log, run, args)
    if run.merged:
        run_log.say(f"The folder is ready for --ldm-eigen {args.out}.")
    elif run.ids:
        run_log.say(f"Once every block has run: --ldm {args.out} --merge-block-ldm-info.")
    _say_end(run_log, args, started)
    return 0


RUNNERS = {"make-block-ldm": run_make_block_ldm,
           "merge-block-ldm-info": run_merge_block_ldm_info,
           "make-ldm-eigen": run_make_ldm_eigen,
           "make-ldm-eigen-bfile": run_make_ldm_eigen_bfile}
