"""Random-pruning weights of tag SNPs (MiXeR): w_j = share of T random passes keeping j.

Each pass visits the tag SNPs in a random order and keeps a SNP unless a SNP kept earlier in
the pass has r^2 >= ``max_r2`` with it, so the kept SNPs of a pass are in approximate linkage
equilibrium. Averaging over passes down-weights SNPs in strong LD blocks without the
arbitrariness of one pruning.
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
