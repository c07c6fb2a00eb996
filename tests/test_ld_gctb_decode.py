"""The chunked GCTB .bin decoder (bayesmix.ld.gctb, bayesmix.kernels.ld) against files encoded
here by hand from random matrices, and the store's subset/diagonal/combine kernels against
scipy and numpy on random inputs."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import bayesmix.ld.gctb as gctb
from bayesmix.errors import InputError
from bayesmix.ld.store import LDMatrix, combine_ld, quantize_int16, int16_scale


def random_ld(m, seed, diag_high=1.0):
    """Dense symmetric r with unit-ish diagonal, windows of random width, zeros inside some
    windows (entries GCTB did not keep) and a few large diagonals (shrunk LD)."""
    rng = np.random.default_rng(seed)
    dense = np.zeros((m, m), dtype=np.float32)
    for i in range(m):
        width = int(rng.integers(0, 12))
        stop = min(m, i + width + 1)
        dense[i, i + 1:stop] = rng.uniform(-0.9, 0.9, stop - i - 1)
        if rng.random() < 0.3:
            dense[i, i + 1:stop:2] = 0.0
    dense = dense + dense.T
    np.fill_diagonal(dense, rng.uniform(1.0, diag_high, m).astype(np.float32))
    return dense


def write_by_hand(dense, prefix, gctb_type, value_dtype="<f4", first_index=0):
    """GCTB's layout (docs/formats.md): .info with 15 columns, .bin rows back to back."""
    m = dense.shape[0]
    starts, ends, sizes, payload = [], [], [], []
    for i in range(m):
        nonzero = np.flatnonzero(dense[i])
        if gctb_type == "sparse":
            payload.append(nonzero.astype("<u4").tobytes())
            payload.append(dense[i, nonzero].astype(value_dtype).tobytes())
            lo, hi, size = nonzero[0], nonzero[-1], len(nonzero)
        else:
            lo, hi = nonzero[0], nonzero[-1]
            size = hi - lo + 1
            payload.append(dense[i, lo:hi + 1].astype(value_dtype).tobytes())
        starts.append(lo), ends.append(hi), sizes.append(size)
    info = pd.DataFrame({
        "Chrom": "1", "ID": [f"{prefix.name}_{j}" for j in range(m)], "GenPos": 0.0,
        "PhysPos": np.arange(m) + 1, "A1": "A", "A2": "G", "A1Freq": 0.3,
        "Index": first_index + np.arange(m), "WindStart": starts, "WindEnd": ends,
        "WindSize": sizes, "WindWidth": 0, "N": 1000, "SamplVar": 0.0, "LDsum": 0.0})
    info.to_csv(f"{prefix}.ldm.{gctb_type}.info", sep=" ", index=False)
    with open(f"{prefix}.ldm.{gctb_type}.bin", "wb") as fh:
        fh.write(b"".join(payload))
    return f"{prefix}.ldm.{gctb_type}"


@pytest.fixture
def small_chunks(monkeypatch):
    """A few rows per read, so rows are decoded across many chunks."""
    monkeypatch.setattr(gctb, "CHUNK_BYTES", 64)


@pytest.fixture(params=["one pass", "two passes"])
def passes(request, monkeypatch):
    """Decode in one pass where it can (|r| <= 1), or always in two (what arrays too large to
    reserve get)."""
    if request.param == "two passes":
        monkeypatch.setattr(gctb, "_one_pass_fits", lambda *args: False)
    return request.param


@pytest.mark.parametrize("diag_high", [1.0, 1.2])   # 1.2: one pass gives way to two
@pytest.mark.parametrize("value_dtype", ["<f4", "<f8"])
@pytest.mark.parametrize("gctb_type", ["sparse", "band", "shrunk"])
def test_decoded_files_equal_the_matrices_written_by_hand(tmp_path, small_chunks, passes,
                                                          gctb_type, value_dtype, diag_high):
    dense = random_ld(120, seed=len(gctb_type), diag_high=diag_high)
    dense[7, 7] = 0.0          # a zero on the diagonal is still an entry of the row
    dense[7, 8] = dense[8, 7] = 0.5
    prefix = write_by_hand(dense, tmp_path / "x", gctb_type, value_dtype)
    ld = gctb.read_gctb_ldm(prefix)
    assert ld.dtype == "float32" and ld.kind == gctb._TYPE_TO_KIND[gctb_type]
    np.testing.assert_array_equal(ld.to_scipy().toarray(), dense)
    stored = sp.csr_matrix(dense)
    if gctb_type != "sparse":
        assert ld.nnz == stored.nnz + 1      # (7, 7) kept as an explicit zero
    coded = gctb.read_gctb_ldm(prefix, dtype="int16")
    assert coded.scale == int16_scale(np.abs(dense).max())
    np.testing.assert_array_equal(coded.indices, ld.indices)
    np.testing.assert_array_equal(coded.data, quantize_int16(ld.data, coded.scale))
    np.testing.assert_array_equal(coded.diagonal(), np.float32(
        quantize_int16(np.diag(dense), coded.scale) * np.float32(coded.scale)))
    np.testing.assert_array_equal(ld.diagonal(), np.diag(dense))


@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_a_list_of_whole_files_is_their_block_diagonal(tmp_path, small_chunks, passes, dtype):
    blocks = [random_ld(m, seed=m, diag_high=high) for m, high in ((40, 1.0), (70, 1.3), (9, 1.0))]
    kinds = ["shrunk", "sparse", "band"]
    prefixes = [write_by_hand(b, tmp_path / f"c{k}", kind)
                for k, (b, kind) in enumerate(zip(blocks, kinds))]
    combined = gctb.read_gctb_list(prefixes, dtype=dtype)
    assert combined.shape == (119, 119) and combined.meta["combined"] == 3
    assert list(combined.snps["snp"]) == [s for b, p in zip(blocks, prefixes)
                                         for s in gctb.read_gctb_ldm(p).snps["snp"]]
    one_by_one = combine_ld(gctb.read_gctb_ldm(p) for p in prefixes)   # float32
    for name in ("indptr", "indices"):
        np.testing.assert_array_equal(getattr(combined, name), getattr(one_by_one, name))
    truth = sp.block_diag([sp.csr_matrix(b) for b in blocks]).toarray()
    if dtype == "int16":   # quantised once, with the scale of the largest |r| of all files
        assert combined.scale == int16_scale(np.abs(truth).max())
        np.testing.assert_array_equal(combined.data, quantize_int16(one_by_one.data,
                                                                    combined.scale))
    else:
        np.testing.assert_array_equal(combined.data, one_by_one.data)
    decoded = sp.csr_matrix((combined.data * np.float64(combined.scale), combined.indices,
                             combined.indptr), shape=combined.shape).toarray()
    assert np.abs(decoded - truth).max() <= (combined.scale / 2 * 1.0001 if dtype == "int16"
                                             else 0.0)


def test_combine_ld_requantises_only_matrices_of_another_scale():
    a = LDMatrix.from_scipy(sp.csr_matrix(random_ld(30, 1)), snp_table("a", 30), dtype="int16")
    b = LDMatrix.from_scipy(sp.csr_matrix(random_ld(20, 2, diag_high=1.5)), snp_table("b", 20),
                            dtype="int16")
    combined = combine_ld([a, b])
    assert combined.scale == b.scale > a.scale
    np.testing.assert_array_equal(combined.data[a.nnz:], b.data)
    np.testing.assert_array_equal(combined.data[:a.nnz], quantize_int16(a.values(), b.scale))
    f = combine_ld([a.astype("float32"), b])
    np.testing.assert_array_equal(f.data, np.concatenate([a.values(), b.values()]))


def snp_table(tag, m):
    return pd.DataFrame({"snp": [f"{tag}{j}" for j in range(m)], "chr": "1",
                         "bp": np.arange(m) + 1, "a1": "A", "a2": "G", "freq": 0.3})


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_subset_equals_scipy_slicing(seed, dtype):
    rng = np.random.default_rng(seed)
    dense = random_ld(80, seed)
    ld = LDMatrix.from_scipy(sp.csr_matrix(dense), snp_table("s", 80), dtype=dtype)
    keep = np.sort(rng.choice(80, 50, replace=False))
    sub = ld.subset(ld.snps["snp"].to_numpy()[keep[::-1]])   # order of the ids is irrelevant
    expected = ld.to_scipy()[keep][:, keep].toarray()
    np.testing.assert_array_equal(sub.to_scipy().toarray(), expected)
    assert list(sub.snps["snp"]) == list(ld.snps["snp"].to_numpy()[keep])
    assert sub.is_square and sub.scale == ld.scale
    rect = LDMatrix.from_scipy(sp.csr_matrix(dense[:, :60]), snp_table("r", 80),
                               snp_table("c", 60), dtype=dtype)
    rows = rect.subset(rect.snps["snp"].to_numpy()[keep])
    assert rows.shape == (50, 60)
    np.testing.assert_array_equal(rows.to_scipy().toarray(), rect.to_scipy()[keep].toarray())


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
@pytest.mark.parametrize("band", [False, True])
@pytest.mark.parametrize("gctb_type", ["sparse", "band", "shrunk"])
def test_non_finite_values_are_refused_naming_file_and_row(tmp_path, small_chunks, passes,
                                                           monkeypatch, gctb_type, band,
                                                           bad_value):
    """A NaN or infinite r (a corrupt file) is an error naming the .bin and the row's SNP, in
    every decoding (it used to vanish from the int16 scale and be stored as an arbitrary code)."""
    monkeypatch.setattr(gctb, "BAND_PADDING_LIMIT", np.inf)   # sparse rows with gaps too
    dense = random_ld(60, seed=3)
    dense[41, 42] = dense[42, 41] = bad_value
    prefix = write_by_hand(dense, tmp_path / "x", gctb_type)
    for dtype in ("float32", "int16"):
        with pytest.raises(InputError, match=r"row 41 \(x_41\): a NaN or infinite value") \
                as err:
            gctb.read_gctb_list([prefix], dtype=dtype, band=band)
        assert err.value.path.endswith(".bin")


@pytest.mark.parametrize("band", [False, True])
@pytest.mark.parametrize("fault", ["repeated", "descending", "last below first"])
def test_sparse_rows_whose_columns_do_not_ascend_are_refused(tmp_path, small_chunks, passes,
                                                            monkeypatch, fault, band):
    """A sparse row must list its column indices in strictly ascending order (GCTB's writer
    does): a repeated or descending index is an error naming the .bin and the row's SNP, also
    where the band layout took the row's run from its first and last index."""
    monkeypatch.setattr(gctb, "BAND_PADDING_LIMIT", np.inf)   # sparse rows with gaps too
    dense = random_ld(60, seed=4)
    prefix = write_by_hand(dense, tmp_path / "x", "sparse")
    sizes = np.count_nonzero(dense, axis=1)
    bin_path = Path(f"{prefix}.bin")
    words = np.fromfile(bin_path, dtype="<u4")
    row = 41
    start = 2 * int(sizes[:row].sum())  # the row's column indices, then its values
    assert sizes[row] >= 3
    if fault == "repeated":
        words[start + 2] = words[start + 1]
    elif fault == "descending":
        words[start + 1], words[start + 2] = words[start + 2], words[start + 1]
    else:
        words[start + sizes[row] - 1] = words[start] - 1
    words.tofile(bin_path)
    for dtype in ("float32", "int16"):
        with pytest.raises(InputError, match=rf"row {row} \(x_{row}\): column indices not "
                                             "ascending") as err:
            gctb.read_gctb_list([prefix], dtype=dtype, band=band)
        assert err.value.path.endswith(".bin")


@pytest.mark.parametrize("gctb_type", ["sparse", "shrunk"])
def test_a_bin_shortened_after_it_was_opened_is_an_error_naming_it(tmp_path, small_chunks,
                                                                    monkeypatch, gctb_type):
    """The .bin is memory-mapped once its size was checked against the .info: a file cut
    short in between (rewritten while being read) is an error naming the file, not a read
    past its end."""
    prefix = write_by_hand(random_ld(60, seed=5), tmp_path / "x", gctb_type)
    opened = gctb._BinFile.__init__

    def open_then_shorten(self, *args, **kwargs):
        opened(self, *args, **kwargs)
        with open(self.bin_path, "r+b") as fh:
            fh.truncate(self.bin_path.stat().st_size // 2)

    monkeypatch.setattr(gctb._BinFile, "__init__", open_then_shorten)
    with pytest.raises(InputError, match="the file ends before row") as err:
        gctb.read_gctb_ldm(prefix)
    assert err.value.path.endswith(".bin")
