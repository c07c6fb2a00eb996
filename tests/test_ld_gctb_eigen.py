"""GCTB 2.x's eigen-decomposed block LD (bayesmix.ld.gctb_eigen, bayesmix-gctb's
--make-block-ldm / --merge-block-ldm-info / --make-ldm-eigen).

Truths used: numpy's correlation of the mean-imputed allele counts for the block LD, a
brute-force membership test (StartBP <= bp < EndBP) for the block mapping, a brute-force
search for GCTB's truncation rule, and ``struct`` for the eigen.bin byte layout (GCTB's
``eigen.cpp``: int32 m, int32 k, float32 sum of positive eigenvalues, float32 cut-off,
k float32 eigenvalues ascending, m x k float32 eigenvectors column-major). Interoperability
with the real GCTB binary was checked by hand (docs/ld.md).
"""

from __future__ import annotations

import filecmp
import os
import signal
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesmix import interrupt
from bayesmix.cli import gctb as gctb_cli
from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.ld import gctb_eigen as ge
from bayesmix.ld.eigen import block_members, decompose_ld, eigen_decompose_blocks, kept_rank
from bayesmix.ld.open import open_eigen

N_SNPS = 420


@pytest.fixture(scope="module")
def panel(tmp_path_factory, bfile22):
    """503 people x 420 SNPs of the shipped chr22 data with 2% of calls missing, the first
    210 SNPs relabelled chromosome 21; and a block file over both chromosomes with a gap,
    a block without SNPs and blocks that touch (EndBP of one = StartBP of the next = a SNP's
    position)."""
    from bed_reader import open_bed, to_bed

    d = tmp_path_factory.mktemp("gctb_eigen")
    bim = pd.read_csv(f"{bfile22}.bim", sep=r"\s+", header=None,
                      names=["chr", "snp", "cm", "bp", "a1", "a2"]).iloc[:N_SNPS].copy()
    fam = pd.read_csv(f"{bfile22}.fam", sep=r"\s+", header=None)
    codes = open_bed(f"{bfile22}.bed").read(index=np.s_[:, :N_SNPS], dtype="float32")
    codes[np.random.default_rng(1).random(codes.shape) < 0.02] = np.nan
    bim.loc[:209, "chr"] = 21
    to_bed(d / "panel.bed", codes, properties={
        "fid": fam[0].astype(str).tolist(), "iid": fam[1].astype(str).tolist(),
        "sid": bim["snp"].tolist(), "chromosome": bim["chr"].astype(str).tolist(),
        "bp_position": bim["bp"].tolist(), "cm_position": bim["cm"].tolist(),
        "allele_1": bim["a1"].tolist(), "allele_2": bim["a2"].tolist()})
    bp = bim["bp"].to_numpy()
    blocks = d / "blocks.txt"
    blocks.write_text("Block\tChrom\tStartBP\tEndBP\n"
                      f"1\t21\t{bp[0]}\t{bp[80]}\n"          # SNPs 0-79; SNP 80 starts block 2
                      f"2\t21\t{bp[80]}\t{bp[200]}\n"        # 80-199; 200-209 in no block
                      f"3\t21\t{bp[209] + 10}\t{bp[209] + 500}\n"   # no SNP
                      f"4\t22\t{bp[210]}\t{bp[330]}\n"
                      f"5\t22\t{bp[330]}\t{bp[419]}\n")     # SNP 419 (bp == EndBP): no block
    return {"dir": d, "bfile": str(d / "panel"), "blocks": blocks, "bim": bim,
            "counts": codes.astype(np.float64)}


def brute_members(bim: pd.DataFrame, table: pd.DataFrame) -> list[list[int]]:
    return [[j for j in range(len(bim)) if str(bim["chr"].iloc[j]) == str(row.chr)
             and row.start <= bim["bp"].iloc[j] < row.end] for row in table.itertuples()]


def test_block_mapping_is_half_open(panel):
    table = ge.read_block_info(panel["blocks"])
    assert table["block"].tolist() == [1, 2, 3, 4, 5]
    members = block_members(panel["bim"], table)
    assert [list(m) for m in members] == brute_members(panel["bim"], table)
    assert [len(m) for m in members] == [80, 120, 0, 120, 89]
    assert members[1][0] == 80                      # bp == EndBP of block 1: in block 2
    assert 419 not in np.concatenate(members)       # bp == EndBP of the last block: none


def test_extract_keeps_every_snp_of_the_blocks(panel, tmp_path):
    """GCTB drops the last SNPs of a chromosome when any SNP was excluded; we must not."""
    kept = panel["bim"].iloc[100:]
    (tmp_path / "extract.txt").write_text("\n".join(kept["snp"]) + "\n")
    run = ge.make_block_ldm(panel["bfile"], panel["blocks"], tmp_path / "ldm",
                            extract=tmp_path / "extract.txt", progress=False)
    expected = [len(m) for m in brute_members(kept, ge.read_block_info(panel["blocks"])) if m]
    assert run.sizes == expected == [100, 120, 89]
    assert run.dropped == {"SNPs not in --extract": 100}
    assert run.outside == 11 and run.empty == [1, 3]


def test_block_ld_is_the_correlation_of_mean_imputed_counts(panel, tmp_path):
    run = ge.make_block_ldm(panel["bfile"], panel["blocks"], tmp_path / "ldm", progress=False)
    assert run.ids == [1, 2, 4, 5] and run.empty == [3] and run.outside == 11
    assert not run.merged         # 2 chromosomes: GCTB merges by itself from 22 on
    x = panel["counts"]
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    members = dict(zip([1, 2, 3, 4, 5],
                       brute_members(panel["bim"], ge.read_block_info(panel["blocks"]))))
    folder = tmp_path / "ldm"
    for block_id in run.ids:
        cols = members[block_id]
        raw = (folder / f"block{block_id}.ldm.bin").read_bytes()
        assert len(raw) == 4 * len(cols) ** 2
        r = np.frombuffer(raw, dtype="<f4").reshape(len(cols), len(cols))
        np.testing.assert_allclose(r, np.corrcoef(x[:, cols], rowvar=False), atol=2e-7)
        info = ge.read_snp_info(folder / f"block{block_id}.snp.info")
        assert info["ID"].tolist() == panel["bim"]["snp"].iloc[cols].tolist()
        assert set(info["N"]) == {503} and set(info["Block"]) == {str(block_id)}
        np.testing.assert_allclose(info["A1Freq"], np.nanmean(panel["counts"][:, cols], 0) / 2,
                                   atol=5e-7)
        ldm = ge.read_ldm_info(folder / f"block{block_id}.ldm.info")
        assert ldm[["Block", "StartSnpID", "EndSnpID", "NumSnps"]].values.tolist() == [
            [str(block_id), info["ID"].iloc[0], info["ID"].iloc[-1], len(cols)]]


def test_kept_rank_is_the_brute_force_minimum():
    rng = np.random.default_rng(3)
    for trial in range(30):
        m, n = rng.integers(2, 40), rng.integers(2, 60)
        g = rng.normal(size=(n, m)) @ np.diag(rng.uniform(0.2, 3, m))
        r = np.corrcoef(g, rowvar=False)
        values = np.linalg.eigvalsh(r)[::-1]
        for prop in (0.3, 0.9, 0.995, 1.0):
            positive = values[values > 1e-10]
            total = positive.sum()
            over = [t for t in range(1, len(positive) + 1) if positive[:t].sum() / total > prop]
            k, s = kept_rank(values, prop)
            assert k == (min(over) if over else len(positive)) and s == pytest.approx(total)
            kept, vectors, s2 = decompose_ld(r, prop)
            assert len(kept) == k and vectors.shape == (m, k) and s2 == pytest.approx(total)
            np.testing.assert_allclose(r @ vectors, vectors * kept, atol=1e-9)


def test_eigen_bin_layout_written_by_hand_is_read(tmp_path):
    values = np.array([0.25, 2.5], dtype=np.float32)            # ascending, as GCTB stores
    columns = np.array([[0.6, 0.0, 0.8], [0.0, 1.0, 0.0]], dtype=np.float32)  # u1, u2
    raw = (struct.pack("<iiff", 3, 2, 2.75, 0.9) + struct.pack("<2f", *values)
           + struct.pack("<6f", *columns.ravel()))
    path = tmp_path / "block1.eigen.bin"
    path.write_bytes(raw)
    got_values, got_vectors, positive_sum, cutoff = ge.read_eigen_bin(path, 3)
    np.testing.assert_array_equal(got_values, [2.5, 0.25])               # descending
    np.testing.assert_array_equal(got_vectors, columns[::-1].T)          # (m, k), matching
    assert got_vectors.flags.c_contiguous and (positive_sum, cutoff) == (2.75, np.float32(0.9))


def test_eigen_bin_we_write_has_gctb_layout(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 3))
    values = np.array([3.0, 1.5, 0.25])                                  # descending
    path = ge.write_eigen_bin(tmp_path / "block7.eigen.bin", values, vectors, 4.75, 0.995)
    raw = path.read_bytes()
    m, k, positive_sum, cutoff = struct.unpack_from("<iiff", raw)
    assert (m, k, len(raw)) == (5, 3, 16 + 4 * k + 4 * m * k)
    assert positive_sum == 4.75 and cutoff == pytest.approx(0.995, abs=1e-7)
    assert struct.unpack_from("<3f", raw, 16) == (0.25, 1.5, 3.0)        # ascending
    stored = np.array(struct.unpack_from(f"<{m * k}f", raw, 16 + 4 * k))
    for j in range(k):   # column-major: eigenvector after eigenvector, ascending order
        np.testing.assert_allclose(stored[j * m:(j + 1) * m], vectors[:, k - 1 - j], rtol=1e-6)


@pytest.mark.parametrize("cut", [1, 4, 20])
def test_truncated_eigen_bin_is_refused(tmp_path, cut):
    path = ge.write_eigen_bin(tmp_path / "block1.eigen.bin", np.ones(2), np.ones((4, 2)), 4, 1)
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(InputError, match="truncated") as err:
        ge.read_eigen_bin(path)
    assert err.value.path == str(path)
    with pytest.raises(InputError, match="holds 4 SNPs, but ldm.info lists 5"):
        ge.write_eigen_bin(path, np.ones(2), np.ones((4, 2)), 4, 1)
        ge.read_eigen_bin(path, 5)


BAD_BLOCK_FILES = {
    "non-integer ID": ("b1 22 100 200\n", 2, 1, "not an integer"),
    "EndBP before StartBP": ("1 22 300 200\n", 2, 4, "not after StartBP"),
    "EndBP equal to StartBP": ("1 22 300 300\n", 2, 4, "not after StartBP"),
    "too few fields": ("1 22 100\n", 2, None, "expected 4 fields"),
    "too many fields": ("1 22 100 200 x\n", 2, None, "expected 4 fields"),
    "non-integer StartBP": ("1 22 1e5 200\n", 2, 3, "not an integer"),
    "overlap": ("1 22 100 200\n2 21 100 200\n3 22 199 300\n", 4, None, "overlaps block 1"),
    "duplicate ID": ("1 22 100 200\n1 22 300 400\n", 3, 1, "listed twice"),
}


@pytest.mark.parametrize("case", BAD_BLOCK_FILES)
def test_malformed_block_file_names_file_and_line(tmp_path, case):
    body, line, column, message = BAD_BLOCK_FILES[case]
    path = tmp_path / "blocks.txt"
    path.write_text("Block Chrom StartBP EndBP\n" + body)
    with pytest.raises(InputError, match=message) as err:
        ge.read_block_info(path)
    assert err.value.path == str(path) and err.value.line == line
    assert err.value.column == column


def test_block_n_builds_exactly_that_block(panel, tmp_path):
    whole = ge.make_block_ldm(panel["bfile"], panel["blocks"], tmp_path / "all",
                              progress=False)
    one = ge.make_block_ldm(panel["bfile"], panel["blocks"], tmp_path / "one", block=4,
                            progress=False)
    assert one.ids == [4] and one.sizes == [whole.sizes[2]]
    assert sorted(os.listdir(tmp_path / "one")) == ["block4.ldm.bin", "block4.ldm.info",
                                                   "block4.snp.info"]
    for name in os.listdir(tmp_path / "one"):
        assert filecmp.cmp(tmp_path / "one" / name, tmp_path / "all" / name, shallow=False)
    empty = ge.make_block_ldm(panel["bfile"], panel["blocks"], tmp_path / "none", block=3,
                              progress=False)
    assert empty.ids == [] and empty.empty == [3] and os.listdir(tmp_path / "none") == []
    with pytest.raises(InputError, match="expected 4 fields"):   # not a block file
        ge.make_block_ldm(panel["bfile"], tmp_path / "one" / "block4.snp.info", tmp_path / "y")
    assert not (tmp_path / "y").exists()         # refused inputs leave no folder
    with pytest.raises(InputError, match="--block 6: the block file lists 5 blocks"):
        ge.make_block_ldm(panel["bfile"], panel["blocks"], tmp_path / "x", block=6)


def two_step(panel, folder, cutoff=0.995, **filters):
    ge.make_block_ldm(panel["bfile"], panel["blocks"], folder, progress=False, **filters)
    merged = ge.merge_block_ldm_info(folder)
    assert merged.ids == ["1", "2", "4", "5"]
    assert not list(Path(folder).glob("block*.info"))   # per-block info files deleted
    return ge.make_ldm_eigen(folder, cutoff, progress=False)


def test_one_step_and_two_step_give_the_same_eigen_files(panel, tmp_path):
    steps = two_step(panel, tmp_path / "two", 0.9)
    one = ge.make_ldm_eigen_from_genotypes(panel["bfile"], panel["blocks"], tmp_path / "one",
                                           0.9, progress=False)
    assert one.ranks == steps.ranks and one.merged
    names = sorted(os.listdir(tmp_path / "one"))
    assert names == ["block1.eigen.bin", "block2.eigen.bin", "block4.eigen.bin",
                     "block5.eigen.bin", "ldm.info", "snp.info"]
    for name in names:
        assert filecmp.cmp(tmp_path / "one" / name, tmp_path / "two" / name, shallow=False), name
    eigen = ge.read_gctb_eigen(tmp_path / "one")
    assert eigen.meta["blocks"] == [1, 2, 4, 5] and eigen.meta["prop"] == 0.9
    assert eigen.meta["n_samples"] == 503 and list(np.diff(eigen.rank_ptr)) == one.ranks
    # the kept decomposition of each block is the top of the block LD's spectrum
    for b, block_id in enumerate(eigen.meta["blocks"]):
        m = int(np.diff(eigen.block_ptr)[b])
        r = np.fromfile(tmp_path / "two" / f"block{block_id}.ldm.bin", "<f4").reshape(m, m)
        values, vectors = eigen.block(b)
        assert np.all(np.diff(values) <= 0)
        np.testing.assert_allclose(r @ vectors, vectors * values, atol=2e-5)
        top = np.linalg.eigvalsh(r.astype(np.float64))[::-1][:len(values)]
        np.testing.assert_allclose(values, top, rtol=1e-6)


def test_gctb_folder_round_trip(panel, tmp_path):
    """bayesmix's own eigen blocks written as GCTB's folder and read back."""
    mine = eigen_decompose_blocks(panel["bfile"], blocks=panel["blocks"], chrom="22",
                                  prop=0.99, progress=False)
    ge.write_gctb_eigen(mine, tmp_path / "gctb")
    back = open_eigen(tmp_path / "gctb")
    assert back.meta["blocks"] == [4, 5] and back.meta["prop"] == 0.99
    for name in ("block_ptr", "rank_ptr"):
        np.testing.assert_array_equal(getattr(back, name), getattr(mine, name))
    np.testing.assert_array_equal(back.eigenvectors, mine.eigenvectors)
    # read block by block from the files (each block's file when it is asked for)
    assert isinstance(back.eigenvectors, ge.BlockFileEigenvectors)
    for b in range(back.n_blocks):
        np.testing.assert_array_equal(back.block(b)[1], mine.block(b)[1])
    np.testing.assert_array_equal(back.eigenvectors[5:-7], mine.eigenvectors[5:-7])
    np.testing.assert_allclose(back.eigenvalues, mine.eigenvalues, rtol=1e-7)
    np.testing.assert_allclose(back.positive_sum, mine.positive_sum, rtol=1e-7)
    assert back.snps["snp"].tolist() == mine.snps["snp"].tolist()


def test_folder_errors(panel, tmp_path):
    folder = tmp_path / "ldm"
    ge.make_block_ldm(panel["bfile"], panel["blocks"], folder, progress=False)
    with pytest.raises(InputError, match="merge them first"):
        ge.make_ldm_eigen(folder)
    (folder / "block2.snp.info").unlink()
    with pytest.raises(InputError, match="block2.snp.info is missing"):
        ge.merge_block_ldm_info(folder)
    (folder / "block2.ldm.info").unlink()
    ge.merge_block_ldm_info(folder)
    with pytest.raises(InputError, match="already merged"):
        ge.merge_block_ldm_info(folder)
    ge.make_ldm_eigen(folder, progress=False)
    eigen_bin = folder / "block4.eigen.bin"
    eigen_bin.write_bytes(eigen_bin.read_bytes()[:-8])
    with pytest.raises(InputError, match="block4.eigen.bin.*truncated"):
        open_eigen(folder)
    ge.make_ldm_eigen(folder, block=2, progress=False)       # the 2nd of ldm.info: block 4
    assert open_eigen(folder).n_blocks == 3
    wrong = ge.read_ldm_info(folder / "ldm.info")
    (folder / "ldm.info").write_text((folder / "ldm.info").read_text().replace(
        f" {wrong['NumSnps'].iloc[0]}\n", f" {wrong['NumSnps'].iloc[0] + 1}\n", 1))
    with pytest.raises(InputError, match="NumSnps") as err:
        open_eigen(folder)
    assert err.value.line == 2
    with pytest.raises(InputError, match="parent .* does not exist"):
        ge.make_block_ldm(panel["bfile"], panel["blocks"], tmp_path / "no" / "dir")


def test_interrupted_build_resumes_to_the_same_files(panel, tmp_path, monkeypatch):
    full = tmp_path / "full"
    ge.make_ldm_eigen_from_genotypes(panel["bfile"], panel["blocks"], full, progress=False)
    polls = []

    def requested():
        polls.append(1)
        return len(polls) >= 2            # a stop request after the second block

    folder = tmp_path / "stopped"
    with monkeypatch.context() as patch:
        patch.setattr(interrupt, "requested", requested)
        patch.setattr(interrupt, "requested_signal", lambda: signal.SIGTERM)
        with pytest.raises(interrupt.Interrupted):
            ge.make_ldm_eigen_from_genotypes(panel["bfile"], panel["blocks"], folder,
                                             progress=False)
    assert sorted(p.name for p in folder.glob("block*")) == ["block1.eigen.bin",
                                                            "block2.eigen.bin"]
    assert (folder / ".ckpt.eigen").is_dir()
    with pytest.raises(InputError, match="give --resume"):
        ge.make_ldm_eigen_from_genotypes(panel["bfile"], panel["blocks"], folder,
                                         progress=False)
    with pytest.raises(InputError, match="cutoff"):
        ge.make_ldm_eigen_from_genotypes(panel["bfile"], panel["blocks"], folder, 0.9,
                                         resume=True, progress=False)
    run = ge.make_ldm_eigen_from_genotypes(panel["bfile"], panel["blocks"], folder,
                                           resume=True, progress=False)
    assert run.resumed == 2 and not (folder / ".ckpt.eigen").exists()
    assert sorted(os.listdir(folder)) == sorted(os.listdir(full))
    for name in os.listdir(full):
        assert filecmp.cmp(folder / name, full / name, shallow=False), name


def gctb(*argv) -> int:
    return gctb_cli.main([str(a) for a in argv])


def test_cli_end_to_end_on_shipped_data(bfile22, tmp_path):
    snps = Genotypes.open(bfile22).snps
    bp = snps["bp"].to_numpy()
    blocks = tmp_path / "blocks.txt"
    blocks.write_text("Block Chrom StartBP EndBP\n"
                      f"1 22 {bp[0]} {bp[150]}\n2 22 {bp[150]} {bp[330]}\n"
                      f"3 22 {bp[330]} {bp[400]}\n")
    ldm = tmp_path / "ldm"
    assert gctb("--bfile", bfile22, "--make-block-ldm", "--block-info", blocks, "--out",
                ldm) == 0
    log = (tmp_path / "ldm.log").read_text()
    assert "9600 SNPs are in no block" in log and "3 block(s), 400 SNPs" in log
    assert gctb("--ldm", ldm, "--merge-block-ldm-info", "--out", tmp_path / "merge") == 0
    assert gctb("--ldm", ldm, "--make-ldm-eigen", "--out", tmp_path / "eig") == 0
    assert "exceeds 0.995" in (tmp_path / "eig.log").read_text()
    eigen = open_eigen(ldm)
    assert list(np.diff(eigen.block_ptr)) == [150, 180, 70]
    assert eigen.snps["snp"].tolist() == snps["snp"].iloc[:400].tolist()
    assert np.all(eigen.explained_share() > 0.995 - 1e-6)
    x = Genotypes.open(bfile22).read(np.arange(150, 330), standardize=False)
    np.testing.assert_allclose(eigen.approximate_ld(1), np.corrcoef(x, rowvar=False),
                               atol=0.05)
    one = tmp_path / "one"
    assert gctb("--bfile", bfile22, "--make-ldm-eigen", "--block-info", blocks, "--out",
                one) == 0
    for name in os.listdir(one):
        assert filecmp.cmp(one / name, ldm / name, shallow=False), name
    # refusals: GCTB's output folder needs its parent; --resume and --block; both sources
    assert gctb("--bfile", bfile22, "--make-block-ldm", "--block-info", blocks, "--out",
                tmp_path / "no" / "ldm") == 1
    assert gctb("--bfile", bfile22, "--make-block-ldm", "--block-info", blocks, "--block", 1,
                "--resume", "--out", tmp_path / "x") == 1
    assert gctb("--ldm", ldm, "--make-ldm-eigen", "--bfile", bfile22, "--out",
                tmp_path / "x") == 1
