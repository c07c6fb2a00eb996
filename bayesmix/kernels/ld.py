"""numba kernels of the LD engine, on plain CSR arrays (no pandas here).

Conventions: ``indptr``/``indices`` describe a CSR matrix with ascending column indices per
row; ``r`` holds the signed correlations (float32). Column indices are global positions in
the column SNP table.
"""

from __future__ import annotations

import numpy as np

from bayesmix.kernels.jit import njit


@njit
def unbiased_r2(r2, n_samples):
    """r^2 - (1 - r^2) / (n - 2): unbiased for rho^2 when rho = 0 (E[r^2] = 1 / (n - 1) then),
    and within O(rho^2 / n) otherwise (Olkin-Pratt's first term); 0 weight when n <= 2."""
    if n_samples <= 2:
        return 0.0
    return r2 - (1.0 - r2) / (n_samples - 2.0)


@njit
def unbiased_r4(r2, n_samples):
    """r^4 - 6 v r^2 + 3 v^2 with v = (1 - r^2) / (n - 2), the sampling variance of r: unbiased
    for rho^4 when r ~ N(rho, v) (E[r^4] = rho^4 + 6 rho^2 v + 3 v^2, E[r^2] = rho^2 + v);
    0 weight when n <= 2."""
    if n_samples <= 2:
        return 0.0
    v = (1.0 - r2) / (n_samples - 2.0)
    return r2 * r2 - 6.0 * v * r2 + 3.0 * v * v


#: columns of the selection kernels' ``weak`` sums: sum H r~^2 and sum H^2 r~^4, noise-corrected
#: (:func:`unbiased_r2`, :func:`unbiased_r4`)
WEAK_COLUMNS = 2


@njit
def _add_weak(weak, b, het, r2, n_samples):
    """Row ``b``'s weak-LD sums (:data:`WEAK_COLUMNS`) gain a pair left out."""
    weak[b, 0] += het * unbiased_r2(r2, n_samples)
    weak[b, 1] += het * het * unbiased_r4(r2, n_samples)


@njit
def select_block_entries(block, row_lo, row_hi, col0, diag_col, min_r2, col_het, n_samples):
    """Pick the entries of a dense correlation block that go into the sparse matrix.

    Parameters
    ----------
    block : (B, C) float32, r between B rows and the columns ``col0 .. col0 + C - 1``.
    row_lo, row_hi : (B,) int64, per row the half-open window ``[lo, hi)`` of global columns.
    col0 : global index of the block's first column.
    diag_col : (B,) int64, global column holding the row's own SNP (always kept, stored as
        exactly 1), or -1.
    min_r2 : keep off-diagonal entries with r^2 >= min_r2 (0 keeps the whole window).
    col_het, n_samples : H_i = 2 p_i (1 - p_i) of the block's columns (C,) and the panel size
        n behind r, for the ``weak`` sums.

    Returns
    -------
    counts : (B,) int64 entries per row; indices : int32 global columns (ascending per row);
    values : float32 r; weak : (B, 2) float64 per row the sums over the window's entries left
    out (r^2 < min_r2) of H_i times :func:`unbiased_r2` and of H_i^2 times
    :func:`unbiased_r4` (what the threshold drops, and its spread; :data:`WEAK_COLUMNS`).
    """
    n_rows, n_cols = block.shape
    counts = np.zeros(n_rows, dtype=np.int64)
    weak = np.zeros((n_rows, WEAK_COLUMNS))
    for b in range(n_rows):
        start = max(row_lo[b] - col0, 0)
        stop = min(row_hi[b] - col0, n_cols)
        c = 0
        for k in range(start, stop):
            v = np.float64(block[b, k])
            if v * v >= min_r2 or col0 + k == diag_col[b]:
                c += 1
            else:
                _add_weak(weak, b, col_het[k], v * v, n_samples)
        counts[b] = c
    total = counts.sum()
    indices = np.empty(total, dtype=np.int32)
    values = np.empty(total, dtype=np.float32)
    pos = 0
    for b in range(n_rows):
        start = max(row_lo[b] - col0, 0)
        stop = min(row_hi[b] - col0, n_cols)
        for k in range(start, stop):
            v = block[b, k]
            if col0 + k == diag_col[b]:
                indices[pos] = col0 + k
                values[pos] = 1.0
                pos += 1
            elif v * v >= min_r2:
                indices[pos] = col0 + k
                values[pos] = v
                pos += 1
    return counts, indices, values, weak


@njit
def select_from_cross_products(products, row_mean, row_scale, col_mean, col_scale, inv_n,
                               row_lo, row_hi, col0, diag_col, min_r2, col_het, n_samples):
    """Like :func:`select_block_entries`, computing r only inside each row's window.

    ``products`` (B, C) holds sums over samples of x_a x_b (allele counts, exact integers in
    float32, or float64); r = (products * inv_n - mean_a mean_b) * scale_a * scale_b with
    scale = 1 / SD (1/n variance), evaluated in float64 and stored as float32. The ``weak``
    sums use r rounded to float32, as :func:`select_block_entries` sees it.
    """
    n_rows, n_cols = products.shape
    counts = np.zeros(n_rows, dtype=np.int64)
    weak = np.zeros((n_rows, WEAK_COLUMNS))
    capacity = 0
    for b in range(n_rows):
        capacity += max(min(row_hi[b] - col0, n_cols) - max(row_lo[b] - col0, 0), 0)
    indices = np.empty(capacity, dtype=np.int32)
    values = np.empty(capacity, dtype=np.float32)
    pos = 0
    for b in range(n_rows):
        start = max(row_lo[b] - col0, 0)
        stop = min(row_hi[b] - col0, n_cols)
        ma = row_mean[b]
        sa = row_scale[b]
        c = 0
        for k in range(start, stop):
            if col0 + k == diag_col[b]:
                indices[pos] = col0 + k
                values[pos] = 1.0
                pos += 1
                c += 1
                continue
            r = (np.float64(products[b, k]) * inv_n - ma * col_mean[k]) * sa * col_scale[k]
            if r * r >= min_r2:
                indices[pos] = col0 + k
                values[pos] = r
                pos += 1
                c += 1
            else:
                v = np.float64(np.float32(r))
                _add_weak(weak, b, col_het[k], v * v, n_samples)
        counts[b] = c
    return counts, indices[:pos].copy(), values[:pos].copy(), weak


@njit
def split_weak_sums(full_r, part_r, row_lo, row_hi, col0, diag_col, min_r2, col_het, part_n,
                    n_samples):
    """Weak-LD sums of each row computed from parts of the panel (its two halves).

    The pairs are those the whole panel leaves out (``full_r`` rounded to float32, as stored,
    with r^2 < min_r2, inside the row's window, off the diagonal), so every part sums over the
    same pairs; part h weighs ``col_het`` H_i by :func:`unbiased_r2` of its own r with its own
    sample size ``part_n[h]``. Where a part has no r (a SNP monomorphic in it: NaN) it takes
    the whole panel's term (``n_samples`` samples) for that pair.

    Parameters
    ----------
    full_r : (B, C) r of the whole panel; part_r : (P, B, C) r of each part of the panel.
    row_lo, row_hi, col0, diag_col, min_r2, col_het : as :func:`select_block_entries`.
    part_n : (P,) samples per part; n_samples : samples of the whole panel.

    Returns
    -------
    (B, P) float64: per row and part, sum_i H_i (r_h^2 - (1 - r_h^2) / (n_h - 2)).
    """
    n_parts, n_rows, n_cols = part_r.shape
    out = np.zeros((n_rows, n_parts))
    for b in range(n_rows):
        start = max(row_lo[b] - col0, 0)
        stop = min(row_hi[b] - col0, n_cols)
        for k in range(start, stop):
            v = np.float64(np.float32(full_r[b, k]))
            if col0 + k == diag_col[b] or v * v >= min_r2:
                continue
            for h in range(n_parts):
                _add_split_weak(out, b, h, col_het[k], np.float64(part_r[h, b, k]), v,
                                part_n[h], n_samples)
    return out


@njit
def split_weak_sums_from_products(products, mean, var, n, part_products, part_mean, part_var,
                                  part_n, row_lo, row_hi, col0, diag_col, min_r2, col_het,
                                  n_samples):
    """:func:`split_weak_sums` with every r computed from cross-products inside the rows'
    windows only (:func:`_r_from_product`, the r of :func:`correlations_from_products` bit
    for bit), so that no r block of the whole panel or of its parts is held.

    Parameters
    ----------
    products : (B, C) sums over the ``n`` samples of the panel of x_a x_b (allele counts,
        mean-imputed); mean, var : the tuple (rows (B,), columns (C,)) of the counts' means and
        1/n variances.
    part_products : (P, B, C) the same sums over each part's samples; part_mean, part_var :
        tuples (rows (P, B), columns (P, C)) of each part's moments; part_n : (P,) samples per
        part (float64).
    row_lo, row_hi, col0, diag_col, min_r2, col_het, n_samples : as :func:`split_weak_sums`.
    """
    n_parts, n_rows, n_cols = part_products.shape
    out = np.zeros((n_rows, n_parts))
    full_r = np.empty(n_cols)             # one row's r over its window, then each part's:
    part_r = np.empty((n_parts, n_cols))  # loops without branches, which vectorise
    for b in range(n_rows):
        start = max(row_lo[b] - col0, 0)
        stop = min(row_hi[b] - col0, n_cols)
        for k in range(start, stop):
            full_r[k] = _r_from_product(products[b, k], n, mean[0][b], mean[1][k], var[0][b],
                                        var[1][k])
        for h in range(n_parts):
            for k in range(start, stop):
                part_r[h, k] = _r_from_product(part_products[h, b, k], part_n[h],
                                               part_mean[0][h, b], part_mean[1][h, k],
                                               part_var[0][h, b], part_var[1][h, k])
        for k in range(start, stop):
            v = np.float64(np.float32(full_r[k]))
            if col0 + k == diag_col[b] or v * v >= min_r2:
                continue
            for h in range(n_parts):
                _add_split_weak(out, b, h, col_het[k], part_r[h, k], v, part_n[h], n_samples)
    return out


@njit
def _add_split_weak(out, b, h, het, u, v, part_n, n_samples):
    """Part h of row b gains a pair the whole panel leaves out: H_i times :func:`unbiased_r2`
    of the part's r ``u`` and size ``part_n``, or of the whole panel's (float32) r ``v`` and
    ``n_samples`` where the part has no r (NaN: a SNP monomorphic in the part)."""
    if np.isfinite(u):
        out[b, h] += het * unbiased_r2(u * u, part_n)
    else:
        out[b, h] += het * unbiased_r2(v * v, n_samples)


@njit
def symmetrize_upper(indptr, indices, values):
    """Full symmetric CSR from its upper triangle (diagonal included), columns ascending.

    Row i of the result is the lower part (transposed entries of earlier rows, ascending)
    followed by the stored upper part of row i.
    """
    n = len(indptr) - 1
    lower = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            if j > i:
                lower[j] += 1
    out_indptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        out_indptr[i + 1] = out_indptr[i] + lower[i] + (indptr[i + 1] - indptr[i])
    nnz = out_indptr[n]
    out_indices = np.empty(nnz, dtype=np.int32)
    out_values = np.empty(nnz, dtype=values.dtype)
    cursor = out_indptr[:-1].copy()
    for i in range(n):
        upper_start = out_indptr[i] + lower[i]
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            q = upper_start + (p - indptr[i])
            out_indices[q] = j
            out_values[q] = values[p]
            if j > i:
                out_indices[cursor[j]] = i
                out_values[cursor[j]] = values[p]
                cursor[j] += 1
    return out_indptr, out_indices, out_values


@njit
def lower_extents(indptr, indices):
    """Per row i of the square matrix whose upper triangle (diagonal included) is the CSR:
    the number of its entries left of the diagonal (stored as (j, i), j < i) and its first
    column (the smallest such j; i when there is none)."""
    n = len(indptr) - 1
    lower = np.zeros(n, dtype=np.int64)
    first = np.arange(n)
    for j in range(n):
        for p in range(indptr[j], indptr[j + 1]):
            i = indices[p]
            if i > j:
                if lower[i] == 0:
                    first[i] = j
                lower[i] += 1
    return lower, first


@njit
def mirror_upper_rows(indptr, indices, values, lower, cursor, open_from, lo, hi,
                      out_indptr, out_indices, out_values):
    """Rows ``lo .. hi - 1`` of the full symmetric matrix, as :func:`symmetrize_upper` makes
    them (transposed entries of earlier rows ascending, then the row's upper part), from its
    upper triangle, into the CSR ``out_*`` (``out_indptr`` of hi - lo + 1 zeros). Called for
    consecutive ranges from row 0: ``cursor[j]`` is where row j's entries of columns >= lo
    start (``indptr[:-1]`` before the first call), ``open_from`` the first row j with some
    left; both advance. ``lower`` from :func:`lower_extents`. Returns the new ``open_from``."""
    for i in range(lo, hi):
        out_indptr[i - lo + 1] = out_indptr[i - lo] + lower[i] + indptr[i + 1] - indptr[i]
    fill = out_indptr[:-1].copy()
    while open_from < hi and cursor[open_from] == indptr[open_from + 1]:
        open_from += 1
    for j in range(open_from, hi):
        p = cursor[j]
        end = indptr[j + 1]
        while p < end and indices[p] < hi:
            i = indices[p]
            if i > j:
                q = fill[i - lo]
                out_indices[q] = j
                out_values[q] = values[p]
                fill[i - lo] = q + 1
            p += 1
        cursor[j] = p
    for i in range(lo, hi):
        q = fill[i - lo]
        for p in range(indptr[i], indptr[i + 1]):
            out_indices[q] = indices[p]
            out_values[q] = values[p]
            q += 1
    return open_from


@njit
def weighted_r_power_sums(indptr, indices, r, weights, power):
    """Per row j: sum over stored columns i of ``weights[i] * |r_ji| ** power`` (float64).

    With weights = H (heterozygosity 2p(1-p) of the column SNP) and power 2 this is MiXeR's
    LD score; weights = 1, power 2 the LDSC score; weights = H^2, power 4 MiXeR's fast-model
    fourth moment.
    """
    n = len(indptr) - 1
    out = np.zeros(n, dtype=np.float64)
    for j in range(n):
        acc = 0.0
        for p in range(indptr[j], indptr[j + 1]):
            v = abs(np.float64(r[p]))
            acc += weights[indices[p]] * v ** power
        out[j] = acc
    return out


@njit
def prune_pass(indptr, indices, r, order, col_to_row, eligible, max_r2, kept):
    """One random-pruning pass: greedy in ``order``, keep a row unless a kept row tags it.

    Rows are visited in ``order``; an eligible row not yet removed is kept (``kept[i] = 1``)
    and removes every row whose SNP has r^2 >= ``max_r2`` with it (``col_to_row`` maps a
    column to the row of the same SNP, or -1). ``kept`` must be zero on entry.
    """
    removed = np.zeros(len(indptr) - 1, dtype=np.bool_)
    for t in range(len(order)):
        i = order[t]
        if removed[i] or not eligible[i]:
            continue
        kept[i] = 1
        for p in range(indptr[i], indptr[i + 1]):
            v = np.float64(r[p])
            if v * v >= max_r2:
                row = col_to_row[indices[p]]
                if row >= 0:
                    removed[row] = True


@njit(fastmath=False)
def correlations_from_products(products, mean_a, mean_b, var_a, var_b, n):
    """r_ij = (products_ij / n - mean_a_i mean_b_j) / sqrt(var_a_i var_b_j), float64 (ka, kb):
    Pearson r of mean-imputed count columns from their cross-products (sums over n samples),
    in one pass without the block-sized temporaries of the numpy expression, whose values it
    equals bit for bit (:func:`_r_from_product`). A zero variance gives NaN or inf, as numpy
    does."""
    out = np.empty(products.shape)
    for i in range(products.shape[0]):
        for j in range(products.shape[1]):
            out[i, j] = _r_from_product(products[i, j], n, mean_a[i], mean_b[j], var_a[i],
                                        var_b[j])
    return out


@njit(fastmath=False)
def _r_from_product(product, n, mean_a, mean_b, var_a, var_b):
    """One r of :func:`correlations_from_products`: compiled without fastmath whatever its
    caller's flags (:mod:`bayesmix.kernels.jit`), so the same operations in the same order as
    the numpy expression, no fused multiply-add or reciprocal."""
    return (np.float64(product) / n - mean_a * mean_b) / np.sqrt(var_a * var_b)


@njit
def _stored_value(values, q, v, scale, quantize):
    """Store float ``v`` at ``values[q]``: as is, or as the int16 code rint(v / scale)."""
    if quantize:
        values[q] = min(max(np.rint(np.float64(v) / scale), -32767.0), 32767.0)
    else:
        values[q] = v


@njit
def stored_code_is_zero(v, scale, quantize):
    """Whether float ``v`` is stored as 0 (exactly 0, or an int16 code rint(v / scale) of 0
    when ``quantize``): such an off-diagonal entry is left out, as GCTB's zeros are."""
    if quantize:
        return np.rint(np.float64(v) / scale) == 0.0
    return v == 0


@njit
def _outside_unit(row):
    """Number of entries of a slice outside [-1, 1], NaN included (a count: vectorises)."""
    n = 0
    for k in range(row.shape[0]):
        v = row[k]
        n += not (v >= -1.0 and v <= 1.0)
    return n


@njit
def magnitude_bound(row):
    """(max(1, largest |value|), whether every value is finite) of a slice of correlations.

    One vectorised count of the entries outside [-1, 1]; the scalar pass for their largest
    magnitude runs only when there are some. The bound is what the int16 step needs
    (:func:`bayesmix.ld.store.int16_scale`)."""
    bound = 1.0
    if _outside_unit(row) == 0:
        return bound, True
    for k in range(row.shape[0]):
        v = abs(np.float64(row[k]))
        if not v <= np.inf:  # NaN
            return bound, False
        bound = max(bound, v)
    return bound, bound < np.inf


@njit
def _row_sum(row):
    """Sum of a slice's values in float64 (a reduction that vectorises)."""
    total = 0.0
    for k in range(row.shape[0]):
        total += np.float64(row[k])
    return total


@njit
def _count_nonzero(row):
    """Number of nonzero values of a slice (vectorises)."""
    nonzero = 0
    for k in range(row.shape[0]):
        nonzero += row[k] != 0
    return nonzero


@njit
def _store_run(row, first_col, indices, values, scale, quantize):
    """A whole row of values and its consecutive columns into equally long output slices."""
    for k in range(row.shape[0]):
        indices[k] = first_col + k
        _stored_value(values, k, row[k], scale, quantize)


@njit
def _fill_dense_row(row, start, diag_col, col_offset, all_kept, q, indices, values, scale,
                    quantize):
    """The kept entries of one dense row (columns ``start ..``) written from position ``q``
    of ``indices`` (column + ``col_offset``) and ``values`` (r, or int16 codes rint(r / scale)
    when ``quantize``, leaving out the off-diagonal entries whose code is 0); ``all_kept``
    (every entry nonzero) copies the row as one run when not quantized. Returns the position
    after the last entry written."""
    n = row.shape[0]
    if all_kept and not quantize:
        _store_run(row, start + col_offset, indices[q:q + n], values[q:q + n], scale, quantize)
        return q + n
    for k in range(n):
        v = row[k]
        col = start + k
        if col == diag_col or not stored_code_is_zero(v, scale, quantize):
            indices[q] = col + col_offset
            _stored_value(values, q, v, scale, quantize)
            q += 1
    return q


@njit
def fill_dense_rows(raw, sizes, starts, diag_cols, counts, col_offset, out_start, indices,
                    values, scale, quantize):
    """Second pass (see :func:`decode_dense_rows`, whose ``counts`` it takes): the kept entries
    of the rows in ``raw`` written from position ``out_start`` of the CSR arrays
    (:func:`_fill_dense_row`), lowering ``counts`` by the entries whose int16 code is 0.
    Returns the position after the last entry written."""
    p = 0
    q = out_start
    for i in range(sizes.shape[0]):
        n = sizes[i]
        row_start = q
        q = _fill_dense_row(raw[p:p + n], starts[i], diag_cols[i], col_offset, counts[i] == n, q,
                            indices, values, scale, quantize)
        counts[i] = q - row_start
        p += n
    return q


@njit
def decode_dense_rows(raw, sizes, starts, diag_cols, counts, sums, col_offset, out_start,
                      indices, values, scale, quantize, limit):
    """Rows of a GCTB dense-row ``.bin`` (full, band, shrunk) checked and decoded in one pass.

    Row i holds ``sizes[i]`` values r of columns ``starts[i] ..`` in ``raw`` (float32 or
    float64, rows back to back). An entry is kept when it is nonzero or on the diagonal (column
    ``diag_cols[i]``); zeros inside a row are entries GCTB did not keep. Each row is checked,
    then its kept entries are written from position ``out_start`` (:func:`_fill_dense_row`;
    ``scale`` chosen before the values are seen) and their number into ``counts``. With
    ``values`` None (a first pass, :func:`fill_dense_rows` follows) nothing is written but
    ``counts``, the entries kept before int16 rounding. ``sums`` gets each row's sum of r as
    stored in the file (what the ``.info``'s LDsum should say). Stops at the first row with a
    NaN or infinite value, or with a |r| above ``limit`` (the largest magnitude ``scale`` was
    chosen for). Returns (the position after the last entry written, max(1, largest |r|
    seen), the first row with a NaN or infinite value or -1)."""
    p = 0
    q = out_start
    largest = 1.0
    for i in range(sizes.shape[0]):
        n = sizes[i]
        row = raw[p:p + n]
        bound, finite = magnitude_bound(row)
        if not finite:
            return q, largest, i
        largest = max(largest, bound)
        if largest > limit:
            return q, largest, -1
        sums[i] = _row_sum(row)
        if values is None:
            d = diag_cols[i] - starts[i]
            counts[i] = _count_nonzero(row) + (0 <= d < n and row[d] == 0)
        else:   # the count only decides the float32 copy of a row without zeros
            row_start = q
            all_kept = not quantize and _count_nonzero(row) == n
            q = _fill_dense_row(row, starts[i], diag_cols[i], col_offset, all_kept, q,
                                indices, values, scale, quantize)
            counts[i] = q - row_start
        p += n
    return q, largest, -1


@njit
def _sparse_value(words, pos, value_words):
    """The little-endian float32 (``value_words`` 1) or float64 (2) value at word ``pos``."""
    if value_words == 1:
        return np.float64(words[pos:pos + 1].view(np.float32)[0])
    pair = np.empty(2, dtype=np.uint32)
    pair[0] = words[pos]
    pair[1] = words[pos + 1]
    return pair.view(np.float64)[0]


@njit
def _check_sparse_row(words, p, n, value_words):
    """Checks of one sparse row (``n`` column indices at word ``p``, then its values): (why it
    is bad: 0 not, 1 its indices do not ascend strictly, 2 a NaN or infinite value; its
    largest column index; its largest |r|), stopping at the first problem."""
    largest_col = -1
    largest = 0.0
    for k in range(n):
        col = np.int64(words[p + k])
        if k > 0 and col <= np.int64(words[p + k - 1]):
            return 1, largest_col, largest
        value = abs(_sparse_value(words, p + n + k * value_words, value_words))
        if not value < np.inf:
            return 2, largest_col, largest
        largest_col = max(largest_col, col)
        largest = max(largest, value)
    return 0, largest_col, largest


@njit
def _fill_sparse_row(words, p, n, value_words, col_offset, q, indices, values, scale, quantize):
    """One sparse row's entries written from position ``q`` as in :func:`_fill_dense_row`.
    Returns the position after the last entry written."""
    for k in range(n):
        indices[q] = np.int64(words[p + k]) + col_offset
        _stored_value(values, q, _sparse_value(words, p + n + k * value_words, value_words),
                      scale, quantize)
        q += 1
    return q


@njit
def _store_sparse_csr_row(words, floats, p, n, value_words, col_offset, q, indices, values,
                          scale, quantize):
    """A sparse row's entries written from position ``q`` (column indices offset by
    ``col_offset``; float32 rows as slices, :func:`_store_sparse_run`). Returns the position
    after the last entry written."""
    if value_words == 1:
        _store_sparse_run(words[p:p + n], floats[p + n:p + 2 * n], col_offset, indices[q:q + n],
                          values[q:q + n], scale, quantize)
        return q + n
    return _fill_sparse_row(words, p, n, value_words, col_offset, q, indices, values, scale,
                            quantize)


@njit
def _scatter_run(cols, row, first, out, scale, quantize):
    """Float32 values ``row`` of columns ``cols`` into ``out``, the run from column ``first``
    (slices: no per-entry view of the words)."""
    for k in range(row.shape[0]):
        _stored_value(out, np.int64(cols[k]) - first, row[k], scale, quantize)


@njit
def _zero_codes_off_diagonal(words, floats, p, n, value_words, diag_col, scale, quantize):
    """Number of entries of the sparse row at word ``p`` (``floats``: ``words`` viewed as
    float32), off the diagonal (column ``diag_col``), that store as 0
    (:func:`stored_code_is_zero`: r = 0, or an int16 code of 0 when ``quantize``)."""
    zeros = 0
    if value_words == 1:   # branch-free counts that vectorise (rint(x) == 0 iff |x| <= 0.5)
        cols, row = words[p:p + n], floats[p + n:p + 2 * n]
        if quantize:
            for k in range(n):
                zeros += (abs(np.float64(row[k]) / scale) <= 0.5) & (cols[k] != diag_col)
        else:
            for k in range(n):
                zeros += (row[k] == 0) & (cols[k] != diag_col)
        return zeros
    for k in range(n):
        zeros += stored_code_is_zero(_sparse_value(words, p + n + k * value_words, value_words),
                                     scale, quantize) and np.int64(words[p + k]) != diag_col
    return zeros


@njit
def _store_sparse_band_run(words, floats, p, n, value_words, values, q, scale, quantize):
    """A checked sparse row (word ``p``, ``n`` ascending column indices; ``floats`` is
    ``words`` viewed as float32) written as the run from its first to its last column from
    position ``q`` of ``values``: zeros, then each entry at its column's place (r, or int16
    codes when ``quantize``)."""
    if n == 0:
        return
    first = np.int64(words[p])
    length = np.int64(words[p + n - 1]) - first + 1
    values[q:q + length] = 0
    if value_words == 1:
        _scatter_run(words[p:p + n], floats[p + n:p + 2 * n], first, values[q:q + length],
                     scale, quantize)
        return
    for k in range(n):
        _stored_value(values, q + np.int64(words[p + k]) - first,
                      _sparse_value(words, p + n + k * value_words, value_words), scale,
                      quantize)


@njit
def fill_sparse_rows(words, sizes, value_words, col_offset, out_start, indices, values, scale,
                     quantize):
    """Second pass over sparse rows (see :func:`decode_sparse_rows`): the entries written from
    position ``out_start`` (:func:`_fill_sparse_row`). Returns the position after the last
    entry written."""
    floats = words.view(np.float32)
    p = 0
    q = out_start
    for i in range(sizes.shape[0]):
        n = sizes[i]
        q = _store_sparse_csr_row(words, floats, p, n, value_words, col_offset, q, indices,
                                  values, scale, quantize)
        p += n * (1 + value_words)
    return q


@njit
def sparse_row_summary(words, floats, p, n, value_words):
    """Checks of the sparse row at word ``p`` (``n`` column indices, then its values of
    ``value_words`` words each; ``floats`` is ``words`` viewed as float32): (why it is bad: 0
    not, 1 its indices do not ascend strictly, 2 a NaN or infinite value; its largest column
    index, -1 when empty; its largest |r|; its sum of r, 0 when bad). A float32 row that
    passes is read as two slices in loops that vectorise (:func:`_sparse_row_is_clean`: 0.3
    against 4.6 s for 175 M entries); others entry by entry, stopping at the first problem."""
    if value_words == 1 and _sparse_row_is_clean(words[p:p + n], floats[p + n:p + 2 * n]):
        row = floats[p + n:p + 2 * n]
        last = np.int64(words[p + n - 1]) if n else np.int64(-1)
        return 0, last, _largest_magnitude(row), _row_sum(row)
    why, largest_col, largest = _check_sparse_row(words, p, n, value_words)
    if why:
        return why, largest_col, largest, 0.0
    total = 0.0
    for k in range(n):
        total += _sparse_value(words, p + n + k * value_words, value_words)
    return 0, largest_col, largest, total


@njit
def decode_sparse_rows(words, sizes, value_words, sums, col_offset, out_start, indices, values,
                       scale, quantize, limit, band, diag_cols, run_length):
    """Rows of a GCTB sparse ``.bin`` checked and decoded in one pass: row i is ``sizes[i]``
    uint32 column indices then ``sizes[i]`` values of ``value_words`` 4-byte words each
    (float32 or float64), rows back to back in ``words``. Each row is checked
    (:func:`sparse_row_summary`), then written from position ``out_start`` (nothing with
    ``values`` None: a first pass, which :func:`fill_sparse_rows` follows for CSR): as CSR
    entries (:func:`_store_sparse_csr_row`, columns offset by ``col_offset``) or, with
    ``band`` (``indices`` and ``col_offset`` unused), into the band layout: each row as the
    run of :func:`bayesmix.kernels.ld_band.sparse_row_runs` (lengths ``run_length``;
    ``values`` has room for them) by :func:`_store_sparse_band_run`. The band layout does not
    hold an entry stored as 0 off the diagonal (columns ``diag_cols``), which the file and
    GCTB count as one: the first row with one is reported as bad, why 3 (then decode the
    file as CSR); a row whose run is not ``run_length`` long is bad, why 4 (the file changed
    since its runs were read; nothing is written past them). ``sums`` gets each row's sum of r. Stops at a bad row or a |r| above
    ``limit``, as :func:`decode_dense_rows`. Returns (the position after the last entry
    written, the first bad row or -1, why it is bad, the largest column index, the largest |r|
    seen)."""
    floats = words.view(np.float32)
    p = 0
    q = out_start
    largest_col = -1
    largest = 0.0
    for i in range(sizes.shape[0]):
        n = sizes[i]
        why, row_col, row_largest, total = sparse_row_summary(words, floats, p, n, value_words)
        largest_col = max(largest_col, row_col)
        largest = max(largest, row_largest)
        if why:
            return q, i, why, largest_col, largest
        if largest > limit:
            return q, -1, 0, largest_col, largest
        sums[i] = total
        if values is not None:
            if band:
                if n and np.int64(words[p + n - 1]) - np.int64(words[p]) + 1 != run_length[i]:
                    return q, i, 4, largest_col, largest   # the file changed since its runs
                if _zero_codes_off_diagonal(words, floats, p, n, value_words, diag_cols[i],
                                            scale, quantize):
                    return q, i, 3, largest_col, largest
                _store_sparse_band_run(words, floats, p, n, value_words, values, q, scale,
                                       quantize)
                q += run_length[i]
            else:
                q = _store_sparse_csr_row(words, floats, p, n, value_words, col_offset, q,
                                          indices, values, scale, quantize)
        p += n * (1 + value_words)
    return q, -1, 0, largest_col, largest


@njit
def _sparse_row_is_clean(cols, row):
    """Whether a sparse row's column indices ascend strictly and its float32 values are all
    finite (counts that vectorise; a row that is not is checked entry by entry)."""
    bad = 0
    for k in range(1, cols.shape[0]):
        bad += cols[k] <= cols[k - 1]
    for k in range(row.shape[0]):
        bad += not (abs(row[k]) < np.inf)
    return bad == 0


@njit
def _largest_magnitude(row):
    """max |value| of a slice of finite values (0 when empty)."""
    largest = np.float32(0.0)
    for k in range(row.shape[0]):
        largest = max(largest, abs(row[k]))
    return np.float64(largest)


@njit
def _store_sparse_run(cols, row, col_offset, indices, values, scale, quantize):
    """A sparse row's columns (offset) and values into equally long output slices."""
    for k in range(row.shape[0]):
        indices[k] = np.int64(cols[k]) + col_offset
        _stored_value(values, k, row[k], scale, quantize)


@njit
def encode_dense_rows(indptr, indices, values, starts, sizes, lo, hi, out):
    """GCTB dense-row ``.bin`` payload of CSR rows ``lo .. hi - 1``: row i as ``sizes[i]``
    float32 values of columns ``starts[i] ..``, 0 where nothing is stored, rows back to back
    in ``out`` (float32, zeroed by the caller, of the rows' total size)."""
    q = 0
    for i in range(lo, hi):
        for p in range(indptr[i], indptr[i + 1]):
            out[q + indices[p] - starts[i]] = values[p]
        q += sizes[i]


@njit
def encode_sparse_rows(indptr, indices, values, lo, hi, out):
    """GCTB sparse ``.bin`` payload of CSR rows ``lo .. hi - 1`` as uint32 words: per row its
    column indices, then its float32 values' bits, rows back to back in ``out`` (uint32, of
    twice the rows' number of entries)."""
    q = 0
    bits = values.view(np.uint32)
    for i in range(lo, hi):
        n = indptr[i + 1] - indptr[i]
        for k in range(n):
            out[q + k] = indices[indptr[i] + k]
            out[q + n + k] = bits[indptr[i] + k]
        q += 2 * n


@njit(fastmath=False)
def row_r_sums(indptr, values):
    """Per CSR row: (sum of r, sum of (1 - r^2)^2) in float64 over the stored entries, in
    their order (the ``.info``'s LDsum and the sums behind SamplVar)."""
    m = indptr.shape[0] - 1
    ld_sum = np.zeros(m)
    sampling = np.zeros(m)
    for i in range(m):
        a = 0.0
        b = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            r = np.float64(values[p])
            a += r
            t = 1.0 - r * r
            b += t * t
        ld_sum[i] = a
        sampling[i] = b
    return ld_sum, sampling


@njit
def csr_diagonal(indptr, indices, values, value_scale):
    """Stored diagonal r_ii of a square CSR matrix (float32; 0 where not stored), read from
    the stored values (int16 codes times ``value_scale``, or float32 r)."""
    n = indptr.shape[0] - 1
    out = np.zeros(n, dtype=np.float32)
    for i in range(n):
        lo, hi = indptr[i], indptr[i + 1]
        while lo < hi:          # binary search: columns ascend within a row
            mid = (lo + hi) // 2
            if indices[mid] < i:
                lo = mid + 1
            else:
                hi = mid
        if lo < indptr[i + 1] and indices[lo] == i:
            out[i] = np.float32(values[lo] * value_scale)
    return out


@njit
def subset_csr(indptr, indices, values, rows, col_map):
    """The CSR matrix restricted to ``rows`` (in that order) and to the columns with
    ``col_map[j] >= 0`` (renumbered to ``col_map[j]``, which must keep their order).

    Values are copied as stored (int16 codes keep their scale). Returns (indptr int64,
    indices int32, values).
    """
    out_indptr = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    for k in range(rows.shape[0]):
        count = 0
        for p in range(indptr[rows[k]], indptr[rows[k] + 1]):
            if col_map[indices[p]] >= 0:
                count += 1
        out_indptr[k + 1] = out_indptr[k] + count
    out_indices = np.empty(out_indptr[-1], dtype=np.int32)
    out_values = np.empty(out_indptr[-1], dtype=values.dtype)
    q = 0
    for k in range(rows.shape[0]):
        for p in range(indptr[rows[k]], indptr[rows[k] + 1]):
            j = col_map[indices[p]]
            if j >= 0:
                out_indices[q] = j
                out_values[q] = values[p]
                q += 1
    return out_indptr, out_indices, out_values
