"""numba kernels on the *band* layout of a square LD matrix (no pandas here).

Row j holds ``row_ptr[j+1] - row_ptr[j]`` values of the consecutive columns ``first[j], first[j]
+ 1, ...`` in ``values[row_ptr[j]:row_ptr[j+1]]``: the column indices are implicit, so the
matrix takes 2 bytes per value with int16 codes (r = code * ``value_scale``) or 4 with float32
r, like the rows of GCTB's full, band and shrunk ``.bin`` files. Its *stored entries* are the
nonzero values and the diagonal (a zero inside a run is an entry not stored, exactly as the
CSR decoding of such a file leaves it out), and every run starts and ends at a stored entry,
so a band matrix is :func:`bayesmix.kernels.sbayes.band_from_csr` of its CSR form
(:func:`band_to_csr`). An empty row has ``first[j] = j``.
"""

from __future__ import annotations

import numpy as np

from bayesmix.kernels.jit import njit
from bayesmix.kernels.ld import _stored_value, magnitude_bound, stored_code_is_zero
from bayesmix.kernels.ld_spectrum import _run_product


@njit
def _store_values(row, out, scale, quantize):
    """``row`` into the equally long slice ``out`` (:func:`_stored_value` per entry; slices
    indexed from 0, so the copy vectorises)."""
    for k in range(row.shape[0]):
        _stored_value(out, k, row[k], scale, quantize)


@njit
def dense_row_runs(raw, sizes, starts, diag_cols, run_first, run_length):
    """First pass over rows of a GCTB dense-row ``.bin`` (full, band, shrunk), for the band
    layout: row i holds ``sizes[i]`` values r of columns ``starts[i] ..`` in ``raw`` (float32
    or float64, rows back to back); its run goes from its first to its last stored entry
    (nonzero, or column ``diag_cols[i]``). Writes each run's first column (file numbering)
    and length into ``run_first``/``run_length``; returns (max(1, largest |r| kept), the
    first row with a NaN or infinite value kept, or -1)."""
    p = 0
    largest = 1.0
    for i in range(sizes.shape[0]):
        row = raw[p:p + sizes[i]]
        diag = diag_cols[i] - starts[i]  # the diagonal's position in the row (may be outside)
        lo = 0
        while lo < row.shape[0] and row[lo] == 0 and lo != diag:
            lo += 1
        hi = row.shape[0] - 1
        while hi > lo and row[hi] == 0 and hi != diag:
            hi -= 1
        if lo == row.shape[0]:
            run_first[i], run_length[i] = diag_cols[i], 0
        else:
            run_first[i], run_length[i] = starts[i] + lo, hi - lo + 1
            bound, finite = magnitude_bound(row[lo:hi + 1])
            if not finite:
                return largest, i
            largest = max(largest, bound)
        p += sizes[i]
    return largest, -1


@njit
def fill_dense_runs(raw, sizes, starts, diag_cols, run_first, run_length, out_start, values,
                    scale, quantize):
    """Second pass (see :func:`dense_row_runs`): each row's run written from position
    ``out_start`` of ``values`` (r, or int16 codes rint(r / scale) when ``quantize``). A run
    is trimmed of end values whose int16 code is 0 (off the diagonal; ``run_first`` and
    ``run_length`` are updated), as the CSR decoding leaves such entries out
    (:func:`bayesmix.kernels.ld.fill_dense_rows`). Returns the position after the last value
    written."""
    p = 0
    q = out_start
    for i in range(sizes.shape[0]):
        offset = p + run_first[i] - starts[i]
        lo, hi = 0, run_length[i]
        while lo < hi and run_first[i] + lo != diag_cols[i] and stored_code_is_zero(
                raw[offset + lo], scale, quantize):
            lo += 1
        while hi > lo and run_first[i] + hi - 1 != diag_cols[i] and stored_code_is_zero(
                raw[offset + hi - 1], scale, quantize):
            hi -= 1
        _store_values(raw[offset + lo:offset + hi], values[q:q + hi - lo], scale, quantize)
        run_first[i] = run_first[i] + lo if hi > lo else diag_cols[i]
        run_length[i] = hi - lo
        q += hi - lo
        p += sizes[i]
    return q


@njit
def band_diagonal(row_ptr, first, values, value_scale):
    """Diagonal r_jj (float32; 0 where the run does not reach column j)."""
    m = row_ptr.shape[0] - 1
    out = np.zeros(m, dtype=np.float32)
    for j in range(m):
        k = j - first[j]
        if 0 <= k < row_ptr[j + 1] - row_ptr[j]:
            out[j] = np.float32(values[row_ptr[j] + k] * value_scale)
    return out


@njit
def _kept(values, p, column, col_map, diag_column):
    """Whether the entry at ``values[p]`` (of ``column``) survives a subset: its column is
    kept and it is stored (nonzero, or the row's diagonal)."""
    return col_map[column] >= 0 and (values[p] != 0 or column == diag_column)


@njit
def subset_band(row_ptr, first, values, rows, col_map):
    """The square band matrix restricted to ``rows`` (ascending) and their columns
    (``col_map[c]`` the new index of column c, -1 for dropped; ``col_map[rows[k]] = k``).

    Each new run keeps the entries of kept columns between its first and last stored one (the
    kept columns of a run are consecutive in the new numbering). Returns (row_ptr int64,
    first int64, values) with values copied as stored.
    """
    n = rows.shape[0]
    lo = np.empty(n, np.int64)
    hi = np.empty(n, np.int64)
    out_ptr = np.zeros(n + 1, np.int64)
    out_first = np.empty(n, np.int64)
    for k in range(n):
        j = rows[k]
        lo[k], hi[k] = -1, -1
        for p in range(row_ptr[j], row_ptr[j + 1]):
            if _kept(values, p, first[j] + p - row_ptr[j], col_map, j):
                if lo[k] < 0:
                    lo[k] = p
                hi[k] = p
        count = 0
        out_first[k] = k
        if lo[k] >= 0:
            out_first[k] = col_map[first[j] + lo[k] - row_ptr[j]]
            for p in range(lo[k], hi[k] + 1):
                count += col_map[first[j] + p - row_ptr[j]] >= 0
        out_ptr[k + 1] = out_ptr[k] + count
    out_values = np.empty(out_ptr[n], values.dtype)
    for k in range(n):
        j = rows[k]
        q = out_ptr[k]
        if lo[k] >= 0:
            for p in range(lo[k], hi[k] + 1):
                if col_map[first[j] + p - row_ptr[j]] >= 0:
                    out_values[q] = values[p]
                    q += 1
    return out_ptr, out_first, out_values


@njit
def band_to_csr(row_ptr, first, values):
    """The stored entries (nonzero or diagonal) as CSR: (indptr int64, indices int32,
    values)."""
    m = row_ptr.shape[0] - 1
    indptr = np.zeros(m + 1, np.int64)
    for j in range(m):
        count = 0
        for p in range(row_ptr[j], row_ptr[j + 1]):
            count += values[p] != 0 or first[j] + p - row_ptr[j] == j
        indptr[j + 1] = indptr[j] + count
    indices = np.empty(indptr[m], np.int32)
    out = np.empty(indptr[m], values.dtype)
    q = 0
    for j in range(m):
        for p in range(row_ptr[j], row_ptr[j + 1]):
            column = first[j] + p - row_ptr[j]
            if values[p] != 0 or column == j:
                indices[q] = column
                out[q] = values[p]
                q += 1
    return indptr, indices, out


@njit
def _run_sums(run, value_scale):
    """(sum r^2, sum (1 - r^2)^2, number of nonzero values) over a whole run, zeros included
    (a plain reduction over a slice, which vectorises)."""
    s2 = 0.0
    s4 = 0.0
    nonzero = 0
    for k in range(run.shape[0]):
        r = run[k] * value_scale
        r2 = r * r
        s2 += r2
        s4 += (1.0 - r2) * (1.0 - r2)
        nonzero += run[k] != 0
    return s2, s4, nonzero


@njit
def band_row_statistics(row_ptr, first, values, value_scale):
    """Per row j, over its stored entries: (sum_i r_ij^2, sum_i (1 - r_ij^2)^2, their
    number), as :func:`bayesmix.kernels.sbayes.row_ld_statistics` and ``diff(indptr)`` give
    for the CSR form. A zero inside a run is not stored (unless on the diagonal): it adds 0
    to the first sum and 1 to the second, which are taken back."""
    m = row_ptr.shape[0] - 1
    score = np.zeros(m)
    samp = np.zeros(m)
    count = np.zeros(m, np.int64)
    for j in range(m):
        run = values[row_ptr[j]:row_ptr[j + 1]]
        s2, s4, stored = _run_sums(run, value_scale)
        d = j - first[j]
        if 0 <= d < run.shape[0] and run[d] == 0:
            stored += 1
        score[j] = s2
        samp[j] = s4 - (run.shape[0] - stored)
        count[j] = stored
    return score, samp, count


@njit
def symmetric_band_matvec(row_ptr, first, values, value_scale, lo, x, out):
    """``out = R_block @ x`` for the independent block of rows/columns ``lo .. lo + len(x) - 1``
    of a symmetric band matrix, reading each value of the upper triangle once (as
    :func:`bayesmix.kernels.ld_spectrum.symmetric_block_matvec` does for CSR): the part of
    row i right of the diagonal is one contiguous run. Sums in float64."""
    n = x.shape[0]
    out[:] = 0.0
    for i in range(n):
        row = lo + i
        start, end = row_ptr[row], row_ptr[row + 1]
        p = start + max(0, row - first[row])   # the first value of column >= row
        acc = 0.0
        if p < end and first[row] + p - start == row:
            acc = np.float64(values[p]) * x[i]
            p += 1
        if p < end:
            column = first[row] + p - start - lo
            length = end - p
            acc += _run_product(values[p:end], x[column:column + length],
                                out[column:column + length], x[i])
        out[i] += acc
    for i in range(n):
        out[i] *= value_scale


@njit
def dense_band_block(row_ptr, first, values, value_scale, lo, hi):
    """The rows/columns ``lo .. hi - 1`` as a dense float64 array (small blocks only)."""
    n = hi - lo
    out = np.zeros((n, n))
    for i in range(n):
        row = lo + i
        for p in range(row_ptr[row], row_ptr[row + 1]):
            j = first[row] + p - row_ptr[row]
            if lo <= j < hi:
                out[i, j - lo] = values[p] * value_scale
    return out
