"""GCTB's row pieces (``--snp i-j``): written as ``X.snpi-j.ldm.TYPE.bin/.info``, read back and
merged; checked with a small reader of GCTB's documented layout written here with numpy, and
against files laid out by hand."""

import numpy as np
import pandas as pd
import pytest

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.ld import build_ld, merge
from bayesmix.ld.gctb import (merge_gctb_pieces, read_gctb_ldm, read_gctb_list,
                              read_gctb_pieces, write_gctb_ldm)

M = 40
RANGES = [(1, 15), (16, 30), (31, 40)]


def gctb_info(path) -> pd.DataFrame:
    """The .info table as GCTB reads it: whitespace tokens, one header line."""
    lines = [line.split() for line in open(path).read().splitlines() if line.strip()]
    return pd.DataFrame(lines[1:], columns=lines[0])


def gctb_rows(prefix, gctb_type):
    """(row Index, column indices, float32 values) per .info row, decoded with numpy.fromfile
    from GCTB's layout: full/band/shrunk rows are WindSize float32 values of columns
    WindStart..WindEnd; sparse rows are WindSize uint32 indices then WindSize float32 values."""
    info = gctb_info(f"{prefix}.info")
    raw = np.fromfile(f"{prefix}.bin", dtype=np.uint8)
    rows, offset = [], 0
    for index, start, end, size in info[["Index", "WindStart", "WindEnd", "WindSize"]].astype(
            int).itertuples(index=False):
        if gctb_type == "sparse":
            cols = raw[offset:offset + 4 * size].view("<u4").astype(int)
            vals = raw[offset + 4 * size:offset + 8 * size].view("<f4")
            offset += 8 * size
        else:
            assert end - start + 1 == size
            cols = np.arange(start, end + 1)
            vals = raw[offset:offset + 4 * size].view("<f4")
            offset += 4 * size
        rows.append((index, cols, vals))
    assert offset == len(raw)
    return info, rows


@pytest.fixture(scope="module")
def panel(bfile22):
    snps = Genotypes.open(bfile22).snps["snp"].to_numpy()[:M]
    geno = Genotypes.open(bfile22, extract=set(snps))
    x = geno.read(np.arange(M), standardize=False).astype(np.float64)
    return geno, np.corrcoef(x, rowvar=False)


@pytest.mark.parametrize("kind, gctb_type", [("full", "full"), ("sparse", "sparse")])
def test_pieces_are_gctb_files_and_merge_to_the_whole_matrix(tmp_path, panel, kind, gctb_type):
    geno, r = panel
    whole = build_ld(geno, kind, progress=False)
    dense = whole.to_scipy().toarray()
    np.testing.assert_allclose(dense[dense != 0], r[dense != 0], atol=2e-6)
    prefixes = []
    for first, last in RANGES:
        piece = build_ld(geno, kind, snp_range=(first, last), progress=False)
        prefix = write_gctb_ldm(piece, tmp_path / f"X.snp{first}-{last}", gctb_type)
        assert prefix.name == f"X.snp{first}-{last}.ldm.{gctb_type}"
        assert prefix.with_name(prefix.name + ".bin").is_file()
        info, rows = gctb_rows(prefix, gctb_type)
        assert [i for i, _, _ in rows] == list(range(first - 1, last))   # global Index
        bp = geno.snps["bp"].to_numpy()
        for (i, cols, vals), (_, row) in zip(rows, info.iterrows()):
            if gctb_type == "full":
                np.testing.assert_array_equal(cols, np.arange(M))       # every column
            else:
                np.testing.assert_array_equal(cols, np.flatnonzero(dense[i]))
            assert vals.tobytes() == dense[i, cols].astype(np.float32).tobytes()
            assert int(row["WindWidth"]) == bp[cols[-1]] - bp[cols[0]]
            assert int(row["N"]) == geno.n_samples
            stored = dense[i, cols].astype(np.float64)
            assert float(row["LDsum"]) == pytest.approx(stored.sum(), rel=1e-6)
            assert float(row["SamplVar"]) == pytest.approx(
                ((1 - stored**2) ** 2).sum() / geno.n_samples, rel=1e-6)
        prefixes.append(prefix)
    merged = merge_gctb_pieces([prefixes[2], prefixes[0], prefixes[1]])   # any order
    assert merged.is_square and merged.shape == (M, M)
    assert merged.to_scipy().toarray().tobytes() == dense.astype(np.float32).tobytes()
    assert merged.snps["snp"].tolist() == geno.snps["snp"].tolist()
    assert merged.n_samples == geno.n_samples
    out = write_gctb_ldm(merged, tmp_path / "merged", gctb_type)
    info, rows = gctb_rows(out, gctb_type)
    assert info["Index"].astype(int).tolist() == list(range(M))
    back = np.zeros((M, M), dtype=np.float32)
    for i, cols, vals in rows:
        back[i, cols] = vals
    assert back.tobytes() == dense.astype(np.float32).tobytes()
    # the same through the LDMatrix merge of the pieces read as LDMatrix pieces
    pieces = read_gctb_pieces(prefixes)
    assert [p.meta["snp_range"] for p in pieces] == [list(rg) for rg in RANGES]
    assert merge(pieces).to_scipy().toarray().tobytes() == dense.astype(np.float32).tobytes()


def write_hand_piece(prefix, index, r_rows, ids):
    """A full piece laid out by hand as GCTB's outputLDmatrix does (WindWidth left garbage)."""
    m = r_rows.shape[1]
    with open(f"{prefix}.info", "w") as fh:
        fh.write("Chrom ID GenPos PhysPos A1 A2 A1Freq Index WindStart WindEnd WindSize "
                 "WindWidth N SamplVar LDsum\n")
        for k, i in enumerate(index):
            fh.write(f"1 {ids[i]} 0 {1000 * (i + 1)} A G 0.3 {i} 0 {m - 1} {m} -77 100 0 0\n")
    r_rows.astype("<f4").tofile(f"{prefix}.bin")


def test_hand_laid_pieces_are_read_and_merged(tmp_path):
    r = np.array([[1.0, 0.5, 0.25, 0.0],
                  [0.5, 1.0, -0.5, 0.125],
                  [0.25, -0.5, 1.0, 0.75],
                  [0.0, 0.125, 0.75, 1.0]])
    ids = ["s1", "s2", "s3", "s4"]
    write_hand_piece(tmp_path / "h.snp1-1.ldm.full", [0], r[:1], ids)
    write_hand_piece(tmp_path / "h.snp2-4.ldm.full", [1, 2, 3], r[1:], ids)
    merged = merge_gctb_pieces([tmp_path / "h.snp2-4.ldm.full", tmp_path / "h.snp1-1.ldm.full"])
    np.testing.assert_array_equal(merged.to_scipy().toarray(), r)
    assert merged.snps["snp"].tolist() == ids and merged.snps["bp"].tolist() == [1000, 2000,
                                                                                 3000, 4000]
    with pytest.raises(InputError, match="row piece: rows 2-4") as err:
        read_gctb_ldm(tmp_path / "h.snp2-4.ldm.full")
    assert err.value.path.endswith("h.snp2-4.ldm.full.info")
    with pytest.raises(InputError, match="row piece: rows 1-1"):   # columns beyond its rows
        read_gctb_ldm(tmp_path / "h.snp1-1.ldm.full")


def test_missing_or_repeated_pieces_are_refused(tmp_path):
    r = np.eye(3)
    ids = ["a", "b", "c"]
    write_hand_piece(tmp_path / "p.snp1-1.ldm.full", [0], r[:1], ids)
    write_hand_piece(tmp_path / "p.snp3-3.ldm.full", [2], r[2:], ids)
    with pytest.raises(InputError, match="Index 2..2 where Index 1 comes next") as err:
        read_gctb_pieces([tmp_path / "p.snp1-1.ldm.full", tmp_path / "p.snp3-3.ldm.full"])
    assert err.value.path.endswith("p.snp3-3.ldm.full.info")
    with pytest.raises(InputError, match="Index 0..0 where Index 1 comes next"):
        read_gctb_pieces([tmp_path / "p.snp1-1.ldm.full", tmp_path / "p.snp1-1.ldm.full"])


def test_rows_that_are_not_a_run_of_the_columns_cannot_be_a_piece(tmp_path, panel):
    geno, _ = panel
    tags = geno.snps["snp"].to_numpy()[[0, 5, 9]]
    ld = build_ld(geno, "full", tags=tags, progress=False)
    with pytest.raises(InputError, match="not a contiguous run"):
        write_gctb_ldm(ld, tmp_path / "tags", "full")


def test_mldm_list_merges_pieces_and_combines_matrices_of_their_own(tmp_path):
    """GCTB's rule: a file after the first not starting at Index 0 means row pieces."""
    r = np.array([[1.0, 0.5, 0.25], [0.5, 1.0, -0.5], [0.25, -0.5, 1.0]])
    ids = ["s1", "s2", "s3"]
    write_hand_piece(tmp_path / "h.snp1-2.ldm.full", [0, 1], r[:2], ids)
    write_hand_piece(tmp_path / "h.snp3-3.ldm.full", [2], r[2:], ids)
    pieces = read_gctb_list([tmp_path / "h.snp1-2.ldm.full", tmp_path / "h.snp3-3.ldm.full"])
    np.testing.assert_array_equal(pieces.to_scipy().toarray(), r)
    s = np.array([[1.0, -0.25], [-0.25, 1.0]])
    write_hand_piece(tmp_path / "chr1.ldm.full", [0, 1, 2], r, ids)
    write_hand_piece(tmp_path / "chr2.ldm.full", [0, 1], s, ["t1", "t2"])
    both = read_gctb_list([tmp_path / "chr1.ldm.full", tmp_path / "chr2.ldm.full"])
    expected = np.zeros((5, 5))
    expected[:3, :3], expected[3:, 3:] = r, s
    np.testing.assert_array_equal(both.to_scipy().toarray(), expected)
    assert both.snps["snp"].tolist() == ids + ["t1", "t2"]
