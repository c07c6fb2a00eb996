"""numba kernels for the spectrum of a square, symmetric LD matrix, on its STORED CSR arrays.

The arrays are used as stored: ``values`` int16 codes (r = code * ``value_scale``) or float32 r
(``value_scale`` = 1), ``indptr`` int32/int64, ``indices`` int32 ascending within a row. No
float64 copy of the matrix is made. A *block* is a contiguous range of rows ``lo .. lo + n - 1``
whose stored columns all lie in the same range (an independent LD block, see
:func:`bayesmix.kernels.sbayes.independent_blocks`; the whole matrix is the block ``lo = 0``,
``n = M``). Products are accumulated in float64.
"""

from __future__ import annotations

import numpy as np

from bayesmix.kernels.jit import njit

#: entries of a row handled as one piece by :func:`symmetric_block_matvec`
SEGMENT = 64


@njit
def upper_starts(indptr, indices, lo, hi):
    """Per row i of the block ``lo .. hi - 1``: the position of its first stored column >= i
    (the diagonal when stored), found by bisection (columns ascend within a row)."""
    out = np.empty(hi - lo, dtype=np.int64)
    for i in range(lo, hi):
        a, b = indptr[i], indptr[i + 1]
        while a < b:
            mid = (a + b) // 2
            if indices[mid] < i:
                a = mid + 1
            else:
                b = mid
        out[i - lo] = a
    return out


@njit
def _run_product(values, x, out, xi):
    """sum_k values[k] x[k], adding values[k] xi to out[k] (one run of columns; slices, so
    the loop has no index arithmetic and vectorises)."""
    acc = 0.0
    for k in range(values.shape[0]):
        v = np.float64(values[k])
        acc += v * x[k]
        out[k] += v * xi
    return acc


@njit
def symmetric_block_matvec(indptr, starts, indices, values, value_scale, lo, x, out):
    """``out = R_block @ x`` for the block of rows/columns ``lo .. lo + len(x) - 1`` of a
    symmetric matrix, reading only its upper triangle (``starts`` from :func:`upper_starts`).

    Each stored R_ij with j > i adds R_ij x_j to out_i and R_ij x_i to out_j, so every value
    is read once per product: half the memory traffic of a row-by-row product. A row is read
    in segments of :data:`SEGMENT` entries; a segment whose columns are one contiguous run
    (most of window, band, shrunk and full LD) is read without its column indices, as two
    loops over contiguous memory that vectorise.
    ``x`` and ``out`` are float64[n]; sums are accumulated in float64.
    """
    n = x.shape[0]
    out[:] = 0.0
    for i in range(n):
        row = lo + i
        p, end = starts[i], indptr[row + 1]
        xi = x[i]
        acc = 0.0
        if p < end and indices[p] == row:
            acc = np.float64(values[p]) * xi
            p += 1
        while p < end:
            # the rest of the row when it is one run of columns, else SEGMENT entries
            length = end - p
            if indices[end - 1] - indices[p] != length - 1:
                length = min(SEGMENT, length)
            first = indices[p] - lo
            if indices[p + length - 1] - lo - first == length - 1:
                acc += _run_product(values[p:p + length], x[first:first + length],
                                    out[first:first + length], xi)
            else:
                for q in range(p, p + length):
                    j = indices[q] - lo
                    v = np.float64(values[q])
                    acc += v * x[j]
                    out[j] += v * xi
            p += length
        out[i] += acc
    for i in range(n):
        out[i] *= value_scale


@njit
def dense_block(indptr, indices, values, value_scale, lo, hi):
    """The rows/columns ``lo .. hi - 1`` as a dense float64 array (small blocks only); stored
    entries of these rows in other columns are left out."""
    n = hi - lo
    out = np.zeros((n, n))
    for i in range(n):
        for p in range(indptr[lo + i], indptr[lo + i + 1]):
            j = indices[p]
            if lo <= j < hi:
                out[i, j - lo] = values[p] * value_scale
    return out


@njit
def crossing_r2(indptr, columns, values, value_scale, is_band=False):
    """(crossing, total) of the stored upper triangle: crossing[c] (c = 0..M) is the sum of
    r_ij^2 over stored pairs i < c <= j, total the sum of r_ij^2 over all stored i < j.
    CSR (``columns`` = indices) or, with ``is_band``, the band layout of
    :func:`~bayesmix.kernels.sbayes.band_from_csr` (``indptr, columns`` = row_ptr, first)."""
    m = indptr.shape[0] - 1
    change = np.zeros(m + 1)
    total = 0.0
    for i in range(m):
        for p in range(indptr[i], indptr[i + 1]):
            j = columns[i] + p - indptr[i] if is_band else columns[p]
            if j > i:
                r = values[p] * value_scale
                change[i + 1] += r * r
                change[j + 1] -= r * r
                total += r * r
    return np.cumsum(change), total


#: odd 64-bit multipliers of :func:`word_lanes` (xxHash64's primes 1 and 2)
LANE_P1 = np.uint64(0x9E3779B185EBCA87)
LANE_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
#: independent lanes of :func:`word_lanes` (word k goes to lane k % LANES)
LANES = 4


@njit
def word_lanes(words):
    """Four 64-bit lane states of a uint64 array, word k mixed into lane k % 4 by
    acc <- rotl64(acc + w P2, 31) P1 (xxHash64's round; lanes start at their index + 1).

    For a fixed word each round is a bijection of the lane state (P1 is odd), so a change of
    one word always changes its lane's final state; a content digest of an LD matrix's arrays
    (:mod:`bayesmix.ld.check_cache`), read at memory speed (four independent chains)."""
    acc = np.arange(1, LANES + 1).astype(np.uint64)
    n = words.shape[0]
    for k in range(n):
        lane = k % LANES
        x = acc[lane] + words[k] * LANE_P2
        acc[lane] = ((x << np.uint64(31)) | (x >> np.uint64(33))) * LANE_P1
    return acc
