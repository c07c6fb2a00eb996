"""LD matrices from PLINK genotypes, block by block with BLAS.

r is the Pearson correlation of the allele counts of the kept samples, missing genotypes
mean-imputed (``missing="pairwise"``: over samples observed at both SNPs, as ``plink --r``;
the two agree when no call is missing). A block of r comes from the cross-product of raw
0/1/2 counts, which single-precision BLAS computes exactly (integers below 2^24), then is
centred and scaled in float64 (:func:`correlation_block`): float32 speed, float64 accuracy.
Only the column range a block of rows can reach is read, through a cache bounded by
``max_memory_mb``; for square matrices only the upper triangle is computed, then mirrored
(except for the r2 kind, below).

Kinds (:func:`build_ld`):

========  =====================================================  ==========================
kind      stored entries                                         default window
========  =====================================================  ==========================
full      every pair                                             whole chromosome
window    every pair inside the window                           required
sparse    pairs with n r^2 >= chisq (GCTB, chisq 10)             whole chromosome
r2        pairs with r^2 >= r2min (MiXeR, r2min 0.05)            10,000 kb
shrunk    Wen-Stephens shrunk r (see :mod:`bayesmix.ld.shrunk`)  where shrinkage >= cutoff
========  =====================================================  ==========================

The diagonal is always stored. The r2 kind also keeps, per row SNP j, the *weak-LD sum*
``weak_ld_j = sum_i H_i (r_ij^2 - (1 - r_ij^2) / (n - 2))`` over the pairs of its window left
out (r^2 < r2min), H_i = 2 p_i (1 - p_i), the r^2 of each pair corrected for the panel's
sampling noise (E[r^2] = 1 / (n - 1) for unlinked SNPs): what MiXeR's likelihoods add to each
tag's variance for the LD the threshold drops (:mod:`bayesmix.kernels.mixer`). It needs each
row's whole window, so r2 rows are computed in full, not mirrored. The same sums are also
computed from each half of the panel (even and odd samples; ``LDMatrix.weak_ld_halves``),
whose independent noise lets the fits correct the sums for the panel's sampling noise
(:mod:`bayesmix.ld.weak_ld`); that costs a second pass of cross-products over the samples.

``snp_range`` builds rows i..j only (a piece to
:func:`bayesmix.ld.store.merge`), ``tags`` builds a rectangular tag x reference matrix.

Interrupts and resuming: the row blocks run inside :func:`bayesmix.interrupt.deferred`, so a
signal (Ctrl-C, SIGTERM, SIGHUP) stops the build after the running block. With
``checkpoint=FOLDER`` every finished block is appended to that folder
(:class:`bayesmix.checkpoint.Checkpoint`); the interrupted build raises
:class:`bayesmix.interrupt.Interrupted`, and the same call with ``resume=True`` continues
after the last finished block and returns a matrix identical, bit for bit, to an
uninterrupted build (the blocks are the same pure functions of the genotypes).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from bayesmix import __version__, interrupt
from bayesmix.checkpoint import Checkpoint, digest_arrays
from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.kernels.ld import (
    WEAK_COLUMNS,
    correlations_from_products,
    select_block_entries,
    select_from_cross_products,
    split_weak_sums,
    split_weak_sums_from_products,
    symmetrize_upper,
)
from bayesmix.ld import shrunk as ws
from bayesmix.ld.store import LDMatrix

log = logging.getLogger("bayesmix")

KINDS = ("full", "window", "sparse", "r2", "shrunk")
DEFAULT_CHISQ = 10.0
DEFAULT_R2MIN = 0.05
DEFAULT_R2_WINDOW_KB = 10_000.0
#: kinds whose matrices carry per-row weak-LD sums (LDMatrix.weak_ld)
WEAK_LD_KINDS = ("r2",)


@dataclass(frozen=True)
class Window:
    """Which pairs may be stored: |bp distance| <= kb * 1000, |index distance| <= snps,
    |map distance| <= cm (each bound optional; none means the whole chromosome)."""

    kb: float | None = None
    snps: int | None = None
    cm: float | None = None

    def is_bounded(self) -> bool:
        return self.kb is not None or self.snps is not None or self.cm is not None

    def bounds(self, bp: np.ndarray, cm: np.ndarray, row_pos: np.ndarray):
        """Half-open column ranges ``[lo, hi)`` (int64) for rows at column positions ``row_pos``.

        ``bp`` and ``cm`` are the (sorted) positions of the column SNPs.
        """
        m = len(bp)
        lo = np.zeros(len(row_pos), dtype=np.int64)
        hi = np.full(len(row_pos), m, dtype=np.int64)
        if self.kb is not None:
            d = self.kb * 1000.0
            lo = np.maximum(lo, np.searchsorted(bp, bp[row_pos] - d, side="left"))
            hi = np.minimum(hi, np.searchsorted(bp, bp[row_pos] + d, side="right"))
        if self.snps is not None:
            lo = np.maximum(lo, row_pos - self.snps)
            hi = np.minimum(hi, row_pos + self.snps + 1)
        if self.cm is not None:
            lo = np.maximum(lo, np.searchsorted(cm, cm[row_pos] - self.cm, side="left"))
            hi = np.minimum(hi, np.searchsorted(cm, cm[row_pos] + self.cm, side="right"))
        return lo.astype(np.int64), hi.astype(np.int64)

    def as_dict(self) -> dict:
        return {"window_kb": self.kb, "window_snps": self.snps, "window_cm": self.cm}


def build_ld(
    source,
    kind: str = "window",
    *,
    chrom=None,
    snp_range: tuple[int, int] | None = None,
    tags=None,
    window_kb: float | None = None,
    window_snps: int | None = None,
    window_cm: float | None = None,
    chisq: float = DEFAULT_CHISQ,
    r2min: float = DEFAULT_R2MIN,
    gen_map=None,
    cm_per_mb: float | None = None,
    ne: float = ws.DEFAULT_NE,
    genmap_n: int = ws.DEFAULT_GENMAP_N,
    cutoff: float = ws.DEFAULT_CUTOFF,
    dtype: str = "float32",
    missing: str = "mean",
    block_size: int | None = None,
    max_memory_mb: float = 1024.0,
    threads: int | None = None,
    progress=True,
    keep=None,
    remove=None,
    extract=None,
    exclude=None,
    maf: float = 0.0,
    exclude_mhc=None,
    exclude_regions=None,
    checkpoint=None,
    resume: bool = False,
    fingerprint: dict[str, str] | None = None,
    client=None,
    pieces: int | None = None,
    upper_piece: bool = False,
) -> LDMatrix:
    """Build an LD matrix of one chromosome from PLINK genotypes.

    Parameters
    ----------
    source : PLINK prefix, or an opened :class:`bayesmix.io.plink.Genotypes`.
    kind : "full", "window", "sparse", "r2" or "shrunk" (see the module docstring).
    chrom : chromosome to use when the fileset holds several.
    snp_range : (i, j), 1-based inclusive positions of the rows to build (a piece).
    tags : SNP ids of the rows of a rectangular tag x reference matrix (columns = all SNPs).
    window_kb, window_snps, window_cm : window bounds (combined with AND).
    chisq : sparse kind keeps n r^2 >= chisq.  r2min : r2 kind keeps r^2 >= r2min.
    gen_map, cm_per_mb : genetic map (path or table snp/bp/cm) or a constant rate; needed by
        the shrunk kind and by ``window_cm`` when the .bim has no map positions.
    ne, genmap_n, cutoff : Wen-Stephens parameters (effective population size, number of
        individuals behind the map, hard threshold of the shrinkage factor).
    dtype : stored values, "float32" or "int16" (error <= 1.53e-5).
    missing : "mean" (r of mean-imputed counts) or "pairwise" (r over samples observed at
        both SNPs, as ``plink --r``); the same when no call is missing.
    block_size : rows per block (None: a quarter of the median window width, within
        64..512, which keeps the wasted corner of each block small).
    max_memory_mb : bound on cached genotypes (and block temporaries), in MiB.
    threads : BLAS threads (None: the library default).
    progress : True (a bar on a terminal, log lines per 10% elsewhere), False, "bar" or
        "lines" (:mod:`bayesmix.progress`).
    keep, remove, extract, exclude, maf, exclude_mhc, exclude_regions : sample/SNP filters as
        in ``Genotypes.open``.
    checkpoint : folder keeping the finished row blocks (e.g. ``OUT.ckpt``); removed when the
        build finishes. None: an interrupted build keeps nothing.
    resume : continue from an existing ``checkpoint`` (an existing one without ``resume``
        is an :class:`InputError`; ``resume`` without one starts from the beginning).
    fingerprint : the caller's entries that must match for a resume (e.g. input file
        digests and options); the build adds its own (kind, window, thresholds, block size,
        the digests of the SNP and sample tables).
    client : a ``dask.distributed`` client (:func:`bayesmix.distributed.connect`): build the
        rows as ``pieces`` row pieces (``snp_range``), one Dask task each, and merge them;
        the matrix is the serial build's, bit for bit. ``source`` must then be a PLINK prefix
        and the workers must see the same file system: the pieces are written to
        ``checkpoint`` (kept on an interrupt, reused with ``resume``; default a temporary
        folder), then merged here. A worker that dies mid-piece has its piece rebuilt.
    pieces : number of row pieces with a ``client`` (default 4 per worker thread).
    upper_piece : keep only the entries on and right of the diagonal: of the ``snp_range``
        rows (their share of the square matrix's upper triangle, half the arithmetic of a
        full row piece; what the pieces of a ``client`` build are), or without ``snp_range``
        of the whole square matrix (half the memory of the mirrored matrix).
        :func:`~bayesmix.ld.store.merge` mirrors such pieces into the square matrix and
        :func:`~bayesmix.ld.gctb.write_gctb_ldm` writes a whole one's full rows; not an LD
        matrix by itself.

    Raises
    ------
    bayesmix.interrupt.Interrupted : a signal stopped the build after a row block (the
        finished blocks are in ``checkpoint``).
    """
    if kind not in KINDS:
        raise InputError(f"unknown LD kind {kind!r}; choose one of {', '.join(KINDS)}")
    if missing not in ("mean", "pairwise"):
        raise InputError(f"missing must be 'mean' or 'pairwise', not {missing!r}")
    if dtype not in ("float32", "int16"):
        raise InputError(f"--dtype must be float32 or int16, not {dtype!r}")
    Checkpoint.refuse_without_resume(checkpoint, resume)
    if upper_piece and tags is not None:
        raise InputError("upper_piece is a piece of a square matrix: it takes no tags")
    if upper_piece and kind in WEAK_LD_KINDS:
        raise InputError(f"the {kind} kind computes whole rows (their weak-LD sums need the "
                         "full window): build full-row pieces, without upper_piece")
    if client is not None:
        if snp_range is not None:
            raise InputError("--snp builds one piece; on Dask the pieces are made for you "
                             "(--pieces N)")
        if isinstance(source, Genotypes):
            raise InputError("on Dask pass the PLINK prefix (the workers open it), not an "
                             "opened Genotypes")
        return _build_on_dask(
            client, source, kind, pieces=pieces, folder=checkpoint, resume=resume,
            progress=progress, fingerprint=fingerprint, mirror=not upper_piece,
            options=dict(chrom=chrom, tags=tags, window_kb=window_kb, window_snps=window_snps,
                         window_cm=window_cm, chisq=chisq, r2min=r2min, gen_map=gen_map,
                         cm_per_mb=cm_per_mb, ne=ne, genmap_n=genmap_n, cutoff=cutoff,
                         dtype=dtype, missing=missing, block_size=block_size,
                         max_memory_mb=max_memory_mb, threads=threads, keep=keep,
                         remove=remove, extract=extract, exclude=exclude, maf=maf,
                         exclude_mhc=exclude_mhc, exclude_regions=exclude_regions))
    genotypes = _open(source, chrom, keep, remove, extract, exclude, maf, exclude_mhc,
                      exclude_regions)
    use, cm, counts = _usable_snps(genotypes, chrom, kind, window_cm, gen_map, cm_per_mb)
    snps = genotypes.snps

    window = Window(window_kb, window_snps, window_cm)
    if kind == "window" and not window.is_bounded():
        raise InputError("--kind window needs --window-kb, --window-snps or --window-cm")
    if kind == "r2" and not window.is_bounded():
        window = Window(kb=DEFAULT_R2_WINDOW_KB)
    if kind == "shrunk":
        reach = ws.max_shrinkage_distance_cm(ne, genmap_n, cutoff)
        window = Window(window.kb, window.snps, min(window.cm or np.inf, reach))
    if window.cm is not None and np.any(np.diff(cm[use]) < 0):
        raise InputError("genetic map positions decrease along the chromosome; the map and "
                         "the .bim disagree on SNP order", gen_map)
    n = genotypes.n_samples
    min_r2 = {"sparse": chisq / n, "r2": r2min}.get(kind, 0.0)

    col_snps = snps.iloc[use].assign(cm=cm[use], n=snps["n_obs"].to_numpy()[use])
    row_pos, square = _row_positions(col_snps, tags, snp_range)

    transform = None
    if kind == "shrunk":
        def transform(block, rows, cols, variance):
            same = rows[:, None] == cols[None, :]
            return ws.shrink_block(block, variance[rows], variance[cols], cm[use][rows],
                                   cm[use][cols], same, ne=ne, genmap_n=genmap_n, cutoff=cutoff)

    bp = col_snps["bp"].to_numpy(dtype=np.float64)
    lo, hi = window.bounds(bp, col_snps["cm"].to_numpy(), row_pos)
    if block_size is None:
        block_size = int(np.clip(np.median(hi - lo) // 4, 64, 512)) if window.is_bounded() else 512
    own = {"kind": kind, "missing": missing, "min_r2": repr(float(min_r2)),
           "block_size": str(int(block_size)), "max_memory_mb": repr(float(max_memory_mb)),
           **{k: repr(v) for k, v in window.as_dict().items()},
           "rows": digest_arrays(row_pos), "square": str(square),
           "upper_piece": str(bool(upper_piece) and not square),  # square: upper blocks
           "weak_ld": "with halves and fourth moments" if kind in WEAK_LD_KINDS else "False",
           "snps": _table_digest(col_snps), "samples": _table_digest(genotypes.samples)}
    if kind == "shrunk":
        own.update(ne=repr(ne), genmap_n=repr(genmap_n), cutoff=repr(cutoff))
    ckpt = Checkpoint.open(checkpoint, kind="build_ld", resume=resume,
                           fingerprint={**{f"ld.{k}": v for k, v in own.items()},
                                        **(fingerprint or {})})
    whole_rows = kind in WEAK_LD_KINDS     # their weak sums need every pair of the window
    upper = (square or bool(upper_piece)) and not whole_rows
    engine = _BlockEngine(genotypes, use, block_size=block_size, missing=missing,
                          max_memory_mb=max_memory_mb, split_halves=whole_rows and n >= 8)
    indptr, indices, values, weak, halves = engine.run(
        row_pos, lo, hi, min_r2, upper=upper, mirror=upper and square and not upper_piece,
        transform=transform, threads=threads, progress=progress, label=kind, checkpoint=ckpt)
    meta = dict(
        kind=kind, n_samples=n, missing=missing, min_r2=min_r2,
        chisq=chisq if kind == "sparse" else None,
        r2min=r2min if kind == "r2" else None, **window.as_dict(),
        bfile=str(genotypes.prefix), dropped={k: int(v) for k, v in counts.items() if v},
        created_by=f"bayesmix {__version__}",
    )
    if kind == "shrunk":
        meta.update(ne=ne, genmap_n=genmap_n, cutoff=cutoff,
                    gen_map=str(gen_map) if isinstance(gen_map, (str, os.PathLike)) else None,
                    cm_per_mb=cm_per_mb)
    if snp_range is not None:
        meta["snp_range"] = [int(row_pos[0]) + 1, int(row_pos[-1]) + 1]
    if upper_piece:
        meta["upper_piece"] = True
    row_snps = col_snps.iloc[row_pos]
    ld = LDMatrix.from_csr(indptr, indices, values, row_snps, None if square else col_snps,
                           meta=meta, dtype=dtype,
                           **(_weak_arrays(weak, halves) if whole_rows else {}))
    if ckpt is not None:
        ckpt.remove()
    return ld


def _build_on_dask(client, source, kind, *, pieces, folder, resume, progress, fingerprint,
                   mirror, options) -> LDMatrix:
    """:func:`build_ld` as Dask tasks of row pieces, merged (see its ``client``); upper
    pieces are mirrored unless ``mirror`` is False (the upper triangle is then returned)."""
    import json
    import shutil
    import tempfile
    from pathlib import Path

    from bayesmix.distributed import run_tasks, worker_count
    from bayesmix.ld.store import merge

    genotypes = _open(source, options["chrom"], options["keep"], options["remove"],
                      options["extract"], options["exclude"], options["maf"],
                      options["exclude_mhc"], options["exclude_regions"])
    use, _, _ = _usable_snps(genotypes, options["chrom"], kind, options["window_cm"],
                             options["gen_map"], options["cm_per_mb"])
    rows = len(_row_positions(genotypes.snps.iloc[use], options["tags"], None)[0])
    count = min(rows, pieces or 4 * worker_count(client))
    cuts = np.linspace(0, rows, count + 1).round().astype(int)
    ranges = [(int(a) + 1, int(b)) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
    plan = {"kind": kind, "ranges": ranges,
            "options": {k: repr(v) for k, v in sorted(options.items())},
            "snps": _table_digest(genotypes.snps.iloc[use]),
            "samples": _table_digest(genotypes.samples), **(fingerprint or {})}
    temporary = folder is None
    folder = Path(tempfile.mkdtemp(prefix="bayesmix_ld_pieces_") if temporary else folder)
    plan_path = folder / "plan.json"
    if resume and folder.exists() and any(folder.iterdir()) and not plan_path.exists():
        raise InputError("this checkpoint is of a build in one process; resume it without "
                         "--cluster/--dask-scheduler (or delete it)", folder)
    if resume and plan_path.exists():
        if json.loads(plan_path.read_text()) != json.loads(json.dumps(plan)):
            raise InputError("the finished LD pieces were built with other inputs, options or "
                             "piece count; delete the folder to start again", folder)
        log.info("ld: reusing the finished pieces in %s", folder)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        plan_path.write_text(json.dumps(plan, indent=1))
    tasks = [(str(source), kind, piece, str(folder / f"piece_{k:05d}"), options)
             for k, piece in enumerate(ranges)]
    try:
        paths = run_tasks(client, _build_piece, tasks, desc=f"LD ({kind}) pieces",
                          unit="pieces", progress=progress)
        ld = merge((LDMatrix.load(path) for path in paths), mirror=mirror)
    except BaseException:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    return ld


def _build_piece(task) -> str:
    """One Dask task of :func:`_build_on_dask`: rows ``first..last`` saved to ``path`` (a
    piece already there, from a task of the same plan whose worker died after saving it, or
    from the run a ``resume`` continues, is kept)."""
    from pathlib import Path

    source, kind, (first, last), path, options = task
    if not (Path(path) / "meta.json").exists():
        upper = options["tags"] is None and kind not in WEAK_LD_KINDS
        build_ld(source, kind, snp_range=(first, last), upper_piece=upper, progress=False,
                 **options).save(path)
    return path


def _table_digest(table) -> str:
    """sha256 of a table's values (row hashes of pandas), for checkpoint fingerprints."""
    import pandas as pd

    return digest_arrays(pd.util.hash_pandas_object(table, index=False).to_numpy())


def _usable_snps(genotypes, chrom, kind, window_cm, gen_map, cm_per_mb):
    """Positions (into ``genotypes.snps``) of the SNPs LD is computed on, their map
    positions (cM, all SNPs) and the counts of SNPs dropped, by reason (also logged)."""
    snps = genotypes.snps
    counts = dict(genotypes.filter_counts)
    on_chrom = np.ones(len(snps), dtype=bool)
    if chrom is not None:        # already applied by Genotypes.open, not to a given object
        on_chrom = (snps["chr"] == str(chrom)).to_numpy()
        if not on_chrom.all():
            counts["SNPs on other chromosomes"] = int((~on_chrom).sum())
    chroms = snps.loc[on_chrom, "chr"].unique()
    if len(chroms) > 1:
        raise InputError(f"LD is built per chromosome but the SNPs span {len(chroms)} "
                         f"chromosomes; choose one with --chr", f"{genotypes.prefix}.bim")
    polymorphic = ((snps["freq"] > 0) & (snps["freq"] < 1) & (snps["n_obs"] > 0)).to_numpy()
    use = np.flatnonzero(on_chrom & polymorphic)
    if (on_chrom & ~polymorphic).any():
        counts["monomorphic SNPs (r undefined)"] = int((on_chrom & ~polymorphic).sum())
    if len(use) == 0:
        raise InputError("no polymorphic SNPs left to compute LD on", f"{genotypes.prefix}.bim")
    _check_order(genotypes, use)

    cm = snps["cm"].to_numpy(dtype=np.float64)
    if kind == "shrunk" or (window_cm is not None and (gen_map is not None or cm_per_mb is not None)):
        cm, known = ws.genetic_positions(snps, gen_map=gen_map, cm_per_mb=cm_per_mb)
        if (~known[use]).any():
            counts["SNPs without a genetic map position"] = int((~known[use]).sum())
            use = use[known[use]]
    if window_cm is not None and not (cm[use] != 0).any():
        raise InputError("--window-cm needs map positions: the .bim cM column is all 0; pass "
                         "--gen-map FILE or --cm-per-mb RATE", f"{genotypes.prefix}.bim")
    if len(use) == 0:
        raise InputError("no SNPs left to compute LD on", f"{genotypes.prefix}.bim")
    for what, n in counts.items():
        if n:
            log.info("ld: dropped %d %s", n, what)
    return use, cm, counts


def _row_positions(col_snps, tags, snp_range):
    """Column positions of the matrix rows (tags and/or a 1-based range) and squareness."""
    row_pos = np.arange(len(col_snps))
    square = True
    if tags is not None:
        wanted = set(tags)
        row_pos = np.flatnonzero(col_snps["snp"].isin(wanted).to_numpy())
        absent = len(wanted) - len(row_pos)
        if absent:
            log.info("ld: %d tag SNPs are not among the reference SNPs and are skipped", absent)
        if len(row_pos) == 0:
            raise InputError("none of the tag SNPs is among the reference SNPs")
        square = len(row_pos) == len(col_snps)
    if snp_range is not None:
        first, last = snp_range
        if not 1 <= first <= last:
            raise InputError(f"--snp {first}-{last}: expected 1 <= i <= j")
        if first > len(row_pos):
            raise InputError(f"--snp {first}-{last}: only {len(row_pos)} SNPs are available")
        if last > len(row_pos):   # as GCTB: the range ends at the last SNP
            log.info("ld: --snp %d-%d ends past the last of the %d SNPs: rows %d-%d built",
                     first, last, len(row_pos), first, len(row_pos))
        row_pos = row_pos[first - 1:min(last, len(row_pos))]
        square = square and len(row_pos) == len(col_snps)
    return row_pos, square


def _open(source, chrom, keep, remove, extract, exclude, maf, exclude_mhc=None,
          exclude_regions=None) -> Genotypes:
    if isinstance(source, Genotypes):
        return source
    return Genotypes.open(source, chrom=chrom, keep=keep, remove=remove, extract=extract,
                          exclude=exclude, maf=maf, exclude_mhc=exclude_mhc,
                          exclude_regions=exclude_regions)


def _check_order(genotypes: Genotypes, use: np.ndarray) -> None:
    """SNP ids unique and positions non-decreasing, else an error naming the .bim line."""
    snps = genotypes.snps.iloc[use]
    bim = f"{genotypes.prefix}.bim"
    dup = snps["snp"].duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(f"SNP {snps['snp'].iloc[i]} appears twice; remove duplicates "
                         f"(plink --list-duplicate-vars)", bim,
                         int(snps["bed_index"].iloc[i]) + 1, 2)
    bp = snps["bp"].to_numpy()
    bad = np.flatnonzero(np.diff(bp) < 0)
    if len(bad):
        i = int(bad[0]) + 1
        raise InputError(f"SNPs are not sorted by position: {snps['snp'].iloc[i]} at bp "
                         f"{bp[i]} follows bp {bp[i - 1]}; sort them (plink --make-bed)", bim,
                         int(snps["bed_index"].iloc[i]) + 1, 4)


@dataclass
class _Counts:
    """Allele counts of some SNP columns, split for exact integer products.

    The mean-imputed counts are ``x + missing * mean``: ``x`` (n, k) float32 holds the
    observed counts 0/1/2 (0 where imputed), ``missing`` (n, k) float32 0/1 marks imputed
    entries (None when there are none), ``mean`` and ``variance`` (float64, 1/n) describe the
    imputed columns.
    """

    x: np.ndarray
    missing: np.ndarray | None
    mean: np.ndarray
    variance: np.ndarray

    @classmethod
    def from_raw(cls, raw: np.ndarray) -> "_Counts":
        """From raw A1 counts (n, k) float32, Fortran order, NaN for missing calls."""
        missing = np.isnan(raw)
        has_missing = bool(missing.any())
        x = np.asfortranarray(np.where(missing, np.float32(0), raw) if has_missing else raw,
                              dtype=np.float32)
        n = len(raw)
        n_obs = n - missing.sum(axis=0) if has_missing else np.full(raw.shape[1], n)
        total = x.sum(axis=0, dtype=np.float64)                 # exact: integer counts
        sum_sq = np.einsum("ij,ij->j", x, x, dtype=np.float64)
        mean = total / np.maximum(n_obs, 1)
        # imputed entries sit at the mean and add nothing to the sum of squares
        variance = (sum_sq - n_obs * mean * mean) / n
        mask = np.asfortranarray(missing, dtype=np.float32) if has_missing else None
        return cls(x, mask, mean, variance)

    def columns(self, start: int, stop: int) -> "_Counts":
        missing = None if self.missing is None else self.missing[:, start:stop]
        return _Counts(self.x[:, start:stop], missing, self.mean[start:stop],
                       self.variance[start:stop])

    def samples(self, rows: np.ndarray) -> "_Counts":
        """The same columns over the samples ``rows`` only, as a panel of its own (missing
        calls imputed at, and moments taken over, those samples)."""
        raw = self.x[rows]
        if self.missing is not None:
            raw = np.where(self.missing[rows] > 0, np.float32(np.nan), raw)
        return _Counts.from_raw(np.asfortranarray(raw))


def _gemm_dtype(n: int):
    """float32 products of 0/1/2 counts are exact integers while 4 n < 2^24."""
    return np.float32 if 4 * n < 2**24 else np.float64


def _cross(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    dtype = _gemm_dtype(n)
    return u.astype(dtype, copy=False).T @ v.astype(dtype, copy=False)


def imputed_cross_products(a: _Counts, b: _Counts, n: int) -> np.ndarray:
    """Sum over samples of the products of mean-imputed counts, (ka, kb).

    Exact integers (float32) when nothing is missing; float64 with the imputation terms.
    """
    s = _cross(a.x, b.x, n)
    if a.missing is None and b.missing is None:
        return s
    s = s.astype(np.float64)
    if b.missing is not None:
        s += _cross(a.x, b.missing, n) * b.mean[None, :]
    if a.missing is not None:
        s += a.mean[:, None] * _cross(a.missing, b.x, n)
        if b.missing is not None:
            s += np.outer(a.mean, b.mean) * _cross(a.missing, b.missing, n)
    return s


def correlation_block(a: _Counts, b: _Counts, n: int, missing: str = "mean") -> np.ndarray:
    """Pearson r (float64, (ka, kb)) between the count columns of ``a`` and ``b``.

    ``missing="mean"``: r of the mean-imputed counts (the bayesmix convention).
    ``missing="pairwise"``: r over the samples observed at both SNPs (what ``plink --r``
    does); identical when nothing is missing.

    The cross-products of 0/1/2 counts and 0/1 masks are integers below 2^24 for n < 4.19M
    samples, so single-precision GEMM computes them exactly; centring and scaling are done in
    float64, so r is accurate to ~1e-15 before storage.
    """
    if missing == "pairwise" and (a.missing is not None or b.missing is not None):
        def cross(u, v):
            return _cross(u, v, n).astype(np.float64)

        obs_a = 1.0 - a.missing if a.missing is not None else np.ones_like(a.x)
        obs_b = 1.0 - b.missing if b.missing is not None else np.ones_like(b.x)
        n_pair = cross(obs_a, obs_b)
        mean_a = cross(a.x, obs_b) / n_pair
        mean_b = cross(obs_a, b.x) / n_pair
        cov = cross(a.x, b.x) / n_pair - mean_a * mean_b
        var_a = cross(a.x * a.x, obs_b) / n_pair - mean_a**2
        var_b = cross(obs_a, b.x * b.x) / n_pair - mean_b**2
        return cov / np.sqrt(var_a * var_b)
    return r_from_cross_products(imputed_cross_products(a, b, n), a, b, n)


def r_from_cross_products(products: np.ndarray, a: _Counts, b: _Counts, n: int) -> np.ndarray:
    """r (float64) of mean-imputed columns from their cross-products (sums over n samples):
    :func:`bayesmix.kernels.ld.correlations_from_products`."""
    return correlations_from_products(products, a.mean, b.mean, a.variance, b.variance, float(n))


def _read_raw_counts(genotypes: Genotypes, cols: np.ndarray) -> np.ndarray:
    """A1 counts (n, k) float32 of the kept samples with NaN for missing calls (pairwise-complete
    r needs to know which calls were missing)."""
    return genotypes.read(cols, standardize=False, impute=False, dtype=np.float32)


class _BlockEngine:
    """Computes r block by block over rows, reading count columns through a bounded cache."""

    def __init__(self, genotypes: Genotypes, use: np.ndarray, *, block_size: int,
                 max_memory_mb: float, missing: str, split_halves: bool = False):
        self.genotypes = genotypes
        self.missing = missing
        self.use = use
        self.n = genotypes.n_samples
        self.block_size = max(1, int(block_size))
        # split_halves: also the weak-LD sums of each half of the panel (even / odd samples)
        self.halves = ((np.arange(0, self.n, 2), np.arange(1, self.n, 2)) if split_halves
                       else None)
        budget = max_memory_mb * 2**20
        # cached columns (counts + mask: 8n bytes each) and float64 block temporaries (3 x 8B,
        # and 3 more for the r of the whole panel and of its halves)
        per_column = 8 * self.n + (48 if split_halves else 24) * self.block_size
        capacity = int((budget - 8 * self.n * self.block_size) // per_column)
        self.capacity = max(capacity, self.block_size)
        self.variance = np.full(len(use), np.nan)
        freq = genotypes.snps["freq"].to_numpy(dtype=np.float64)[use]
        self.het = 2.0 * freq * (1.0 - freq)   # H_i of the columns, weights of the weak sums
        self._start = self._stop = 0
        self._cache: _Counts | None = None

    def read(self, cols: np.ndarray) -> _Counts:
        counts = _Counts.from_raw(_read_raw_counts(self.genotypes, self.use[cols]))
        self.variance[cols] = counts.variance
        return counts

    def columns(self, start: int, stop: int) -> _Counts:
        """Count columns ``start .. stop - 1`` (views into the cache)."""
        if self._cache is not None and self._start <= start and stop <= self._stop:
            return self._cache.columns(start - self._start, stop - self._start)
        new_stop = min(max(stop, start + self.capacity), len(self.use))
        parts = []
        reuse_stop = start
        if self._cache is not None and self._start <= start < self._stop:
            reuse_stop = min(self._stop, new_stop)
            parts.append(self._cache.columns(start - self._start, reuse_stop - self._start))
        self._cache = None
        if reuse_stop < new_stop:
            parts.append(self.read(np.arange(reuse_stop, new_stop)))
        self._cache = _concat_counts(parts, self.n)
        self._start, self._stop = start, new_stop
        return self._cache.columns(0, stop - start)

    def _select(self, row_data, col_data, rows, block_lo, block_hi, s, e, min_r2, transform):
        """Entries of one (row block, column chunk) pair that go into the matrix, and the
        rows' weak-LD sums over the chunk (see :func:`select_block_entries`)."""
        diag = rows.astype(np.int64)
        col_het = self.het[s:e]
        fused = transform is None and (self.missing == "mean" or (
            row_data.missing is None and col_data.missing is None))
        if fused:     # r computed inside the selection kernel, only within the window
            products, halves = self._cross_products(row_data, col_data)
            selected = select_from_cross_products(
                products, row_data.mean, 1.0 / np.sqrt(row_data.variance), col_data.mean,
                1.0 / np.sqrt(col_data.variance), 1.0 / self.n, block_lo, block_hi, s, diag,
                min_r2, col_het, self.n)
            if halves is None:
                return selected + (None,)
            part_products, part_rows, part_cols = halves
            return selected + (split_weak_sums_from_products(
                products, (row_data.mean, col_data.mean),
                (row_data.variance, col_data.variance), float(self.n), part_products,
                (np.stack([a.mean for a in part_rows]), np.stack([b.mean for b in part_cols])),
                (np.stack([a.variance for a in part_rows]),
                 np.stack([b.variance for b in part_cols])),
                self._half_sizes(), block_lo, block_hi, s, diag, min_r2, col_het, self.n),)
        block = correlation_block(row_data, col_data, self.n, self.missing)
        if transform is not None:
            block = transform(block, rows, np.arange(s, e), self.variance)
        block = np.ascontiguousarray(block, dtype=np.float32)
        selected = select_block_entries(block, block_lo, block_hi, s, diag, min_r2, col_het,
                                        self.n)
        if self.halves is None:
            return selected + (None,)
        with np.errstate(invalid="ignore", divide="ignore"):  # monomorphic in a half: NaN
            half_r = np.stack([correlation_block(row_data.samples(h), col_data.samples(h),
                                                 len(h), self.missing) for h in self.halves])
        return selected + (split_weak_sums(block, half_r, block_lo, block_hi, s, diag, min_r2,
                                           col_het, self._half_sizes(), self.n),)

    def _half_sizes(self) -> np.ndarray:
        return np.array([len(h) for h in self.halves], dtype=np.float64)

    def _cross_products(self, row_data: _Counts, col_data: _Counts):
        """The whole panel's cross-products (B, C) of mean-imputed counts and, when the engine
        splits halves, ``(products (2, B, C), the halves' row counts, their column counts)``
        (else None). Without missing calls the whole panel's products are the sum of the
        halves' (exact integers in float32, :func:`_gemm_dtype`), so each sample enters one
        product instead of two."""
        if self.halves is None:
            return np.ascontiguousarray(imputed_cross_products(row_data, col_data, self.n)), None
        part_rows = [row_data.samples(h) for h in self.halves]
        part_cols = [col_data.samples(h) for h in self.halves]
        exact = row_data.missing is None and col_data.missing is None
        dtype = _gemm_dtype(self.n) if exact else np.float64
        parts = np.empty((len(self.halves), len(row_data.mean), len(col_data.mean)), dtype)
        for h, (a, b) in enumerate(zip(part_rows, part_cols)):
            if exact:
                np.matmul(a.x.astype(dtype, copy=False).T, b.x.astype(dtype, copy=False),
                          out=parts[h])
            else:
                parts[h] = imputed_cross_products(a, b, len(self.halves[h]))
        products = (parts.sum(axis=0) if exact else
                    np.ascontiguousarray(imputed_cross_products(row_data, col_data, self.n)))
        return products, (parts, part_rows, part_cols)

    def run(self, row_pos, lo, hi, min_r2, *, upper, mirror, transform, threads, progress,
            label, checkpoint: Checkpoint | None = None):
        """CSR arrays (indptr, indices, values float32) of the selected entries, and per row
        the weak-LD sums of the window's entries left out ((n_rows, 2) float64, see
        :func:`select_block_entries`; None with ``upper``,
        whose rows see only part of their window), and (n_rows, 2) those sums from each half
        of the panel (None unless the engine splits halves).

        ``upper``: only the entries on and right of the diagonal (rows are then consecutive
        columns); ``mirror`` (with ``upper``, rows = all columns): mirrored into the full
        matrix at the end.
        Row blocks already in ``checkpoint`` are read back, the others computed and appended
        to it; a stop request (:func:`bayesmix.interrupt.requested`) raises
        :class:`~bayesmix.interrupt.Interrupted` after the running block, or within it
        between column chunks (the unfinished block is dropped and recomputed on resume).
        """
        from threadpoolctl import threadpool_limits

        from bayesmix.progress import Progress

        row_counts, row_weak, row_halves = [], [], []
        indices, values = _GrowingArray(np.int32), _GrowingArray(np.float32)
        first = 0
        if checkpoint is not None and checkpoint.resumed:
            first = int(checkpoint.state["rows_done"])
            row_counts.append(checkpoint.array("counts"))
            indices.extend(checkpoint.array("indices"))
            values.extend(checkpoint.array("values"))
            row_weak.append(checkpoint.array("weak").reshape(-1, WEAK_COLUMNS))  # stored flat
            if self.halves is not None:   # two sums per row
                row_halves.append(checkpoint.array("weak_halves").reshape(-1, 2))
            log.info("ld: %d of %d rows restored from the checkpoint", first, len(row_pos))
        bar = Progress(len(row_pos), desc=f"LD ({label})", unit="SNPs", progress=progress,
                       initial=first)
        with threadpool_limits(limits=threads, user_api="blas"), bar, interrupt.deferred():
            for a in range(first, len(row_pos), self.block_size):
                b = min(a + self.block_size, len(row_pos))
                rows = row_pos[a:b]
                block_lo = np.maximum(lo[a:b], rows) if upper else lo[a:b]
                col_start, col_end = int(block_lo.min()), int(hi[a:b].max())
                row_data = None if upper else self.read(rows)
                chunks = []
                s = col_start
                while s < col_end:
                    if interrupt.requested():   # a chromosome-wide block can take long:
                        raise interrupt.Interrupted(interrupt.requested_signal())  # drop it
                    e = min(s + self.capacity, col_end)
                    col_data = self.columns(s, e)
                    if row_data is None:     # upper: rows a..b-1 are the first columns
                        row_data = _concat_counts([col_data.columns(0, b - a)], self.n)
                    chunks.append(self._select(row_data, col_data, rows, block_lo, hi[a:b],
                                               s, e, min_r2, transform))
                    s = e
                counts, block_indices, block_values, weak, halves = _merge_row_chunks(chunks,
                                                                                     b - a)
                row_counts.append(counts)
                indices.extend(block_indices)
                values.extend(block_values)
                row_weak.append(weak)
                arrays = {"counts": counts.astype(np.int64), "indices": block_indices,
                          "values": block_values, "weak": weak}
                if halves is not None:
                    row_halves.append(halves)
                    arrays["weak_halves"] = halves
                if checkpoint is not None:
                    checkpoint.append(arrays, {"rows_done": b, "n_rows": len(row_pos)})
                bar.update(b - a)
                if interrupt.requested():
                    raise interrupt.Interrupted(interrupt.requested_signal())
        counts = np.concatenate(row_counts)
        indptr = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices, values = indices.finish(), values.finish()
        weak = None if upper else np.concatenate(row_weak)
        halves = np.concatenate(row_halves) if row_halves and not upper else None
        if mirror:
            indptr, indices, values = symmetrize_upper(indptr, indices, values)
        return indptr, indices, values, weak, halves


class _GrowingArray:
    """A 1-d array appended to block by block without a second copy of what it holds: it
    grows by ``ndarray.resize`` (realloc, which remaps a large buffer's pages instead of
    copying them), so the blocks are freed as they are added and never concatenated. numpy
    zero-fills what a resize adds, so it grows by 1/4 at a time (at most 25% held unused)."""

    def __init__(self, dtype):
        self._array = np.empty(1 << 16, dtype=dtype)
        self._size = 0

    def extend(self, block: np.ndarray) -> None:
        end = self._size + len(block)
        if end > len(self._array):
            self._array.resize(max(end, len(self._array) * 5 // 4), refcheck=False)
        self._array[self._size:end] = block
        self._size = end

    def finish(self) -> np.ndarray:
        """The values appended (the buffer shrunk to them; the object is done)."""
        self._array.resize(self._size, refcheck=False)
        return self._array


def _weak_arrays(weak, halves) -> dict:
    """The LDMatrix weak-LD arrays (:data:`bayesmix.ld.store.WEAK_ARRAYS`) from the engine's
    sums (:data:`bayesmix.kernels.ld.WEAK_COLUMNS`) and those of the panel's halves."""
    return {"weak_ld": np.maximum(weak[:, 0], 0.0), "weak_ld4": np.maximum(weak[:, 1], 0.0),
            "weak_ld_halves": halves}


def _concat_counts(parts: list[_Counts], n: int) -> _Counts:
    """Copy column parts into one new _Counts (so cached views do not pin old buffers)."""
    x = np.asfortranarray(np.concatenate([p.x for p in parts], axis=1))
    if any(p.missing is not None for p in parts):
        missing = np.asfortranarray(np.concatenate(
            [p.missing if p.missing is not None else np.zeros((n, p.x.shape[1]), np.float32)
             for p in parts], axis=1))
    else:
        missing = None
    return _Counts(x, missing, np.concatenate([p.mean for p in parts]),
                   np.concatenate([p.variance for p in parts]))


def _merge_row_chunks(chunks, n_rows):
    """Interleave per-row entries of consecutive column chunks (each ascending) by row;
    the rows' weak-LD sums (and those of the panel's halves, or None) add up over the
    chunks."""
    if not chunks:
        return (np.zeros(n_rows, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32),
                np.zeros((n_rows, WEAK_COLUMNS)), None)
    if len(chunks) == 1:
        return chunks[0]
    counts = np.sum([c[0] for c in chunks], axis=0)
    weak = np.sum([c[3] for c in chunks], axis=0)
    halves = None if chunks[0][4] is None else np.sum([c[4] for c in chunks], axis=0)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    done = np.zeros(n_rows, dtype=np.int64)
    indices = np.empty(offsets[-1], dtype=np.int32)
    values = np.empty(offsets[-1], dtype=np.float32)
    for chunk_counts, chunk_indices, chunk_values, *_ in chunks:
        chunk_offsets = np.concatenate([[0], np.cumsum(chunk_counts)])
        within = np.arange(len(chunk_indices)) - np.repeat(chunk_offsets[:-1], chunk_counts)
        target = np.repeat(offsets[:-1] + done, chunk_counts) + within
        indices[target] = chunk_indices
        values[target] = chunk_values
        done += chunk_counts
    return counts, indices, values, weak, halves
