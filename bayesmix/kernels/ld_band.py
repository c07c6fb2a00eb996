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
from bayesmix.kernels.ld import _row_sum, _stored_value, magnitude_bound, stored_code_is_zero
from bayesmix.kernels.ld_spectrum import _run_product


@njit
def _store_values(row, out, scale, quantize):
    """``row`` into the equally long slice ``out`` (:func:`_stored_value` per entry; slices
    indexed from 0, so the copy vectorises)."""
    for k in range(row.shape[0]):
        _stored_value(out, k, row[k], scale, quantize)


@njit
def _row_run(row, diag):
    """(lo, hi): the positions of the first and last stored entry of a dense row (nonzero, or
    at position ``diag``, the diagonal's, which may lie outside the row); lo = len(row) when
    the row has none."""
    lo = 0
    while lo < row.shape[0] and row[lo] == 0 and lo != diag:
        lo += 1
    hi = row.shape[0] - 1
    while hi > lo and row[hi] == 0 and hi != diag:
        hi -= 1
    return lo, hi


@njit
def _store_trimmed_run(run, first, diag_col, values, q, scale, quantize):
    """A run of values (columns ``first ..``) written from position ``q`` of ``values`` (r, or
    int16 codes rint(r / scale) when ``quantize``), trimmed of end values whose code is 0 (off
    the diagonal, column ``diag_col``), as the CSR decoding leaves such entries out
    (:func:`bayesmix.kernels.ld.fill_dense_rows`). Returns the run written: (its first
    column, ``diag_col`` when empty; its length)."""
    lo, hi = 0, run.shape[0]
    while lo < hi and first + lo != diag_col and stored_code_is_zero(run[lo], scale, quantize):
        lo += 1
    while hi > lo and first + hi - 1 != diag_col and stored_code_is_zero(run[hi - 1], scale,
                                                                         quantize):
        hi -= 1
    _store_values(run[lo:hi], values[q:q + hi - lo], scale, quantize)
    return (first + lo if hi > lo else diag_col), hi - lo


@njit
def fill_dense_runs(raw, sizes, starts, diag_cols, run_first, run_length, out_start, values,
                    scale, quantize):
    """Second pass (see :func:`decode_dense_runs`): each row's run written from position
    ``out_start`` of ``values`` by :func:`_store_trimmed_run` (``run_first`` and
    ``run_length`` are updated to the trimmed runs). Returns the position after the last
    value written."""
    p = 0
    q = out_start
    for i in range(sizes.shape[0]):
        offset = p + run_first[i] - starts[i]
        run_first[i], run_length[i] = _store_trimmed_run(
            raw[offset:offset + run_length[i]], run_first[i], diag_cols[i], values, q, scale,
            quantize)
        q += run_length[i]
        p += sizes[i]
    return q


@njit
def decode_dense_runs(raw, sizes, starts, diag_cols, run_first, run_length, sums, out_start,
                      values, scale, quantize, limit):
    """Rows of a GCTB dense-row ``.bin`` (full, band, shrunk) checked and decoded in one pass
    into the band layout: row i holds ``sizes[i]`` values r of columns ``starts[i] ..`` in
    ``raw`` (float32 or float64, rows back to back); its run goes from its first to its last
    stored entry (:func:`_row_run`) and is written from position ``out_start`` by
    :func:`_store_trimmed_run` (``scale`` chosen before the values are seen), its first column
    (file numbering) and length into ``run_first``/``run_length``. With ``values`` None (a
    first pass, :func:`fill_dense_runs` follows) only the untrimmed runs are recorded.
    ``sums`` gets each row's sum of r as stored in the file. Stops at
    a row with a NaN or infinite value in its run, or with a |r| above ``limit``, as
    :func:`bayesmix.kernels.ld.decode_dense_rows`. Returns (the position after the last value
    written, max(1, largest |r| seen), the first row with a NaN or infinite value or -1)."""
    p = 0
    q = out_start
    largest = 1.0
    for i in range(sizes.shape[0]):
        row = raw[p:p + sizes[i]]
        lo, hi = _row_run(row, diag_cols[i] - starts[i])
        if lo == row.shape[0]:
            run_first[i], run_length[i], sums[i] = diag_cols[i], 0, 0.0
        else:
            bound, finite = magnitude_bound(row[lo:hi + 1])
            if not finite:
                return q, largest, i
            largest = max(largest, bound)
            if largest > limit:
                return q, largest, -1
            sums[i] = _row_sum(row[lo:hi + 1])
            if values is None:
                run_first[i], run_length[i] = starts[i] + lo, hi - lo + 1
            else:
                run_first[i], run_length[i] = _store_trimmed_run(
                    row[lo:hi + 1], starts[i] + lo, diag_cols[i], values, q, scale, quantize)
                q += run_length[i]
        p += sizes[i]
    return q, largest, -1


@njit
def sparse_row_runs(words, sizes, value_words, diag_cols, run_first, run_length):
    """Each row of a GCTB sparse ``.bin`` (as :func:`bayesmix.kernels.ld.decode_sparse_rows`
    reads them) as the run from its first to its last column index, read from those two
    words only (whether the indices ascend is checked as the rows are decoded; a run whose
    last index is below its first is empty): its first column into ``run_first``
    (``diag_cols[i]`` when empty), its length into ``run_length``. Returns the largest last
    column index (-1 when there is none)."""
    p = 0
    largest_col = -1
    for i in range(sizes.shape[0]):
        n = sizes[i]
        run_first[i], run_length[i] = diag_cols[i], 0
        if n:
            first, last = np.int64(words[p]), np.int64(words[p + n - 1])
            largest_col = max(largest_col, last)
            if last >= first:
                run_first[i], run_length[i] = first, last - first + 1
        p += n * (1 + value_words)
    return largest_col


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
def _upper_part(values, p, column, stop, i, x, out):
    """Row i's stored entries from position ``p`` (of column ``column`` >= i, block numbering)
    up to column ``stop``: each off-diagonal R_ij adds R_ij x_i to out_j, and the sum over
    them of R_ij x_j (plus R_ii x_i when the part starts at the diagonal) is returned."""
    acc = 0.0
    if column == i and column < stop:
        acc = np.float64(values[p]) * x[i]
        p += 1
        column += 1
    if column < stop:
        length = stop - column
        acc += _run_product(values[p:p + length], x[column:column + length],
                            out[column:column + length], x[i])
    return acc


@njit
def _four_run_product(v0, v1, v2, v3, x, out, x0, x1, x2, x3):
    """:func:`bayesmix.kernels.ld_spectrum._run_product` of four rows over the same columns at
    once: returns (sum_k v_r[k] x[k] for r = 0..3) and adds sum_r v_r[k] x_r to out[k], so
    ``x`` and ``out`` pass through the cache once per four rows instead of once per row."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    for k in range(x.shape[0]):
        w0 = np.float64(v0[k])
        w1 = np.float64(v1[k])
        w2 = np.float64(v2[k])
        w3 = np.float64(v3[k])
        xk = x[k]
        a0 += w0 * xk
        a1 += w1 * xk
        a2 += w2 * xk
        a3 += w3 * xk
        out[k] += w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3
    return a0, a1, a2, a3


#: rows of a band product done together (:func:`_four_run_product`), and the fewest columns
#: they must share for it
ROW_GROUP = 4
MIN_SHARED_COLUMNS = 32


@njit
def symmetric_band_matvec(row_ptr, first, values, value_scale, lo, x, out):
    """``out = R_block @ x`` for the independent block of rows/columns ``lo .. lo + len(x) - 1``
    of a symmetric band matrix, reading each value of the upper triangle once (as
    :func:`bayesmix.kernels.ld_spectrum.symmetric_block_matvec` does for CSR): the part of
    row i right of the diagonal is one contiguous run. Rows go in groups of four: the
    columns right of the group that all four runs cover are done together
    (:func:`_four_run_product`), the rest row by row. Sums in float64."""
    n = x.shape[0]
    out[:] = 0.0
    p = np.empty(ROW_GROUP, np.int64)        # per row: position of its first upper entry,
    column = np.empty(ROW_GROUP, np.int64)   # that entry's column (block numbering),
    stop = np.empty(ROW_GROUP, np.int64)     # and the column after its last entry
    i = 0
    while i < n:
        rows = min(ROW_GROUP, n - i)
        shared_lo, shared_hi = i + rows, n
        for r in range(rows):
            row = lo + i + r
            start, end = row_ptr[row], row_ptr[row + 1]
            p[r] = start + max(0, row - first[row])
            column[r] = first[row] + p[r] - start - lo
            stop[r] = column[r] + max(end - p[r], 0)
            shared_lo = max(shared_lo, column[r])
            shared_hi = min(shared_hi, stop[r])
        if rows < ROW_GROUP or shared_hi - shared_lo < MIN_SHARED_COLUMNS:
            for r in range(rows):
                out[i + r] += _upper_part(values, p[r], column[r], stop[r], i + r, x, out)
        else:
            for r in range(ROW_GROUP):
                out[i + r] += (
                    _upper_part(values, p[r], column[r], shared_lo, i + r, x, out)
                    + _upper_part(values, p[r] + shared_hi - column[r], shared_hi, stop[r],
                                  i + r, x, out))
                p[r] += shared_lo - column[r]   # now: the position of column shared_lo
            length = shared_hi - shared_lo
            a0, a1, a2, a3 = _four_run_product(
                values[p[0]:p[0] + length], values[p[1]:p[1] + length],
                values[p[2]:p[2] + length], values[p[3]:p[3] + length],
                x[shared_lo:shared_hi], out[shared_lo:shared_hi], x[i], x[i + 1], x[i + 2],
                x[i + 3])
            out[i] += a0
            out[i + 1] += a1
            out[i + 2] += a2
            out[i + 3] += a3
        i += rows
    for k in range(n):
        out[k] *= value_scale


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
