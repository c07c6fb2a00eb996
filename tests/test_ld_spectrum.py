"""Smallest LD eigenvalue (bayesmix.ld.spectrum) against dense numpy eigenvalues, and its
numba kernels against scipy products."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from bayesmix.io.plink import Genotypes
from bayesmix.kernels.ld_spectrum import (crossing_r2, dense_block, symmetric_block_matvec,
                                          upper_starts)
from bayesmix.kernels.sbayes import band_from_csr
from bayesmix.ld import build_ld
from bayesmix.ld.spectrum import (ATOL, RTOL, lanczos_min_eigenvalue, ld_block_matvec,
                                  ld_min_eigenvalue, ridge_for_min_eigenvalue)
from bayesmix.ld.store import LDMatrix


def snp_table(m):
    return pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1", "bp": np.arange(m) + 1,
                         "a1": "A", "a2": "G", "freq": 0.3})


def random_symmetric_ld(m, density, seed, dtype):
    """Random symmetric sparse matrix with unit diagonal and |r| < 1 (indefinite in general)."""
    rng = np.random.default_rng(seed)
    upper = sp.random(m, m, density=density, random_state=rng, format="coo")
    upper.data = rng.uniform(-0.95, 0.95, upper.nnz)
    upper = sp.triu(upper, k=1)
    matrix = (upper + upper.T + sp.identity(m)).tocsr()
    return LDMatrix.from_scipy(matrix, snp_table(m), dtype=dtype)


def exact_matrix(ld):
    """The stored values decoded exactly in float64 (``ld.to_scipy()`` decodes int16 in float32)."""
    return sp.csr_matrix((ld.data.astype(np.float64) * ld.scale, ld.indices, ld.indptr),
                         shape=ld.shape)


def exact_min_eigenvalue(ld):
    return float(np.linalg.eigvalsh(exact_matrix(ld).toarray())[0])


def assert_low_side_within_tolerance(estimate, exact):
    """The documented contract: at or below the true value, by at most the tolerance."""
    assert estimate <= exact + 1e-9
    assert exact - estimate <= max(RTOL * abs(exact), ATOL) * 1.05 + 1e-9


def block_matvec(ld, lo, x, out):
    """The upper-triangle product of the block starting at row ``lo`` (length of ``x``)."""
    starts = upper_starts(ld.indptr, ld.indices, lo, lo + len(x))
    symmetric_block_matvec(ld.indptr, starts, ld.indices, ld.data, ld.scale, lo, x, out)


@pytest.mark.parametrize("dtype", ["int16", "float32"])
def test_block_matvec_and_dense_block_match_scipy(dtype):
    ld = random_symmetric_ld(700, 0.02, seed=1, dtype=dtype)
    matrix = exact_matrix(ld)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(700)
    out = np.empty(700)
    block_matvec(ld, 0, x, out)
    np.testing.assert_allclose(out, matrix @ x, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out, ld.to_scipy() @ x, rtol=1e-5, atol=1e-5)
    # a block of rows/columns 200..499 of a block-diagonal matrix
    blocks = sp.block_diag([random_symmetric_ld(k, 0.05, seed=k, dtype="float32").to_scipy()
                            for k in (200, 300, 200)]).tocsr()
    ld = LDMatrix.from_scipy(blocks, snp_table(700), dtype=dtype)
    y = rng.standard_normal(300)
    out = np.empty(300)
    block_matvec(ld, 200, y, out)
    dense = exact_matrix(ld).toarray()[200:500, 200:500]
    np.testing.assert_allclose(out, dense @ y, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dense_block(ld.indptr, ld.indices, ld.data, ld.scale, 200, 500),
                               dense, rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", ["int16", "float32"])
def test_submatrix_and_crossing_sums_match_dense_references(dtype):
    """dense_block of rows/columns that also have entries outside the range, and crossing_r2
    (r^2 over stored pairs i < c <= j, and over all i < j) by brute force on the dense matrix."""
    ld = random_symmetric_ld(300, 0.05, seed=4, dtype=dtype)
    dense = exact_matrix(ld).toarray()
    for lo, hi in ((0, 300), (40, 170), (299, 300)):
        np.testing.assert_allclose(dense_block(ld.indptr, ld.indices, ld.data, ld.scale, lo, hi),
                                   dense[lo:hi, lo:hi], rtol=1e-15, atol=0)
    expected = [(dense[:c, c:] ** 2).sum() for c in range(301)]
    first, row_ptr, band = band_from_csr(np.asarray(ld.indptr), np.asarray(ld.indices),
                                         np.asarray(ld.data))
    for layout in (ld.indptr, ld.indices, ld.data, ld.scale), (row_ptr, first, band, ld.scale,
                                                                True):
        crossing, total = crossing_r2(*layout)
        np.testing.assert_allclose(crossing, expected, rtol=1e-12, atol=1e-12)
        assert total == pytest.approx((np.triu(dense, 1) ** 2).sum(), rel=1e-12)


@pytest.fixture(scope="module")
def sparse_ld_chr22(bfile22):
    """GCTB-style sparse LD (n r^2 >= 10) of the first 2,000 SNPs of the shipped chr22, 503
    people (strongly indefinite), and its smallest eigenvalue."""
    ids = set(Genotypes.open(bfile22).snps["snp"].iloc[:2000])
    ld = build_ld(Genotypes.open(bfile22, extract=ids), "sparse", dtype="int16", progress=False)
    return ld, exact_min_eigenvalue(ld)


def test_min_eigenvalue_of_thresholded_real_ld(sparse_ld_chr22):
    ld, exact = sparse_ld_chr22
    assert exact < -2  # thresholded LD of a small panel is far from positive definite
    for seed in range(3):
        estimate = ld_min_eigenvalue(ld, dense_below=500, seed=seed)  # Lanczos
        assert_low_side_within_tolerance(estimate, exact)
    assert ld_min_eigenvalue(ld, dense_below=2001) == pytest.approx(exact, abs=1e-9)  # dense
    as_float = ld.astype("float32")
    assert_low_side_within_tolerance(ld_min_eigenvalue(as_float, dense_below=500), exact)


@pytest.mark.parametrize("seed", [3, 4])
def test_min_eigenvalue_of_random_indefinite_matrices(seed):
    ld = random_symmetric_ld(1500, 0.004, seed=seed, dtype="float32")
    exact = exact_min_eigenvalue(ld)
    assert exact < -0.5
    assert_low_side_within_tolerance(ld_min_eigenvalue(ld, dense_below=100, seed=seed), exact)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_min_eigenvalue_of_small_panel_window_ld(seed):
    """Window LD of 30-300 people: very negative, nearly degenerate lowest eigenvalues (a
    Ritz value can sit above lambda_min by more than its residual norm)."""
    rng = np.random.default_rng(seed)
    m, n_people = 1500, int(rng.integers(30, 300))
    g = rng.normal(size=(n_people, m)).cumsum(axis=1) * 0.3 + rng.normal(size=(n_people, m))
    r = np.corrcoef(g, rowvar=False)
    width = np.abs(np.subtract.outer(np.arange(m), np.arange(m))) <= int(rng.integers(10, 200))
    ld = LDMatrix.from_scipy(np.where(width, r, 0.0), snp_table(m), dtype="int16")
    exact = exact_min_eigenvalue(ld)
    for start in range(2):
        assert_low_side_within_tolerance(ld_min_eigenvalue(ld, dense_below=100, seed=start),
                                         exact)


def ar1_band(m, rho, half_width):
    """Positive-definite-ish banded AR(1) correlations r_ij = rho^|i-j|, |i-j| <= half_width:
    its lowest eigenvalues are densely packed, the hard case for Lanczos."""
    lags = np.arange(half_width + 1)
    diagonals = [np.full(m - k, rho ** k) for k in lags]
    upper = sp.diags(diagonals[1:], lags[1:], shape=(m, m))
    return (upper + upper.T + sp.identity(m)).tocsr()


@pytest.fixture(scope="module")
def band_ld():
    ld = LDMatrix.from_scipy(ar1_band(2000, 0.9, 300), snp_table(2000), dtype="int16")
    return ld, exact_min_eigenvalue(ld)


def test_min_eigenvalue_of_band_with_clustered_low_spectrum(band_ld):
    ld, exact = band_ld
    assert 0.04 < exact < 0.06  # ~ (1 - rho) / (1 + rho) = 0.0526
    for seed in range(3):
        est = lanczos_min_eigenvalue(ld_block_matvec(ld, 0, 2000), 2000, seed=seed)
        assert est.converged and est.ritz >= exact - 1e-9  # Ritz values never undershoot
        assert_low_side_within_tolerance(est.value, exact)
    # a caller that only needs "above 0.01" stops early, still on the low side
    full = lanczos_min_eigenvalue(ld_block_matvec(ld, 0, 2000), 2000)
    quick = lanczos_min_eigenvalue(ld_block_matvec(ld, 0, 2000), 2000, stop_above=0.01)
    assert quick.n_products < full.n_products
    assert 0.01 <= quick.value <= exact
    assert ridge_for_min_eigenvalue(quick.value, 0.01) == 0.0


def test_stop_above_is_not_fooled_by_a_late_drop_of_the_ritz_value(bfile21):
    """1 Mb window LD of 2,000 SNPs of the shipped chr21 (503 people) shrunk towards I so that
    its smallest eigenvalue (dense eigvalsh) is 0.02 below the ridge's target. Its Ritz value
    stalls near the zero eigenvalues of the panel's rank-deficient LD for ~15 products, then
    drops fast: at 20 products theta_k - (theta_{k/2} - theta_k) was above the target for
    half of the start vectors (by up to 0.12), which gave no ridge at all. The stop above the
    target must not happen while the Ritz value is still speeding up."""
    target = 0.01
    ids = set(Genotypes.open(bfile21).snps["snp"].iloc[4000:6000])
    r = exact_matrix(build_ld(Genotypes.open(bfile21, extract=ids), "window", window_kb=1000,
                              progress=False))
    e = float(np.linalg.eigvalsh(r.toarray())[0])
    c = (target - 0.02 - e) / (1 - e)   # (1 - c) R + c I: unit diagonal, lambda_min moved
    ld = LDMatrix.from_scipy(((1 - c) * r + c * sp.identity(2000)).tocsr(), snp_table(2000),
                             dtype="float32")
    dense = exact_matrix(ld).toarray()
    exact = float(np.linalg.eigvalsh(dense)[0])
    assert target - 0.03 < exact < target - 0.01
    for seed in range(6):
        estimate = ld_min_eigenvalue(ld, dense_below=500, stop_above=target, seed=seed,
                                     progress=False)
        assert estimate <= exact + 1e-9
        lam = ridge_for_min_eigenvalue(estimate, target)
        assert np.linalg.eigvalsh((1 - lam) * dense + lam * np.eye(2000))[0] >= target - 1e-9


def test_block_diagonal_matrix_mixes_dense_and_lanczos_blocks(sparse_ld_chr22, band_ld):
    """Blocks below ``dense_below`` exact, the others by Lanczos; the minimum over blocks."""
    real, real_exact = sparse_ld_chr22
    band, band_exact = band_ld
    small = random_symmetric_ld(300, 0.05, seed=5, dtype="int16")
    small_exact = exact_min_eigenvalue(small)
    for blocks, exact in (([small, band, real], min(small_exact, band_exact, real_exact)),
                          ([small, band], min(small_exact, band_exact))):
        matrix = sp.block_diag([b.to_scipy() for b in blocks]).tocsr()
        ld = LDMatrix.from_scipy(matrix, snp_table(matrix.shape[0]), dtype="int16")
        assert_low_side_within_tolerance(ld_min_eigenvalue(ld, dense_below=1000), exact)


def test_invariant_krylov_space_stops_exactly():
    """A matrix with two distinct eigenvalues: Lanczos is exact after two products."""
    m = 3000
    u = np.ones(m) / np.sqrt(m)
    est = lanczos_min_eigenvalue(lambda x, out: np.copyto(out, x - 1.5 * u * (u @ x)), m)
    assert est.n_products <= 3 and est.value == pytest.approx(-0.5, abs=1e-9)


def test_ridge_lifts_the_smallest_eigenvalue_to_the_target(sparse_ld_chr22):
    r = exact_matrix(sparse_ld_chr22[0]).toarray()[:600, :600]
    e = float(np.linalg.eigvalsh(r)[0])
    lam = ridge_for_min_eigenvalue(e, 0.01)
    lifted = np.linalg.eigvalsh((1 - lam) * r + lam * np.eye(600))[0]
    assert lifted == pytest.approx(0.01, abs=1e-9)
    assert ridge_for_min_eigenvalue(0.2, 0.01) == 0.0


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", ["int16", "float32"])
def test_block_matvec_on_runs_gaps_and_missing_diagonals(seed, dtype):
    """Rows that are one run of columns (the index-free loop), rows with gaps, rows without a
    stored diagonal or with nothing above it: the product equals the dense one."""
    rng = np.random.default_rng(seed)
    m = 400
    dense = np.zeros((m, m))
    for i in range(m):
        width = int(rng.integers(0, 40))
        dense[i, i:i + width + 1] = rng.uniform(-0.6, 0.6, len(range(i, min(m, i + width + 1))))
        if rng.random() < 0.3:   # a gap: drop entries inside the run
            dense[i, i + 1:i + width:3] = 0.0
    dense = np.triu(dense, 1)
    dense = dense + dense.T + np.diag(np.where(rng.random(m) < 0.1, 0.0, 1.0))
    ld = LDMatrix.from_scipy(sp.csr_matrix(dense), snp_table(m), dtype=dtype)
    exact = exact_matrix(ld).toarray()
    x = rng.standard_normal(m)
    out = np.empty(m)
    block_matvec(ld, 0, x, out)
    np.testing.assert_allclose(out, exact @ x, rtol=1e-10, atol=1e-10)
