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
    min_r2 = float(ld.meta.get("min_r2", 0.0) or 0.0)
    if min_r2 > max_r2:
        raise InputError(f"the LD matrix only stores r^2 >= {min_r2:g}, so pruning at r^2 "
                         f"{max_r2:g} would miss pairs; rebuild it with a lower threshold")
    if n_passes < 1:
        raise InputError(f"the number of pruning passes must be >= 1, not {n_passes}")
    indptr, indices, r = ld.csr_arrays()
    indptr = np.asarray(indptr, dtype=np.int64)
    n_rows = ld.shape[0]
    col_to_row = pd.Index(ld.snps["snp"]).get_indexer(ld.ref_snps["snp"]).astype(np.int64)
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
