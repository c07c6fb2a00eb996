"""Positive semi-definite repair of an indefinite LD matrix, block by block.

Thresholded (GCTB "sparse") or window-cut LD from a small panel can be far from positive
semi-definite: the summary-data models then let effects grow without bound along the negative
directions. A ridge lifts the smallest eigenvalue but, when it is very negative (-5 on a
503-person panel), shrinks all LD so much that hsq is biased. :func:`nearest_psd_blocks`
instead

1. cuts the SNPs into contiguous blocks of about ``block_size`` SNPs, each cut placed where
   the least LD crosses it (the smallest sum of r^2 over stored pairs (i, j) with
   i < cut <= j, searched between half and one and a half block sizes from the last cut);
2. replaces each block by its nearest positive semi-definite matrix in Frobenius norm
   (eigenvalues below 0 set to 0), rescaled to a unit diagonal (a correlation matrix);
3. drops the entries between blocks.

The result is block-diagonal and positive semi-definite; a block that was already positive
semi-definite and had no entry outside itself is returned unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesmix.kernels.ld_band import dense_band_block
from bayesmix.kernels.ld_spectrum import crossing_r2, dense_block
from bayesmix.ld.store import LDMatrix

DEFAULT_BLOCK_SIZE = 1000
#: share of negative eigenvalues of a block from which the next block is decomposed in full
#: (computing that many eigenpairs alone costs more; break-even measured near 30%)
MANY_NEGATIVE = 0.25


@dataclass
class RepairReport:
    """What :func:`nearest_psd_blocks` changed.

    Attributes
    ----------
    n_blocks : number of blocks.
    clipped : sum of the negative eigenvalues set to 0 (<= 0).
    r2_dropped : sum of r^2 over the stored pairs between blocks (each pair counted once).
    """

    n_blocks: int
    clipped: float
    r2_dropped: float


def block_cuts(ld: LDMatrix, block_size: int = DEFAULT_BLOCK_SIZE) -> np.ndarray:
    """Block bounds (int64, from 0 to M) for :func:`nearest_psd_blocks` (module docstring)."""
    return _cuts_and_total(ld, block_size)[0]


def _stored(ld: LDMatrix) -> tuple:
    """(indptr, columns, values, value_scale): the stored arrays, read in place, CSR
    (columns = indices) or band (indptr, columns = row_ptr, first)."""
    return (np.asarray(ld.indptr), ld.row_first if ld.is_band else np.asarray(ld.indices),
            np.asarray(ld.data), float(ld.scale) if ld.data.dtype == np.int16 else 1.0)


def _cuts_and_total(ld: LDMatrix, block_size: int) -> tuple[np.ndarray, float]:
    """The block bounds and the sum of r^2 over stored pairs i < j, from one pass over the
    stored entries (no copy of the matrix)."""
    m = ld.shape[0]
    crossing, total = crossing_r2(*_stored(ld), ld.is_band)
    cuts = [0]
    while m - cuts[-1] > 1.5 * block_size:
        candidates = np.arange(cuts[-1] + block_size // 2, cuts[-1] + 3 * block_size // 2)
        cuts.append(int(candidates[np.argmin(crossing[candidates])]))
    cuts.append(m)
    return np.asarray(cuts, dtype=np.int64), float(total)


def nearest_psd_blocks(ld: LDMatrix, block_size: int = DEFAULT_BLOCK_SIZE
                       ) -> tuple[LDMatrix, RepairReport]:
    """The block-diagonal, positive semi-definite repair of a square LD matrix (module
    docstring), stored like ``ld`` (same SNPs, dtype and panel size; ``meta["repaired"]``
    records the block size; a band-layout input gives CSR). The stored arrays, CSR or band,
    are read in place and one block at a time is dense (float64), so the extra memory is the
    repaired matrix's CSR arrays and one block, not a copy of the input.

    The nearest PSD block V max(Lambda, 0) V' is the block minus V_- Lambda_- V_-' over the
    non-positive eigenpairs. Where few eigenvalues are negative (LD of a large panel) only
    those pairs are computed (LAPACK's MRRR driver, ``evr``: the reduction to tridiagonal
    form plus work in proportion to their number); after a block with at least
    :data:`MANY_NEGATIVE` of its eigenvalues negative (thresholded LD of a small panel),
    where that costs more than a full decomposition (divide and conquer), the next block is
    decomposed in full. Measured on one thread: shrunk-then-banded LD of a 1,000-person panel
    (23 blocks, 0.1% of the eigenvalues negative) 4.8 instead of 8.6 s; GCTB-style sparse LD
    of the 503-person chr22 panel (36% negative) 1.8-2.1 instead of 2.5-3.0 s; a random band
    with half its eigenvalues negative (benchmarks/ld_repair_memory.py, two threads) 5.8
    instead of 5.2 s, its first block paying for the subset."""
    from scipy.linalg import eigh

    if not ld.is_square:
        raise ValueError("nearest_psd_blocks needs a square LD matrix")
    cuts, total_r2 = _cuts_and_total(ld, block_size)
    stored = _stored(ld)
    block_of = dense_band_block if ld.is_band else dense_block
    row_counts, indices, values = [], [], []
    clipped = 0.0
    kept_r2 = 0.0
    only_negative = True
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        block = block_of(*stored, lo, hi)
        block = 0.5 * (block + block.T)
        kept_r2 += 0.5 * float((block * block).sum() - (np.diag(block) ** 2).sum())
        if only_negative:
            negative, vectors = eigh(block, subset_by_value=(-np.inf, 0.0), driver="evr",
                                     check_finite=False)
        else:
            eigenvalues, vectors = np.linalg.eigh(block)
            negative, vectors = (eigenvalues[eigenvalues <= 0.0],
                                 vectors[:, eigenvalues <= 0.0])
        only_negative = len(negative) < MANY_NEGATIVE * (hi - lo)
        if len(negative) and negative[0] < 0.0:
            clipped += float(negative[negative < 0.0].sum())
            block -= (vectors * negative) @ vectors.T
            scale = 1.0 / np.sqrt(np.diag(block))
            block *= np.outer(scale, scale)
            row_counts.append(np.full(hi - lo, hi - lo))  # a repaired block is dense
            indices.append(np.tile(np.arange(lo, hi, dtype=np.int32), hi - lo))
            values.append(block.astype(np.float32).ravel())
        else:  # a block left unchanged keeps its sparsity
            kept = block != 0.0
            row_counts.append(kept.sum(axis=1))
            indices.append((np.nonzero(kept)[1] + lo).astype(np.int32))
            values.append(block[kept].astype(np.float32))
    indptr = np.zeros(ld.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.concatenate(row_counts), out=indptr[1:])
    meta = dict(ld.meta, repaired={"method": "nearest_psd_blocks", "block_size": block_size})
    report = RepairReport(n_blocks=len(cuts) - 1, clipped=clipped,
                          r2_dropped=max(total_r2 - kept_r2, 0.0))
    repaired = LDMatrix.from_csr(indptr, np.concatenate(indices), np.concatenate(values),
                                 ld.snps, meta=meta, dtype=ld.dtype)
    return repaired, report
