"""GCTB .ldm.* interop: lossless float32 round trips of every type, layout checks, text dump."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.ld import build_ld, read_gctb_ldm, write_gctb_ldm, write_ldm_text


@pytest.fixture(scope="module")
def genotypes(bfile22):
    return Genotypes.open(bfile22, extract=set(Genotypes.open(bfile22).snps["snp"][:300]))


@pytest.mark.parametrize("kind, options, gctb_type", [
    ("sparse", {}, "sparse"),
    ("window", {"window_kb": 100}, "band"),
    ("full", {}, "full"),
    ("shrunk", {"cm_per_mb": 1.0}, "shrunk"),
])
def test_round_trip_is_bit_exact(tmp_path, genotypes, kind, options, gctb_type):
    ld = build_ld(genotypes, kind, progress=False, **options)
    prefix = write_gctb_ldm(ld, tmp_path / "chr22")
    assert prefix.name == f"chr22.ldm.{gctb_type}"
    back = read_gctb_ldm(f"{prefix}.bin")
    a, b = ld.to_scipy().toarray(), back.to_scipy().toarray()
    assert a.tobytes() == b.tobytes()
    pd.testing.assert_frame_equal(back.snps[["snp", "chr", "bp", "a1", "a2"]],
                                  ld.snps[["snp", "chr", "bp", "a1", "a2"]])
    np.testing.assert_allclose(back.snps["freq"], ld.snps["freq"], rtol=1e-8)
    assert back.kind == ld.kind and back.n_samples == genotypes.n_samples


def reference_payload(ld, gctb_type):
    """The ``.bin`` bytes and the LDsum / (1 - r^2)^2 sums of every row, by whole-array numpy
    indexing (one index per stored entry: what the writer did before it streamed rows)."""
    indptr, indices, values = ld.csr_arrays()
    indptr, indices = np.asarray(indptr, np.int64), np.asarray(indices, np.int64)
    n_rows, n_cols = ld.shape
    counts = np.diff(indptr)
    rows = np.repeat(np.arange(n_rows), counts)
    within = np.arange(len(indices)) - np.repeat(indptr[:-1], counts)
    if gctb_type == "full":
        starts, ends = np.zeros(n_rows, np.int64), np.full(n_rows, n_cols - 1, np.int64)
    else:
        starts, ends = indices[indptr[:-1]], indices[indptr[1:] - 1]
    if gctb_type == "sparse":
        payload = np.empty(2 * len(indices), dtype="<u4")
        first = np.repeat(2 * indptr[:-1], counts) + within
        payload[first] = indices
        payload[first + np.repeat(counts, counts)] = np.asarray(values, "<f4").view("<u4")
    else:
        offsets = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(ends - starts + 1, out=offsets[1:])
        payload = np.zeros(offsets[-1], dtype="<f4")
        payload[offsets[rows] + indices - starts[rows]] = values
    r = np.asarray(values, np.float64)
    return (payload.tobytes(), np.bincount(rows, weights=r, minlength=n_rows),
            np.bincount(rows, weights=(1.0 - r * r) ** 2, minlength=n_rows))


@pytest.mark.parametrize("chunk_words", [7, 1 << 24])
def test_streamed_files_equal_the_whole_array_encoding(tmp_path, genotypes, monkeypatch,
                                                       chunk_words):
    """The writer encodes a chunk of rows at a time (numba); bytes and sums as the one-shot
    numpy encoding gives them, for every type, with chunks smaller than a row too. The
    upper triangle of the same build (``upper_piece``, rows mirrored chunk by chunk while
    writing) gives the same two files byte for byte."""
    import bayesmix.ld.gctb as gctb

    monkeypatch.setattr(gctb, "WRITE_CHUNK_WORDS", chunk_words)
    cases = [("sparse", {}, "sparse"), ("window", {"window_kb": 100}, "band"),
             ("full", {}, "full"), ("shrunk", {"cm_per_mb": 1.0}, "shrunk"),
             ("window", {"window_kb": 100}, "sparse"), ("sparse", {}, "full")]
    for number, (kind, options, gctb_type) in enumerate(cases):
        ld = build_ld(genotypes, kind, progress=False, **options)
        prefix = write_gctb_ldm(ld, tmp_path / f"m{number}", gctb_type)
        payload, ld_sum, sampling = reference_payload(ld, gctb_type)
        assert open(f"{prefix}.bin", "rb").read() == payload, (kind, gctb_type)
        info = pd.read_csv(f"{prefix}.info", sep=r"\s+")
        np.testing.assert_array_equal(info["LDsum"], np.float64([f"{v:.9g}" for v in ld_sum]))
        expected = (np.zeros(len(ld_sum)) if gctb_type == "shrunk"
                    else sampling / genotypes.n_samples)
        np.testing.assert_array_equal(info["SamplVar"],
                                      np.float64([f"{v:.9g}" for v in expected]))
        upper = build_ld(genotypes, kind, progress=False, upper_piece=True, **options)
        assert upper.nnz < ld.nnz
        from_upper = write_gctb_ldm(upper, tmp_path / f"u{number}", gctb_type)
        for suffix in (".bin", ".info"):
            assert (open(f"{from_upper}{suffix}", "rb").read()
                    == open(f"{prefix}{suffix}", "rb").read()), (kind, gctb_type, suffix)


def test_info_and_bin_layout_by_hand(tmp_path, genotypes):
    """Decode the files independently of the reader: header, sizes and sparse row layout."""
    ld = build_ld(genotypes, "sparse", progress=False)
    prefix = write_gctb_ldm(ld, tmp_path / "x")
    info = pd.read_csv(f"{prefix}.info", sep=r"\s+")
    assert list(info.columns) == ["Chrom", "ID", "GenPos", "PhysPos", "A1", "A2", "A1Freq",
                                  "Index", "WindStart", "WindEnd", "WindSize", "WindWidth", "N",
                                  "SamplVar", "LDsum"]
    raw = open(f"{prefix}.bin", "rb").read()
    assert len(raw) == 8 * info["WindSize"].sum()
    offset = 8 * info["WindSize"].iloc[:5].sum()
    k = int(info["WindSize"].iloc[5])
    cols = np.frombuffer(raw, "<u4", k, offset)
    vals = np.frombuffer(raw, "<f4", k, offset + 4 * k)
    dense = ld.to_scipy().toarray()
    np.testing.assert_array_equal(cols, np.flatnonzero(dense[5]))
    np.testing.assert_array_equal(vals, dense[5, cols])
    r = dense[5, cols].astype(np.float64)
    assert info["LDsum"].iloc[5] == pytest.approx(r.sum(), rel=1e-6)
    assert info["SamplVar"].iloc[5] == pytest.approx(((1 - r**2) ** 2).sum() / 503, rel=1e-6)
    assert info["WindStart"].iloc[5] == cols[0] and info["WindEnd"].iloc[5] == cols[-1]


def test_mismatched_or_misnamed_files_are_rejected(tmp_path, genotypes):
    ld = build_ld(genotypes, "window", window_kb=50, progress=False)
    prefix = write_gctb_ldm(ld, tmp_path / "y")
    with open(f"{prefix}.bin", "ab") as fh:
        fh.write(b"\0\0\0\0")
    with pytest.raises(InputError, match="do not belong together"):
        read_gctb_ldm(prefix)
    with pytest.raises(InputError, match="PREFIX.ldm.TYPE"):
        read_gctb_ldm(tmp_path / "y.ld")
    info = open(f"{prefix}.info").read().splitlines()
    info[3] = info[3].replace(" 22 ", " 22 ", 1).replace(info[3].split()[3], "x", 1)
    open(f"{prefix}.info", "w").write("\n".join(info) + "\n")
    with pytest.raises(InputError) as err:
        read_gctb_ldm(prefix)
    assert err.value.line == 4


@pytest.mark.parametrize("change", ["extra field", "missing field"])
def test_info_line_with_another_field_count_is_named(tmp_path, genotypes, change):
    """A line of the .info with a field more or fewer than the header: an error naming the
    line (a pandas tokenizer traceback, or NaN for the missing field, before)."""
    prefix = write_gctb_ldm(build_ld(genotypes, "full", progress=False), tmp_path / "z")
    info = open(f"{prefix}.info").read().splitlines()
    info[50] = info[50] + " 7" if change == "extra field" else info[50].rsplit(" ", 2)[0]
    open(f"{prefix}.info", "w").write("\n".join(info) + "\n")
    with pytest.raises(InputError, match="expected 15 fields as on line 1") as err:
        read_gctb_ldm(prefix)
    assert err.value.line == 51


def test_info_with_a_snp_twice_is_named(tmp_path, genotypes):
    prefix = write_gctb_ldm(build_ld(genotypes, "full", progress=False), tmp_path / "d")
    info = open(f"{prefix}.info").read().splitlines()
    fields = info[20].split()
    fields[1] = info[10].split()[1]   # line 21 names the SNP of line 11
    info[20] = " ".join(fields)
    open(f"{prefix}.info", "w").write("\n".join(info) + "\n")
    with pytest.raises(InputError, match=r"appears twice \(also on line 11\)") as err:
        read_gctb_ldm(prefix)
    assert err.value.line == 21 and err.value.column == 2 and str(prefix) in str(err.value)


@pytest.mark.parametrize("kind, gctb_type", [("full", "full"), ("sparse", "full")])
def test_rows_that_do_not_sum_to_ldsum_are_reported(tmp_path, genotypes, caplog, kind,
                                                    gctb_type):
    """Two .info lines exchanged (Index kept), so each names the other's .bin row: read
    silently before (SBayes hsq 0.464 instead of 0.392 in an audit); now a warning naming
    the rows. Untouched files read without one, in both layouts. (In a sparse file moved
    lines break the row structure, which is an error already.)"""
    prefix = write_gctb_ldm(build_ld(genotypes, kind, progress=False), tmp_path / "s",
                            gctb_type)
    for band in (False, True):
        with caplog.at_level("WARNING", logger="bayesmix"):
            read_gctb_ldm(prefix, band=band)
        assert not [r for r in caplog.records if "LDsum" in r.getMessage()]
    lines = open(f"{prefix}.info").read().splitlines()
    a, b = lines[31].split(), lines[41].split()
    a[7], b[7] = b[7], a[7]                # keep the Index column in order
    lines[31], lines[41] = " ".join(b), " ".join(a)
    open(f"{prefix}.info", "w").write("\n".join(lines) + "\n")
    caplog.clear()
    with caplog.at_level("WARNING", logger="bayesmix"):
        read_gctb_ldm(prefix)
    warned = [r.getMessage() for r in caplog.records if "LDsum" in r.getMessage()]
    assert len(warned) == 1 and "2 of 300 rows" in warned[0] and "row 30" in warned[0]


def test_gctb_types_that_change_the_analysis_are_refused_or_warned(tmp_path, genotypes,
                                                                    caplog):
    """An audit wrote window LD as GCTB 'shrunk' (SamplVar 0: SBayes then skips the LD
    sampling-variance correction) without a word: refused, as shrunk LD written as another
    type is. Sparse LD as 'full' stores its left-out pairs as zeros: a warning."""
    window = build_ld(genotypes, "window", window_kb=100, progress=False)
    with pytest.raises(InputError, match="window LD matrix cannot be written as GCTB 'shrunk'"):
        write_gctb_ldm(window, tmp_path / "w", "shrunk")
    shrunk = build_ld(genotypes, "shrunk", cm_per_mb=1.0, progress=False)
    with pytest.raises(InputError, match="write it as 'shrunk'"):
        write_gctb_ldm(shrunk, tmp_path / "s", "band")
    sparse = build_ld(genotypes, "sparse", progress=False)
    with caplog.at_level("WARNING", logger="bayesmix"):
        write_gctb_ldm(sparse, tmp_path / "f", "full")
        write_gctb_ldm(window, tmp_path / "b", "band")
    warned = [r.getMessage() for r in caplog.records if "stored r = 0" in r.getMessage()]
    assert len(warned) == 1 and "sparse LD matrix is written as GCTB full" in warned[0]


def test_an_upper_triangle_is_refused_where_the_whole_matrix_is_needed(genotypes):
    """A build kept as its upper triangle (what --make-*-ldm writes from) is not an LD matrix:
    SBayes and MiXeR refuse it by name instead of reading half the pairs."""
    from bayesmix.prepare.mixer_data import MixerData
    from bayesmix.prepare.summary_data import prepare_summary_data

    upper = build_ld(genotypes, "full", progress=False, upper_piece=True)
    sumstats = pd.DataFrame({"SNP": upper.snps["snp"]})
    with pytest.raises(InputError, match="SBayes needs the whole LD matrix"):
        prepare_summary_data(sumstats, upper)
    with pytest.raises(InputError, match="MiXeR needs the whole LD matrix"):
        MixerData.from_ld(upper, np.zeros(upper.shape[0]), np.ones(upper.shape[0]))


def test_info_lines_moved_with_their_index_are_named(tmp_path, genotypes):
    """Two .info lines exchanged whole (each keeps its Index): the Index column is no longer
    consecutive, which was diagnosed as "a row piece" of a larger matrix; the error now names
    the first row out of order and its Index."""
    prefix = write_gctb_ldm(build_ld(genotypes, "full", progress=False), tmp_path / "s", "full")
    lines = open(f"{prefix}.info").read().splitlines()
    lines[31], lines[41] = lines[41], lines[31]        # line 31 = row 31 (Index 30)
    open(f"{prefix}.info", "w").write("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"Index column is not consecutive: row 31 \(\S+\) "
                                         r"has Index 40 after 29") as err:
        read_gctb_ldm(prefix)
    assert "row piece" not in str(err.value) and str(prefix) in str(err.value)


def test_text_dump_recovers_float32_values(tmp_path, genotypes):
    ld = build_ld(genotypes, "r2", r2min=0.1, progress=False)
    path = write_ldm_text(ld, tmp_path / "ld.txt.gz")
    table = pd.read_csv(path, sep=" ", header=None, names=["i", "snp_i", "j", "snp_j", "r"])
    dense = ld.to_scipy().toarray()
    assert len(table) == ld.nnz and table["i"].min() == 1       # 1-based, as GCTB
    np.testing.assert_array_equal(table["r"].to_numpy(np.float32),
                                  dense[table["i"] - 1, table["j"] - 1])
    assert (table["snp_j"] == ld.snps["snp"].to_numpy()[table["j"] - 1]).all()


def write_info(path, rows):
    path.write_text("".join(" ".join(map(str, row)) + "\n" for row in rows))


def test_reads_float64_values_and_the_oldest_headerless_info(tmp_path):
    """Some GCTB builds write float64 values; the oldest .info has 12 columns, no frequency."""
    r = np.array([[1.0, 0.25, 0.0], [0.25, 1.0, -0.5], [0.0, -0.5, 1.0]])
    prefix = tmp_path / "old.ldm.sparse"
    rows = []
    with open(f"{prefix}.bin", "wb") as fh:
        for i in range(3):
            cols = np.flatnonzero(r[i])
            cols.astype("<u4").tofile(fh)
            r[i, cols].astype("<f8").tofile(fh)
            rows.append(["22", f"rs{i}", 0, 100 * (i + 1), "A", "G", i, cols[0], cols[-1],
                         len(cols), 100 * (cols[-1] - cols[0]), 500])
    write_info(Path(f"{prefix}.info"), rows)
    ld = read_gctb_ldm(prefix)
    np.testing.assert_array_equal(ld.to_scipy().toarray(), r.astype(np.float32))
    assert ld.snps["freq"].isna().all() and ld.n_samples == 500

    band = tmp_path / "b.ldm.band"
    r[[0, 2], [2, 0]] = 0.125
    r.astype("<f8").tofile(f"{band}.bin")
    write_info(Path(f"{band}.info"), [
        ["22", f"rs{i}", 0, 100 * (i + 1), "A", "G", 0.3, i, 0, 2, 3, 200, 500, 0.0, 1.0, 0]
        for i in range(3)])                                         # 16 columns (Skeleton)
    np.testing.assert_array_equal(read_gctb_ldm(band).to_scipy().toarray(), r.astype(np.float32))
