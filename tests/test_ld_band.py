"""The band layout of LD (bayesmix.kernels.ld_band, LDMatrix.row_first): GCTB's dense files,
and sparse files without gaps, decoded into it equal the CSR decoding, and every band kernel
equals a dense numpy reference on random matrices (runs with zeros inside and at their ends,
int16 codes that round to 0, a zero diagonal)."""

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import scipy.sparse as sp

import bayesmix.ld.gctb as gctb
from bayesmix.kernels.ld_band import (band_diagonal, band_row_statistics, dense_band_block,
                                      symmetric_band_matvec)
from bayesmix.kernels.sbayes import band_from_csr, independent_blocks, row_ld_statistics, \
    summary_loglik, summary_loglik_band
from bayesmix.errors import InputError
from bayesmix.ld.spectrum import ld_min_eigenvalue
from bayesmix.ld.store import LDMatrix
from tests.test_ld_gctb_decode import passes, random_ld, write_by_hand  # noqa: F401 (fixture)


def band_ld(m, seed, blocks=1, diag_high=1.0):
    """A symmetric block-diagonal dense r of ``blocks`` random windowed blocks, with values
    that int16 rounds to 0 (1e-6) inside and at the ends of some rows' windows."""
    rng = np.random.default_rng(seed)
    sizes = np.diff(np.linspace(0, m, blocks + 1).astype(int))
    dense = sp.block_diag([sp.coo_array(random_ld(size, seed + k, diag_high))
                           for k, size in enumerate(sizes)]).toarray().astype(np.float32)
    for i in rng.choice(m, m // 5, replace=False):
        nonzero = np.flatnonzero(dense[i])
        j = int(nonzero[-1] if rng.random() < 0.5 else nonzero[len(nonzero) // 2])
        if j != i:
            dense[i, j] = dense[j, i] = 1e-6
    return dense


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(gctb, "CHUNK_BYTES", 64)


def csr_and_band(tmp_path, dense, gctb_type="shrunk", dtype="int16"):
    prefix = write_by_hand(dense, tmp_path / "x", gctb_type)
    return (gctb.read_gctb_ldm(prefix, dtype=dtype),
            gctb.read_gctb_ldm(prefix, dtype=dtype, band=True))


def stored_dense(ld: LDMatrix) -> np.ndarray:
    """r of the stored entries, 0 elsewhere (float64)."""
    csr = ld.to_csr()
    return sp.csr_matrix((csr.data * np.float64(csr.scale), csr.indices, csr.indptr),
                         shape=csr.shape).toarray()


@pytest.mark.parametrize("diag_high", [1.0, 1.2])   # 1.0: decoded in one pass, 1.2: in two
@pytest.mark.parametrize("dtype", ["float32", "int16"])
@pytest.mark.parametrize("gctb_type", ["full", "band", "shrunk"])
def test_band_decoding_is_the_band_layout_of_the_csr_decoding(tmp_path, small_chunks, dtype,
                                                              gctb_type, diag_high):
    dense = band_ld(150, seed=3, diag_high=diag_high)
    dense[5, 5] = 0.0            # a zero diagonal is still an entry of its row
    csr, band = csr_and_band(tmp_path, dense, gctb_type, dtype)
    assert band.is_band and band.indices is None and band.scale == csr.scale
    first, row_ptr, values = band_from_csr(np.asarray(csr.indptr), np.asarray(csr.indices),
                                           np.asarray(csr.data))
    np.testing.assert_array_equal(band.row_first, first)
    np.testing.assert_array_equal(np.asarray(band.indptr), row_ptr)
    np.testing.assert_array_equal(band.data, values)
    back = band.to_csr()
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(back, name), getattr(csr, name))
    if dtype == "float32":
        np.testing.assert_array_equal(stored_dense(band), dense)
    else:   # int16: the 1e-6 entries round to 0 and are left out, as the CSR decoding does
        assert csr.nnz == np.count_nonzero(np.abs(dense) > csr.scale / 2) + (dense[5, 5] == 0)
        assert np.abs(stored_dense(band) - dense).max() <= csr.scale / 2 * 1.0001


def run_padding(dense) -> float:
    """Values per stored entry of the runs from each row's first to its last nonzero."""
    runs = [np.flatnonzero(row)[[0, -1]] for row in dense if row.any()]
    return sum(hi - lo + 1 for lo, hi in runs) / np.count_nonzero(dense)


@pytest.mark.parametrize("tiny", ["none", "1e-6", "0"])
@pytest.mark.parametrize("diag_high", [1.0, 1.2])   # 1.0: decoded in one pass, 1.2: in two
@pytest.mark.parametrize("value_dtype", ["<f4", "<f8"])
@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_sparse_decoding_into_the_band_layout_is_that_of_the_csr_decoding(
        tmp_path, small_chunks, passes, monkeypatch, dtype, value_dtype, diag_high, tiny):
    """Entries written by hand in GCTB's sparse format, with gaps inside runs, a row without
    its diagonal and a diagonal whose int16 code is 0 (still an entry), any padding allowed
    here. An off-diagonal entry stored as 0 (``tiny``: 1e-6, an int16 code of 0; or an
    explicit 0 in the file) is an entry of the file, which GCTB counts and the band layout
    cannot hold: such a file is read as CSR."""
    monkeypatch.setattr(gctb, "BAND_PADDING_LIMIT", np.inf)
    dense = band_ld(150, seed=3, diag_high=diag_high)
    off_diagonal = ~np.eye(150, dtype=bool)
    dense[off_diagonal & (np.abs(dense) < 1e-5)] = 0.0     # band_ld's 1e-6 entries
    if tiny == "1e-6":
        dense[40, 44] = dense[44, 40] = 1e-6
    dense[5, 5] = 0.0            # not in the file: the row's run is its off-diagonal entries
    dense[-1, -1] = 1e-6         # a diagonal at the end of its run, int16 code 0: still held
    prefix = write_by_hand(dense, tmp_path / "x", "sparse", value_dtype)
    if tiny == "0":              # an explicit 0 written in place of row 40's second entry
        words = np.fromfile(f"{prefix}.bin", dtype="<u4")
        sizes = np.count_nonzero(dense, axis=1)
        value_words = 1 if value_dtype == "<f4" else 2
        start = int((sizes[:40] * (1 + value_words)).sum()) + sizes[40] + value_words
        words[start:start + value_words] = 0
        words.tofile(f"{prefix}.bin")
        dense[40, np.flatnonzero(dense[40])[1]] = 0.0
    csr = gctb.read_gctb_ldm(prefix, dtype=dtype)
    band = gctb.read_gctb_ldm(prefix, dtype=dtype, band=True)
    held_zero = tiny == "0" or (tiny == "1e-6" and dtype == "int16")
    assert band.is_band != held_zero and band.scale == csr.scale
    if held_zero:
        for name in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(band, name), getattr(csr, name))
    else:
        first, row_ptr, values = band_from_csr(np.asarray(csr.indptr),
                                               np.asarray(csr.indices), np.asarray(csr.data))
        np.testing.assert_array_equal(band.row_first, first)
        np.testing.assert_array_equal(np.asarray(band.indptr), row_ptr)
        np.testing.assert_array_equal(band.data, values)
    tolerance = csr.scale / 2 * 1.0001 if dtype == "int16" else 0.0
    assert np.abs(stored_dense(band) - dense).max() <= tolerance


def test_a_sparse_file_takes_the_band_layout_only_without_gaps(tmp_path, small_chunks):
    """Sparse LD whose rows are runs (a window, stored whole) is read into the band layout;
    LD thresholded into runs with gaps stays CSR, as does a list with such a file in it."""
    rng = np.random.default_rng(7)
    offsets = np.abs(np.subtract.outer(np.arange(80), np.arange(80)))
    r = rng.uniform(-0.6, 0.6, (80, 80))
    window = np.where(offsets <= 6, (r + r.T) / 2, 0.0).astype(np.float32)
    np.fill_diagonal(window, 1.0)
    thresholded = np.where(np.abs(window) >= 0.25, window, 0.0)
    assert run_padding(window) == 1.0 and run_padding(thresholded) > gctb.BAND_PADDING_LIMIT
    for dense, is_band in ((window, True), (thresholded, False)):
        prefix = write_by_hand(dense, tmp_path / f"s{is_band}", "sparse")
        ld = gctb.read_gctb_ldm(prefix, dtype="float32", band=True)
        assert ld.is_band == is_band
        np.testing.assert_array_equal(stored_dense(ld), dense)
        shrunk = write_by_hand(band_ld(30, seed=1), tmp_path / f"d{is_band}", "shrunk")
        assert gctb.read_gctb_list([shrunk, prefix], dtype="int16", band=True).is_band == is_band


def test_a_sparse_row_whose_run_changed_is_an_error_not_a_write_past_it(tmp_path, passes,
                                                                        monkeypatch):
    """The band arrays are sized from each row's first and last column index, read before the
    rows are decoded: a row whose run no longer has that length (the file changed in between)
    is an error naming the file and row, not a write past the arrays."""
    monkeypatch.setattr(gctb, "BAND_PADDING_LIMIT", np.inf)
    prefix = write_by_hand(band_ld(60, seed=4), tmp_path / "x", "sparse")
    runs = gctb._BinFile.sparse_runs

    def one_shorter(self):
        first, length, largest_col = runs(self)
        length = length.copy()
        length[30] -= 1
        return first, length, largest_col

    monkeypatch.setattr(gctb._BinFile, "sparse_runs", one_shorter)
    with pytest.raises(InputError, match=r"row 30 \(x_30\): its columns changed") as err:
        gctb.read_gctb_ldm(prefix, dtype="float32", band=True)   # (int16: 1e-6 entries, CSR)
    assert err.value.path.endswith(".bin")


def test_a_sparse_column_beyond_the_matrix_is_refused_in_either_layout(tmp_path):
    """A column index past the last SNP (a corrupt file) is an error naming the file, not a
    band run reaching past the matrix."""
    dense = band_ld(40, seed=2)
    prefix = write_by_hand(dense, tmp_path / "x", "sparse")
    words = np.fromfile(f"{prefix}.bin", dtype="<u4")
    last_row = np.count_nonzero(dense[-1])
    words[-2 * last_row + last_row - 1] = 40     # the last row's last column index
    words.tofile(f"{prefix}.bin")
    messages = []
    for band in (False, True):
        with pytest.raises(InputError) as err:
            gctb.read_gctb_ldm(prefix, band=band)
        assert err.value.path.endswith(".info") or err.value.path.endswith(".bin")
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_a_list_of_dense_files_decodes_into_one_band_matrix(tmp_path, small_chunks):
    blocks = [band_ld(m, seed=m) for m in (40, 70, 9)]
    prefixes = [write_by_hand(b, tmp_path / f"c{k}", kind)
                for k, (b, kind) in enumerate(zip(blocks, ["shrunk", "full", "band"]))]
    csr = gctb.read_gctb_list(prefixes, dtype="int16")
    band = gctb.read_gctb_list(prefixes, dtype="int16", band=True)
    assert band.is_band and band.meta["combined"] == 3
    np.testing.assert_array_equal(stored_dense(band), stored_dense(csr))
    np.testing.assert_array_equal(band.to_csr().indices, csr.indices)


@pytest.mark.parametrize("seed", range(3))
def test_band_kernels_match_dense_references(tmp_path, seed):
    dense = band_ld(120, seed, blocks=3, diag_high=1.1)
    dense[7, 7] = 0.0
    csr, band = csr_and_band(tmp_path, dense)
    truth = stored_dense(band)
    is_stored = truth != 0
    np.fill_diagonal(is_stored, True)
    # the CSR form's row statistics over its stored entries, summed here entry by entry
    r = csr.data * np.float64(csr.scale)
    rows = np.repeat(np.arange(120), np.diff(csr.indptr))
    score, samp = row_ld_statistics(np.asarray(csr.indptr), csr.data, csr.scale)
    np.testing.assert_allclose(score, np.bincount(rows, r ** 2, minlength=120), rtol=1e-12)
    np.testing.assert_allclose(samp, np.bincount(rows, (1 - r ** 2) ** 2, minlength=120),
                               rtol=1e-12)
    ptr, first, data, scale = np.asarray(band.indptr), band.row_first, band.data, band.scale
    np.testing.assert_allclose(band_diagonal(ptr, first, data, np.float32(scale)),
                               np.diag(truth), rtol=1e-6)
    score, samp, count = band_row_statistics(ptr, first, data, scale)
    np.testing.assert_allclose(score, (truth ** 2).sum(axis=1))
    np.testing.assert_allclose(samp, np.where(is_stored, (1 - truth ** 2) ** 2, 0).sum(axis=1))
    np.testing.assert_array_equal(count, is_stored.sum(axis=1))
    # blocks: the finest cut no stored entry crosses, found by brute force
    rows, cols = np.nonzero(is_stored)
    cut = [j for j in range(1, 120) if not ((rows < j) & (cols >= j)).any()]
    np.testing.assert_array_equal(independent_blocks(ptr, first, True), [0, *cut, 120])
    rng = np.random.default_rng(seed)
    bounds = [0, *cut, 120]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        x, out = rng.normal(size=hi - lo), np.empty(hi - lo)
        symmetric_band_matvec(ptr, first, data, scale, lo, x, out)
        np.testing.assert_allclose(out, truth[lo:hi, lo:hi] @ x, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(dense_band_block(ptr, first, data, scale, lo, hi),
                                      truth[lo:hi, lo:hi])


def wide_band(m, rng):
    """A symmetric dense r whose rows run 0-150 columns right of the diagonal, with zeros at
    the start of and inside some runs and one row without any entry (diagonal 0)."""
    dense = np.zeros((m, m))
    for i in range(m):
        stop = min(m, i + 1 + int(rng.choice([0, 3, 40, 150])))
        dense[i, i + 1:stop] = rng.uniform(-1.0, 1.0, stop - i - 1)
        if rng.random() < 0.3:
            dense[i, i + 1:stop:5] = 0.0
        if rng.random() < 0.3:
            dense[i, i + 1:i + 1 + int(rng.integers(1, 40))] = 0.0
    dense = dense + dense.T
    np.fill_diagonal(dense, rng.uniform(0.5, 1.5, m))
    empty = int(rng.integers(m))
    dense[empty] = dense[:, empty] = 0.0
    return dense


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_band_matvec_of_wide_runs_equals_the_dense_product(seed, dtype):
    """The product groups rows by four where their runs share columns (>= 32): long runs of
    different lengths and starts, next to short and empty ones, in two independent blocks."""
    rng = np.random.default_rng(seed)
    sizes = (int(rng.integers(200, 320)), int(rng.integers(5, 60)))
    truth = sp.csr_matrix(scipy.linalg.block_diag(*[wide_band(m, rng) for m in sizes]))
    ld = LDMatrix.from_scipy(truth, snp_table(sum(sizes)), dtype=dtype)
    first, row_ptr, values = band_from_csr(np.asarray(ld.indptr), np.asarray(ld.indices),
                                           np.asarray(ld.data))
    stored = sp.csr_matrix((ld.data * np.float64(ld.scale), ld.indices, ld.indptr),
                           shape=ld.shape).toarray()
    for lo, hi in ((0, sizes[0]), (sizes[0], sum(sizes))):
        x, out = rng.normal(size=hi - lo), np.empty(hi - lo)
        symmetric_band_matvec(row_ptr, first, values, ld.scale, lo, x, out)
        np.testing.assert_allclose(out, stored[lo:hi, lo:hi] @ x, rtol=1e-12, atol=1e-12)


def snp_table(m):
    return pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1", "bp": np.arange(m) + 1,
                         "a1": "A", "a2": "G", "freq": 0.3})


@pytest.mark.parametrize("seed", range(3))
def test_band_subset_equals_the_dense_submatrix(tmp_path, seed):
    dense = band_ld(100, seed)
    csr, band = csr_and_band(tmp_path, dense)
    keep = np.sort(np.random.default_rng(seed).choice(100, 60, replace=False))
    ids = band.snps["snp"].to_numpy()[keep]
    sub_band, sub_csr = band.subset(ids), csr.subset(ids)
    assert sub_band.is_band and list(sub_band.snps["snp"]) == list(ids)
    np.testing.assert_array_equal(stored_dense(sub_band), stored_dense(csr)[np.ix_(keep, keep)])
    first, row_ptr, values = band_from_csr(np.asarray(sub_csr.indptr),
                                           np.asarray(sub_csr.indices), np.asarray(sub_csr.data))
    np.testing.assert_array_equal(sub_band.row_first, first)
    np.testing.assert_array_equal(np.asarray(sub_band.indptr), row_ptr)
    np.testing.assert_array_equal(sub_band.data, values)


def test_band_likelihood_and_eigenvalue_equal_the_csr_ones(tmp_path):
    dense = band_ld(90, seed=5, blocks=2)
    csr, band = csr_and_band(tmp_path, dense)
    truth = stored_dense(band)
    rng = np.random.default_rng(0)
    m = 90
    s, xty, xtx_diag = np.sqrt(np.full(m, 1e4)), rng.normal(size=m) * 100, np.full(m, 1e4)
    theta = np.append(rng.normal(size=m) * 0.01 * (rng.random(m) < 0.3), 0.9)
    settings = np.array([band.scale, 0.1, 1e4, 1e4])
    logp_b, grad_b = summary_loglik_band(theta, np.asarray(band.indptr, np.int64),
                                         band.row_first, band.data, s, xty, xtx_diag, settings)
    logp_c, grad_c = summary_loglik(theta, np.asarray(csr.indptr, np.int64), csr.indices,
                                    csr.data, s, xty, xtx_diag, settings)
    assert logp_b == logp_c
    np.testing.assert_array_equal(grad_b, grad_c)
    # the formula of the kernel's docstring, dense: X'X_lam = (1 - lam) S R S + lam diag(X'X)
    beta, sig2, lam = theta[:m], theta[m], 0.1
    xtx = (1 - lam) * np.outer(s, s) * truth + lam * np.diag(xtx_diag)
    sse = 1e4 - 2 * beta @ xty + beta @ xtx @ beta
    assert logp_b == pytest.approx(-0.5 * 1e4 * np.log(2 * np.pi * sig2) - 0.5 * sse / sig2,
                                   rel=1e-10)
    exact = np.linalg.eigvalsh(truth).min()
    for ld in (band, csr):
        assert ld_min_eigenvalue(ld, progress=False) == pytest.approx(exact, abs=1e-9)
        lanczos = ld_min_eigenvalue(ld, dense_below=1, progress=False)   # the mat-vec path
        assert lanczos == pytest.approx(exact, abs=1e-3)


def test_band_matrix_needs_one_layout(tmp_path):
    _, band = csr_and_band(tmp_path, band_ld(20, seed=1))
    with pytest.raises(ValueError, match="exactly one"):
        LDMatrix(band.indptr, np.zeros(band.nnz, np.int32), band.data, band.snps,
                 row_first=band.row_first)
    with pytest.raises(ValueError, match="exactly one"):
        LDMatrix(band.indptr, None, band.data, band.snps)
    saved = band.save(tmp_path / "saved")      # saved as CSR
    loaded = LDMatrix.load(saved)
    assert not loaded.is_band
    np.testing.assert_array_equal(stored_dense(loaded), stored_dense(band))
    assert isinstance(loaded.snps, pd.DataFrame)
