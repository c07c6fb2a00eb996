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
def symmetric_block_matvec(indptr, starts, indices, values, value_scale, lo, x, out):
    """``out = R_block @ x`` for the block of rows/columns ``lo .. lo + len(x) - 1`` of a
    symmetric matrix, reading only its upper triangle (``starts`` from :func:`upper_starts`).

    Each stored R_ij with j > i adds R_ij x_j to out_i and R_ij x_i to out_j, so every value
    is read once per product: half the memory traffic of a row-by-row product. A row whose
    upper part is one contiguous run of columns (window, band, shrunk and full LD) is read
    without its column indices, as two loops over contiguous memory that vectorise.
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
        if p < end:
            first = indices[p] - lo
            if indices[end - 1] - lo - first == end - 1 - p:
                for k in range(end - p):
                    v = np.float64(values[p + k])
                    acc += v * x[first + k]
                    out[first + k] += v * xi
            else:
                for q in range(p, end):
                    j = indices[q] - lo
                    v = np.float64(values[q])
                    acc += v * x[j]
                    out[j] += v * xi
        out[i] += acc
    for i in range(n):
        out[i] *= value_scale


@njit
def dense_block(indptr, indices, values, value_scale, lo, hi):
    """The block of rows/columns ``lo .. hi - 1`` as a dense float64 array (small blocks only)."""
    n = hi - lo
    out = np.zeros((n, n))
    for i in range(n):
        for p in range(indptr[lo + i], indptr[lo + i + 1]):
            out[i, indices[p] - lo] = values[p] * value_scale
    return out
