"""Random-pruning weights of tag SNPs (MiXeR): w_j = share of T random passes keeping j.

Each pass visits the tag SNPs in a random order and keeps a SNP unless a SNP kept earlier in
the pass has r^2 >= ``max_r2`` with it, so the kept SNPs of a pass are in approximate linkage
equilibrium. Averaging over passes down-weights SNPs in strong LD blocks without the
arbitrariness of one pruning.

:func:`high_ld_filter` is GCTB's ``--rsq`` filter for summary-data runs: one deterministic
greedy pass in LD order that drops SNPs until no two kept SNPs have r^2 above a threshold,
preferring the more significant SNP of a pair (rule: :func:`high_ld_filter`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.kernels.ld import prune_pass
from bayesmix.ld.store import LDMatrix

DEFAULT_PASSES = 64
DEFAULT_MAX_R2 = 0.1


def _pruning_arrays(ld: LDMatrix, max_r2: float):
    """(indptr int64, indices, r, column -> row map) of ``ld`` for :func:`prune_pass`, after
    checking that the matrix stores every pair with r^2 >= ``max_r2``."""
    min_r2 = float(ld.meta.get("min_r2", 0.0) or 0.0)
    if min_r2 > max_r2:
        raise InputError(f"the LD matrix only stores r^2 >= {min_r2:g}, so pruning at r^2 "
                         f"{max_r2:g} would miss pairs; rebuild it with a lower threshold")
    indptr, indices, r = ld.csr_arrays()
    col_to_row = pd.Index(ld.snps["snp"]).get_indexer(ld.ref_snps["snp"]).astype(np.int64)
    return np.asarray(indptr, dtype=np.int64), indices, r, col_to_row


def random_pruning_weights(ld: LDMatrix, *, n_passes: int = DEFAULT_PASSES,
                           max_r2: float = DEFAULT_MAX_R2, seed=0,
                           eligible: np.ndarray | None = None) -> np.ndarray:
    """Weights in [0, 1] (float64), one per row (tag) SNP of ``ld``.

    Parameters
    ----------
    ld : LD matrix whose rows are the tag SNPs; r^2 between tags is read from the stored
        entries (a column is matched to a row by SNP id), so the matrix must store every pair
        with r^2 >= ``max_r2`` (its threshold ``meta['min_r2']`` must not exceed ``max_r2``).
    n_passes : number of random passes T.
    max_r2 : r^2 at or above which a kept SNP removes another.
    seed : seed or ``numpy.random.Generator``; the same seed gives the same weights.
    eligible : optional bool mask of rows that may be kept (e.g. SNPs with a z-score);
        ineligible rows get weight 0 and do not prune others.
    """
    if n_passes < 1:
        raise InputError(f"the number of pruning passes must be >= 1, not {n_passes}")
    indptr, indices, r, col_to_row = _pruning_arrays(ld, max_r2)
    n_rows = ld.shape[0]
    eligible = np.ones(n_rows, dtype=bool) if eligible is None else np.asarray(eligible, bool)
    rng = np.random.default_rng(seed)
    total = np.zeros(n_rows, dtype=np.int64)
    kept = np.zeros(n_rows, dtype=np.int64)
    for _ in range(n_passes):
        kept[:] = 0
        prune_pass(indptr, indices, r, rng.permutation(n_rows), col_to_row, eligible, max_r2,
                   kept)
        total += kept
    return total / n_passes


def random_pruned_subset(lds, *, max_r2: float = 0.8, min_maf: float = 0.05,
                         subset: int | None = None, seed=0, eligible=None) -> list[np.ndarray]:
    """MiXeR's ``snps``: a random, LD-pruned subset of the SNPs of square LD matrices.

    Every SNP of every matrix in ``lds`` (e.g. one per chromosome, in that order) gets one
    uniform random number u from ``seed``; then

    1. candidates: SNPs with minor allele frequency >= ``min_maf`` (from ``snps['freq']``)
       and, with ``eligible`` (one bool array per matrix), marked eligible;
    2. subset: the ``subset`` candidates with the smallest u (all when there are fewer or
       ``subset`` is None) -- a uniformly random subset;
    3. pruning: within each matrix, the subset is visited in increasing u (a uniformly random
       order) and a SNP is kept unless a SNP kept before it has r^2 >= ``max_r2`` with it
       (one pass of :func:`random_pruning_weights`; MiXeR's ``perform_ld_clump`` on random
       ranks).

    Parameters
    ----------
    lds : square :class:`LDMatrix` objects storing every pair with r^2 >= ``max_r2``.
    max_r2 : r^2 (of the stored r, allelic correlation) at or above which a kept SNP removes
        another; 1 keeps only exact duplicates apart.
    min_maf : minor allele frequency threshold (0 keeps every SNP).
    subset : number of SNPs drawn before pruning (None: every candidate).
    seed : seed or ``numpy.random.Generator``; the same seed gives the same subset.
    eligible : optional list of bool arrays (rows of each matrix that may be drawn).

    Returns one bool array per matrix, True for the SNPs kept.
    """
    lds = list(lds)
    rng = np.random.default_rng(seed)
    u = rng.random(sum(ld.shape[0] for ld in lds))
    candidate = []
    for k, ld in enumerate(lds):
        if not ld.is_square:
            raise InputError("a random pruned subset needs square LD matrices (the reference "
                             "SNPs of each chromosome)")
        freq = ld.snps["freq"].to_numpy(dtype=np.float64)
        ok = np.minimum(freq, 1.0 - freq) >= min_maf
        if eligible is not None:
            ok &= np.asarray(eligible[k], dtype=bool)
        candidate.append(ok)
    candidate_all = np.concatenate(candidate) if candidate else np.zeros(0, bool)
    chosen = candidate_all.copy()
    if subset is not None and candidate_all.sum() > subset:
        ranks = np.flatnonzero(candidate_all)
        drawn = ranks[np.argsort(u[ranks], kind="stable")[:subset]]
        chosen[:] = False
        chosen[drawn] = True
    kept_all, offset = [], 0
    for ld in lds:
        rows = ld.shape[0]
        mine, order = chosen[offset:offset + rows], np.argsort(u[offset:offset + rows],
                                                               kind="stable")
        indptr, indices, r, col_to_row = _pruning_arrays(ld, max_r2)
        kept = np.zeros(rows, dtype=np.int64)
        prune_pass(indptr, indices, r, order.astype(np.int64), col_to_row, mine, max_r2, kept)
        kept_all.append(kept.astype(bool))
        offset += rows
    return kept_all


def high_ld_filter(ld: LDMatrix, rsq_threshold: float, priority=None, *,
                   compare_with_removed: bool | None = None) -> tuple[np.ndarray, int]:
    """GCTB's ``--rsq`` filter: drop SNPs until no two kept SNPs have r^2 > ``rsq_threshold``.

    The rule of GCTB's ``Data::filterSnpByLDrsq`` (summary-data runs; GCTB applies it when
    ``--rsq`` < 1, after matching the GWAS and LD SNPs, then re-reads the LD of the SNPs kept):
    one greedy pass over the SNPs in LD-matrix order. For each SNP i not yet removed, and each
    stored entry j != i of row i in ascending column order with r_ij^2 > ``rsq_threshold``
    (strictly greater; r decoded from the stored value, squared in float64):

    - if ``priority[i] < priority[j]``, j is removed (i keeps the smaller priority: GCTB
      passes the GWAS p-value, so the more significant SNP of the pair is kept);
    - otherwise (larger or EQUAL priority) i is removed. With ties (e.g. ``priority=None``)
      the row SNP i goes, so of a high-LD group the SNP latest in matrix order is kept.

    The scan of row i continues after i has been removed (so i can still remove later
    partners with a larger priority), as in GCTB. Removed j are skipped
    (``compare_with_removed=False``, GCTB's rule for full, band and shrunk LD, held densely)
    or still compared (``True``, GCTB's rule for ``.ldm.sparse`` matrices: a removed j with a
    smaller or equal priority still removes i). ``None`` picks GCTB's choice from
    ``ld.kind`` (True for "sparse"). Either way no two kept SNPs have a stored r^2 above the
    threshold.

    Parameters
    ----------
    ld : square LD matrix (r); only stored entries are seen, so it must store every pair with
        r^2 > ``rsq_threshold`` (its ``meta['min_r2']`` must not exceed the threshold).
    rsq_threshold : r^2 threshold, >= 0 (GCTB's ``--rsq``; 1 or more removes nothing).
    priority : float[M] in LD order, smaller = preferred (GWAS p-values); None = all equal.
    compare_with_removed : see above.

    Returns
    -------
    kept : bool[M], True for the SNPs kept.
    n_dropped : number of SNPs removed.
    """
    from bayesmix.kernels.ld_filter import high_ld_filter_pass

    if not ld.is_square:
        raise ValueError("high_ld_filter needs a square LD matrix (the SNPs of one analysis)")
    rsq_threshold = float(rsq_threshold)
    if not rsq_threshold >= 0:
        raise InputError(f"the LD r^2 threshold must be >= 0, not {rsq_threshold:g}")
    min_r2 = float(ld.meta.get("min_r2", 0.0) or 0.0)
    if min_r2 > rsq_threshold:
        raise InputError(f"the LD matrix only stores r^2 >= {min_r2:g}, so filtering at r^2 "
                         f"{rsq_threshold:g} would miss pairs; rebuild it with a lower threshold")
    m = ld.shape[0]
    if priority is None:
        priority = np.zeros(m)
    priority = np.asarray(priority, dtype=np.float64)
    if priority.shape != (m,):
        raise ValueError(f"priority has shape {priority.shape}, expected ({m},)")
    if np.isnan(priority).any():
        first = int(np.flatnonzero(np.isnan(priority))[0])
        raise InputError(f"the priority (p-value) of SNP {ld.snps['snp'].iloc[first]} is NaN")
    if compare_with_removed is None:
        compare_with_removed = ld.kind == "sparse"
    kept = np.ones(m, dtype=np.bool_)
    high_ld_filter_pass(np.asarray(ld.indptr), np.asarray(ld.indices), np.asarray(ld.data),
                        float(ld.scale), priority, rsq_threshold, bool(compare_with_removed),
                        kept)
    return kept, int(m - kept.sum())
