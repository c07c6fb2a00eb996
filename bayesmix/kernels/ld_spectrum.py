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
from numba import prange

from bayesmix.kernels.jit import njit


@njit(parallel=True)
def block_matvec(indptr, indices, values, value_scale, lo, x, out):
    """``out = R_block @ x`` for the block of rows/columns ``lo .. lo + len(x) - 1``.

    Parallel over rows (each row's dot product is independent; the symmetric matrix is read
    row by row as stored, so no transpose is needed). ``x`` and ``out`` are float64[n].
    """
    n = x.shape[0]
    for i in prange(n):
        acc = 0.0
        for p in range(indptr[lo + i], indptr[lo + i + 1]):
            acc += values[p] * x[indices[p] - lo]
        out[i] = acc * value_scale


@njit
def dense_block(indptr, indices, values, value_scale, lo, hi):
    """The block of rows/columns ``lo .. hi - 1`` as a dense float64 array (small blocks only)."""
    n = hi - lo
    out = np.zeros((n, n))
    for i in range(n):
        for p in range(indptr[lo + i], indptr[lo + i + 1]):
            out[i, indices[p] - lo] = values[p] * value_scale
    return out
