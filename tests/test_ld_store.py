"""LDMatrix store: save/load (memory-mapped), int16 quantisation, merge, subset, columns."""

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from bayesmix.errors import InputError
from bayesmix.ld.store import FORMAT_VERSION, INT16_MAX, LDMatrix, merge


def random_snps(m, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "snp": [f"rs{i}" for i in range(m)], "chr": "7", "bp": np.sort(rng.integers(1, 10**7, m)),
        "cm": np.zeros(m), "a1": "A", "a2": "G", "freq": rng.uniform(0.05, 0.95, m),
        "n": np.full(m, 500),
    })


def random_symmetric(m, density=0.2, seed=0):
    rng = np.random.default_rng(seed)
    upper = sp.random(m, m, density=density, random_state=rng, format="csr")
    upper.data = rng.uniform(-1, 1, upper.nnz)
    full = sp.triu(upper, 1) + sp.triu(upper, 1).T + sp.identity(m)
    return sp.csr_matrix(full, dtype=np.float32)


def test_save_load_roundtrip_is_exact_and_memory_mapped(tmp_path):
    m = 60
    dense = random_symmetric(m).toarray()
    ld = LDMatrix.from_scipy(dense, random_snps(m), meta={"kind": "full", "n_samples": 500})
    path = ld.save(tmp_path / "chr7.ld")
    back = LDMatrix.load(path)
    assert isinstance(back.data, np.memmap)
    assert back.is_square and back.kind == "full" and back.n_samples == 500
    np.testing.assert_array_equal(back.to_scipy().toarray(), dense.astype(np.float32))
    pd.testing.assert_frame_equal(back.snps, ld.snps)
    meta = json.loads((path / "meta.json").read_text())
    assert meta["version"] == FORMAT_VERSION and meta["format"] == "bayesmix-ld"
    assert back.indices.dtype == np.int32 and back.indptr.dtype == np.int32


def test_int16_error_is_bounded_by_half_a_step(tmp_path):
    rng = np.random.default_rng(3)
    m = 200
    r = sp.random(m, m, density=0.3, random_state=rng, format="csr", dtype=np.float64)
    r.data = rng.uniform(-1, 1, r.nnz)
    r.data[:3] = [1.0, -1.0, 0.0]
    ld = LDMatrix.from_scipy(r, random_snps(m), dtype="int16")
    assert ld.data.dtype == np.int16 and ld.scale == pytest.approx(1 / INT16_MAX)
    back = LDMatrix.load(ld.save(tmp_path / "q.ld"))
    err = np.abs(back.values().astype(np.float64) - r.data)
    # float32 decode adds at most one float32 ulp of 1 to the half-step rounding bound
    assert err.max() <= 0.5 / INT16_MAX + 2e-7
    assert err.max() > 0.25 / INT16_MAX       # the bound is attained, not vacuous


def test_int16_scale_grows_for_values_above_one():
    r = sp.csr_matrix(np.array([[1.2, 0.3], [0.3, 1.0]]))
    ld = LDMatrix.from_scipy(r, random_snps(2), dtype="int16")
    assert ld.scale == pytest.approx(1.2 / INT16_MAX)
    np.testing.assert_allclose(ld.to_scipy().toarray(), r.toarray(), atol=0.5 * ld.scale + 1e-7)


def test_merge_of_row_pieces_gives_the_square_matrix():
    m = 50
    full = random_symmetric(m, seed=5)
    snps = random_snps(m)
    pieces = [LDMatrix.from_scipy(full[a:b], snps.iloc[a:b], snps) for a, b in
              [(20, 50), (0, 7), (7, 20)]]
    assert not pieces[0].is_square
    merged = merge(pieces)
    assert merged.is_square and merged.shape == (m, m)
    np.testing.assert_array_equal(merged.to_scipy().toarray(), full.toarray())
    with pytest.raises(InputError, match="overlap"):
        merge([pieces[1], pieces[1]])
    other = LDMatrix.from_scipy(full[:7, :40], snps.iloc[:7], snps.iloc[:40])
    with pytest.raises(InputError, match="column SNPs"):
        merge([pieces[0], other])


def test_subset_and_column_iteration_match_dense():
    m = 40
    full = random_symmetric(m, seed=2)
    dense = full.toarray()
    ld = LDMatrix.from_scipy(full, random_snps(m))
    keep = [f"rs{i}" for i in (3, 10, 11, 30)]
    sub = ld.subset(keep[::-1])
    idx = [3, 10, 11, 30]
    np.testing.assert_array_equal(sub.to_scipy().toarray(), dense[np.ix_(idx, idx)])
    assert list(sub.snps["snp"]) == keep
    for j, rows, values in ld.iter_columns():
        col = np.zeros(m, dtype=np.float32)
        col[rows] = values
        np.testing.assert_array_equal(col, dense[:, j])
    rect = LDMatrix.from_scipy(full[:10], random_snps(m).iloc[:10], random_snps(m))
    for j, rows, values in rect.iter_columns():
        col = np.zeros(10, dtype=np.float32)
        col[rows] = values
        np.testing.assert_array_equal(col, dense[:10, j])
    np.testing.assert_array_equal(ld.r2().toarray(), dense * dense)
    np.testing.assert_array_equal(ld.index_of(["rs5", "rs1"]), [5, 1])


def test_load_rejects_newer_versions_and_broken_folders(tmp_path):
    ld = LDMatrix.from_scipy(random_symmetric(5), random_snps(5))
    path = ld.save(tmp_path / "a.ld")
    meta = json.loads((path / "meta.json").read_text())
    meta["version"] = FORMAT_VERSION + 1
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="newer"):
        LDMatrix.load(path)
    with pytest.raises(InputError, match="meta.json missing"):
        LDMatrix.load(tmp_path / "nowhere")
    path = ld.save(tmp_path / "b.ld")
    (path / "indices.npy").unlink()
    with pytest.raises(InputError, match="indices.npy"):
        LDMatrix.load(path)


@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_upper_layout_round_trip_and_size(tmp_path, dtype):
    m = 300
    rng = np.random.default_rng(9)
    band = sp.random(m, m, density=0.3, random_state=rng, format="csr")
    band.data = rng.uniform(-1, 1, band.nnz)
    band = sp.triu(band, 1)
    band = band.multiply(sp.csr_matrix(np.triu(np.ones((m, m)), 1) - np.triu(np.ones((m, m)), 40)))
    full = sp.csr_matrix(band + band.T + sp.identity(m), dtype=np.float32)
    ld = LDMatrix.from_scipy(full, random_snps(m), dtype=dtype, meta={"kind": "window"})
    path = ld.save(tmp_path / "u.ld", layout="upper")
    assert not (path / "diagonal.npy").exists()
    back = LDMatrix.load(path)
    assert back.to_scipy().toarray().tobytes() == ld.to_scipy().toarray().tobytes()
    assert back.kind == "window" and back.dtype == dtype
    stored = sum((path / f).stat().st_size - 128 for f in ("row_counts.npy", "offsets.npy", "data.npy"))
    per_nnz = stored / ld.nnz
    assert per_nnz <= (2.0 if dtype == "int16" else 3.0) + 1e-9


def test_upper_layout_keeps_a_non_unit_diagonal(tmp_path):
    r = sp.csr_matrix(np.array([[1.2, 0.3, 0.0], [0.3, 1.0, -0.5], [0.0, -0.5, 0.9]],
                               dtype=np.float32))
    ld = LDMatrix.from_scipy(r, random_snps(3))
    path = ld.save(tmp_path / "d.ld", layout="upper")
    assert (path / "diagonal.npy").exists()
    np.testing.assert_array_equal(LDMatrix.load(path).to_scipy().toarray(), r.toarray())
    with pytest.raises(ValueError, match="square"):
        LDMatrix.from_scipy(r[:2], random_snps(2), random_snps(3)).save(tmp_path / "x", layout="upper")


def test_reads_a_hand_written_version_1_folder(tmp_path):
    """Pins format version 1 independently of save(): later versions must keep reading it."""
    folder = tmp_path / "v1.ld"
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps({
        "format": "bayesmix-ld", "version": 1, "kind": "window", "dtype": "int16",
        "scale": 1 / 32767, "shape": [3, 3], "nnz": 7, "square": True, "n_samples": 503,
        "window_kb": 100}))
    (folder / "snps.tsv").write_text(
        "snp\tchr\tbp\tcm\ta1\ta2\tfreq\tn\n"
        "rs1\t22\t100\t0\tA\tG\t0.1\t503\nrs2\t22\t200\t0\tC\tT\t0.25\t500\n"
        "rs3\t22\t300\t0\tG\tA\t0.5\t503\n")
    np.save(folder / "indptr.npy", np.array([0, 2, 5, 7], dtype=np.int32))
    np.save(folder / "indices.npy", np.array([0, 1, 0, 1, 2, 1, 2], dtype=np.int32))
    np.save(folder / "data.npy", np.array([32767, 16384, 16384, 32767, -3277, -3277, 32767],
                                          dtype=np.int16))
    ld = LDMatrix.load(folder)
    expect = np.array([[1, 16384, 0], [16384, 32767, -3277], [0, -3277, 32767]]) / 32767
    expect[0, 0] = 1
    np.testing.assert_allclose(ld.to_scipy().toarray(), expect, atol=1e-7)
    assert ld.kind == "window" and ld.n_samples == 503 and ld.meta["window_kb"] == 100
    assert list(ld.snps["snp"]) == ["rs1", "rs2", "rs3"] and ld.snps["n"].iloc[1] == 500
