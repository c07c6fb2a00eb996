"""numba LD kernels against slow, obviously-correct references on random inputs."""

import numpy as np
import pytest
import scipy.sparse as sp

from bayesmix.kernels.ld import (
    correlations_from_products,
    lower_extents,
    mirror_upper_rows,
    prune_pass,
    select_from_cross_products,
    select_block_entries,
    split_weak_sums,
    split_weak_sums_from_products,
    symmetrize_upper,
    weighted_r_power_sums,
)


def test_select_block_entries_matches_a_double_loop():
    rng = np.random.default_rng(0)
    rows, cols, col0 = 17, 31, 5
    block = rng.uniform(-1, 1, (rows, cols)).astype(np.float32)
    lo = rng.integers(0, 20, rows).astype(np.int64)
    hi = lo + rng.integers(0, 30, rows)
    diag = rng.integers(-1, 40, rows).astype(np.int64)
    het, n = rng.uniform(0.05, 0.5, cols), 60
    counts, indices, values, weak = select_block_entries(block, lo, hi, col0, diag, 0.3, het, n)
    pos = 0
    for b in range(rows):
        expect = [(col0 + k, 1.0 if col0 + k == diag[b] else block[b, k]) for k in range(cols)
                  if lo[b] <= col0 + k < hi[b] and (block[b, k] ** 2 >= 0.3 or col0 + k == diag[b])]
        assert counts[b] == len(expect)
        got = list(zip(indices[pos:pos + counts[b]], values[pos:pos + counts[b]]))
        assert got == expect
        pos += counts[b]
        left_out = [k for k in range(cols) if lo[b] <= col0 + k < hi[b]
                    and col0 + k != diag[b] and float(block[b, k]) ** 2 < 0.3]
        r2 = np.array([float(block[b, k]) ** 2 for k in left_out])
        v = (1 - r2) / (n - 2)
        assert weak[b, 0] == pytest.approx(np.sum(het[left_out] * (r2 - v)), abs=1e-12)
        assert weak[b, 1] == pytest.approx(
            np.sum(het[left_out] ** 2 * (r2 ** 2 - 6 * v * r2 + 3 * v ** 2)), abs=1e-12)


def test_split_weak_sums_match_a_loop_over_the_pairs_the_whole_panel_leaves_out():
    rng = np.random.default_rng(3)
    rows, cols, col0, min_r2 = 13, 29, 4, 0.2
    full = rng.uniform(-1, 1, (rows, cols))
    parts = rng.uniform(-1, 1, (2, rows, cols))
    parts[1, :, 3] = np.nan          # a SNP monomorphic in one half: the whole panel's term
    lo = rng.integers(0, 20, rows).astype(np.int64)
    hi = lo + rng.integers(0, 30, rows)
    diag = rng.integers(-1, 40, rows).astype(np.int64)
    het, part_n = rng.uniform(0.05, 0.5, cols), np.array([31.0, 30.0])
    got = split_weak_sums(full, parts, lo, hi, col0, diag, min_r2, het, part_n, 61)
    for b in range(rows):
        for h in range(2):
            r_h = np.where(np.isnan(parts[h, b]), np.float32(full[b]), parts[h, b])
            n_h = np.where(np.isnan(parts[h, b]), 61, part_n[h])
            expect = sum(het[k] * (r_h[k] ** 2 - (1 - r_h[k] ** 2) / (n_h[k] - 2))
                         for k in range(cols) if lo[b] <= col0 + k < hi[b]
                         and col0 + k != diag[b] and float(np.float32(full[b, k])) ** 2 < min_r2)
            assert got[b, h] == pytest.approx(expect, abs=1e-12)


def test_split_weak_sums_from_products_match_the_halves_r_of_the_genotypes():
    """The fused kernel's sums, from cross-products of allele counts, against a loop over the
    pairs with each r computed by np.corrcoef of the whole panel's and each half's counts
    (the independent truth; a SNP monomorphic in one half takes the whole panel's term), and
    against :func:`split_weak_sums` on the r blocks it replaces."""
    rng = np.random.default_rng(11)
    n, rows, cols, col0, min_r2 = 64, 9, 23, 6, 0.05
    shared = rng.binomial(2, 0.3, (n, 1))            # some LD between rows and columns
    a = np.where(rng.random((n, rows)) < 0.5, shared, rng.binomial(2, 0.3, (n, rows)))
    b = np.where(rng.random((n, cols)) < 0.3, shared, rng.binomial(2, 0.4, (n, cols)))
    b[1::2, 5] = 1                                   # monomorphic in the odd half only
    a, b = a.astype(np.float32), b.astype(np.float32)
    halves = (np.arange(0, n, 2), np.arange(1, n, 2))
    lo = rng.integers(0, 15, rows).astype(np.int64)
    hi = lo + rng.integers(5, 30, rows)
    diag = rng.integers(-1, 30, rows).astype(np.int64)
    het = rng.uniform(0.05, 0.5, cols)

    def moments(x):
        return x.mean(axis=0, dtype=np.float64), x.var(axis=0, dtype=np.float64)

    (mean_a, var_a), (mean_b, var_b) = moments(a), moments(b)
    parts = [(moments(a[h]), moments(b[h])) for h in halves]
    part_n = np.array([len(h) for h in halves], dtype=np.float64)
    got = split_weak_sums_from_products(
        a.T @ b, (mean_a, mean_b), (var_a, var_b), float(n),
        np.stack([a[h].T @ b[h] for h in halves]),
        (np.stack([p[0][0] for p in parts]), np.stack([p[1][0] for p in parts])),
        (np.stack([p[0][1] for p in parts]), np.stack([p[1][1] for p in parts])),
        part_n, lo, hi, col0, diag, min_r2, het, n)

    def r(x, y):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.corrcoef(x.T.astype(np.float64), y.T.astype(np.float64))[:rows, rows:]

    full, half_r = r(a, b), [r(a[h], b[h]) for h in halves]
    assert np.isnan(half_r[1][:, 5]).all() and not np.isnan(half_r[0][:, 5]).any()
    expect = np.zeros((rows, 2))
    for i in range(rows):
        for k in range(cols):
            v = float(np.float32(full[i, k]))
            if not lo[i] <= col0 + k < hi[i] or col0 + k == diag[i] or v * v >= min_r2:
                continue
            for h in range(2):
                u, n_h = (half_r[h][i, k], part_n[h]) if np.isfinite(half_r[h][i, k]) else (v, n)
                expect[i, h] += het[k] * (u * u - (1 - u * u) / (n_h - 2))
    assert (expect != 0).any()
    np.testing.assert_allclose(got, expect, rtol=1e-10, atol=1e-12)
    part_r = [correlations_from_products(a[h].T @ b[h], row[0], col[0], row[1], col[1],
                                         float(len(h))) for h, (row, col) in zip(halves, parts)]
    blocks = split_weak_sums(
        correlations_from_products(a.T @ b, mean_a, mean_b, var_a, var_b, float(n)),
        np.stack(part_r), lo, hi, col0, diag, min_r2, het, part_n, n)
    np.testing.assert_allclose(got, blocks, rtol=1e-13, atol=1e-15)


def test_weak_ld_sums_are_unbiased_for_unlinked_snps():
    """For independent SNPs (rho = 0) the noise-corrected r^2 averages to 0 over many panels,
    where the raw r^2 averages to 1 / (n - 1)."""
    rng = np.random.default_rng(5)
    n, m, reps = 40, 30, 400
    raw, corrected = [], []
    for _ in range(reps):
        x = rng.integers(0, 3, (n, m)).astype(np.float64)
        r = np.corrcoef(x.T)[0, 1:].astype(np.float32)[None, :]
        *_, weak = select_block_entries(r, np.array([0]), np.array([m - 1]), 0,
                                        np.array([-1]), 0.5, np.ones(m - 1), n)
        raw.append(np.mean(r.astype(np.float64) ** 2))
        corrected.append(weak[0, 0] / (m - 1))
    assert np.mean(raw) == pytest.approx(1 / (n - 1), rel=0.05)
    assert abs(np.mean(corrected)) < 3 * np.std(corrected) / np.sqrt(reps)


@pytest.mark.parametrize("rho", [0.0, 0.1, 0.2])
def test_weak_fourth_moments_are_unbiased_for_rho_to_the_fourth(rho):
    """The fourth-moment term H^2 (r^4 - 6 v r^2 + 3 v^2) averages to H^2 rho^4 over panels of
    n = 60 people drawn with correlation rho (simulated, 4,000 panels), where raw r^4 is
    several times larger (3 / n^2 of noise alone at rho = 0)."""
    rng = np.random.default_rng(9)
    n, reps = 60, 4000
    x = rng.standard_normal((reps, n, 2))
    x[:, :, 1] = rho * x[:, :, 0] + np.sqrt(1 - rho ** 2) * x[:, :, 1]
    raw, corrected = [], []
    for k in range(reps):
        r = np.float32(np.corrcoef(x[k].T)[0, 1])
        *_, weak = select_block_entries(np.array([[r]], np.float32), np.array([0]),
                                        np.array([1]), 0, np.array([-1]), 0.9, np.ones(1), n)
        raw.append(float(r) ** 4)
        corrected.append(weak[0, 1])
    se = np.std(corrected) / np.sqrt(reps)
    assert abs(np.mean(corrected) - rho ** 4) < 3.5 * se
    assert np.mean(raw) - rho ** 4 > 10 * se


def test_symmetrize_upper_equals_scipy():
    rng = np.random.default_rng(1)
    m = 60
    a = sp.random(m, m, density=0.15, random_state=rng, format="csr", dtype=np.float32)
    upper = sp.triu(a, 0, format="csr") + sp.identity(m, dtype=np.float32, format="csr")
    upper.sort_indices()
    indptr, indices, values = symmetrize_upper(upper.indptr.astype(np.int64), upper.indices,
                                               upper.data)
    got = sp.csr_matrix((values, indices, indptr), shape=(m, m))
    expect = upper + sp.triu(upper, 1).T
    np.testing.assert_array_equal(got.toarray(), expect.toarray())
    for i in range(m):   # columns ascending in each row
        assert np.all(np.diff(indices[indptr[i]:indptr[i + 1]]) > 0)


@pytest.mark.parametrize("density", [0.02, 0.15, 1.0])
def test_mirrored_row_ranges_equal_the_dense_symmetric_matrix(density):
    """lower_extents + mirror_upper_rows over consecutive row ranges of random sizes give
    each row of U + triu(U, 1)' (dense, by scipy): its columns ascending, values, and first
    column; some rows with nothing left of the diagonal, some with nothing right of it."""
    rng = np.random.default_rng(3)
    m = 70
    a = sp.random(m, m, density=density, random_state=rng, format="csr", dtype=np.float32)
    upper = sp.triu(a, 1, format="csr") + sp.diags(rng.uniform(0.5, 1, m).astype(np.float32),
                                                   format="csr")
    upper.sort_indices()
    indptr = upper.indptr.astype(np.int64)
    dense = (upper + sp.triu(upper, 1).T).toarray()
    lower, first = lower_extents(indptr, upper.indices)
    np.testing.assert_array_equal(lower, (np.tril(dense, -1) != 0).sum(1))
    np.testing.assert_array_equal(first, [np.flatnonzero(row)[0] for row in dense])
    cursor, open_from, lo = indptr[:-1].copy(), 0, 0
    while lo < m:
        hi = min(m, lo + int(rng.integers(1, 12)))
        n = int(lower[lo:hi].sum() + indptr[hi] - indptr[lo])
        out_indptr = np.zeros(hi - lo + 1, np.int64)
        out_indices, out_values = np.empty(n, np.int32), np.empty(n, np.float32)
        open_from = mirror_upper_rows(indptr, upper.indices, upper.data, lower, cursor,
                                      open_from, lo, hi, out_indptr, out_indices, out_values)
        for i in range(lo, hi):
            row = slice(out_indptr[i - lo], out_indptr[i - lo + 1])
            np.testing.assert_array_equal(out_indices[row], np.flatnonzero(dense[i]))
            np.testing.assert_array_equal(out_values[row], dense[i][dense[i] != 0])
        lo = hi


def test_weighted_r_power_sums_match_dense_sums():
    rng = np.random.default_rng(2)
    a = sp.random(30, 45, density=0.3, random_state=rng, format="csr", dtype=np.float32)
    a.data = rng.uniform(-1, 1, a.nnz).astype(np.float32)
    w = rng.uniform(0, 0.5, 45)
    dense = a.toarray().astype(np.float64)
    for power in (2, 4):
        got = weighted_r_power_sums(a.indptr.astype(np.int64), a.indices, a.data, w, power)
        np.testing.assert_allclose(got, (np.abs(dense) ** power * w).sum(axis=1), rtol=1e-6)


def test_prune_pass_matches_reference_greedy():
    rng = np.random.default_rng(3)
    m = 80
    a = sp.random(m, m, density=0.1, random_state=rng, format="csr")
    a.data = rng.uniform(-1, 1, a.nnz)
    r = sp.csr_matrix(sp.triu(a, 1) + sp.triu(a, 1).T + sp.identity(m), dtype=np.float32)
    dense = r.toarray()
    order = rng.permutation(m)
    eligible = rng.random(m) > 0.1
    kept = np.zeros(m, dtype=np.int64)
    prune_pass(r.indptr.astype(np.int64), r.indices, r.data, order, np.arange(m), eligible,
               0.1, kept)
    expect = np.zeros(m, dtype=np.int64)
    for i in order:      # keep i unless a kept SNP has r^2 >= 0.1 with it
        if eligible[i] and not any(expect[k] and dense[k, i] ** 2 >= 0.1 for k in range(m)):
            expect[i] = 1
    np.testing.assert_array_equal(kept, expect)


def test_select_from_cross_products_matches_select_on_r():
    rng = np.random.default_rng(4)
    n, rows, cols, col0 = 50, 12, 20, 3
    xa = rng.integers(0, 3, (n, rows)).astype(np.float32)
    xb = rng.integers(0, 3, (n, cols)).astype(np.float32)
    products = xa.T @ xb
    ma, mb = xa.mean(axis=0, dtype=np.float64), xb.mean(axis=0, dtype=np.float64)
    sa, sb = 1 / xa.std(axis=0, dtype=np.float64), 1 / xb.std(axis=0, dtype=np.float64)
    r = np.corrcoef(np.hstack([xa, xb]).T.astype(np.float64))[:rows, rows:]
    lo = rng.integers(0, 10, rows).astype(np.int64) + col0
    hi = lo + rng.integers(0, 15, rows)
    diag = np.where(rng.random(rows) < 0.5, lo + 1, -1).astype(np.int64)
    het = rng.uniform(0.05, 0.5, cols)
    got = select_from_cross_products(products, ma, sa, mb, sb, 1 / n, lo, hi, col0, diag, 0.01,
                                     het, n)
    expect = select_block_entries(r.astype(np.float32), lo, hi, col0, diag, 0.01, het, n)
    np.testing.assert_array_equal(got[0], expect[0])
    np.testing.assert_array_equal(got[1], expect[1])
    np.testing.assert_allclose(got[2], expect[2], atol=1e-7)
    np.testing.assert_allclose(got[3], expect[3], atol=1e-9)


def test_correlations_from_products_equal_pearson_r_of_the_imputed_counts():
    """r from cross-products against np.corrcoef of the counts themselves (the independent
    truth) and, bit for bit, against the numpy expression it replaced; a monomorphic column
    gives NaN in both."""
    rng = np.random.default_rng(4)
    n = 57
    a = rng.binomial(2, rng.uniform(0.05, 0.6, 7), (n, 7)).astype(np.float32)
    b = rng.binomial(2, rng.uniform(0.05, 0.6, 11), (n, 11)).astype(np.float32)
    b[:, 3] = 1.0                                   # monomorphic
    products = a.T @ b
    mean_a, mean_b = a.mean(axis=0, dtype=np.float64), b.mean(axis=0, dtype=np.float64)
    var_a = a.var(axis=0, dtype=np.float64)
    var_b = (b.astype(np.float64) ** 2).mean(axis=0) - mean_b ** 2
    got = correlations_from_products(products, mean_a, mean_b, var_a, var_b, float(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        truth = np.corrcoef(a.T.astype(np.float64), b.T.astype(np.float64))[:7, 7:]
        numpy_expression = ((products.astype(np.float64) / n - np.outer(mean_a, mean_b))
                            / np.sqrt(np.outer(var_a, var_b)))
    np.testing.assert_allclose(got[:, np.arange(11) != 3], truth[:, np.arange(11) != 3],
                               rtol=1e-12, atol=1e-12)
    assert np.isnan(got[:, 3]).all()
    np.testing.assert_array_equal(got, numpy_expression)
