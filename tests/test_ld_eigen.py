"""Eigen-decomposed LD blocks: eigenpairs of the exact block LD, truncation share, storage."""

import numpy as np
import pytest

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.ld.eigen import EigenBlocks, eigen_decompose_blocks, read_ld_blocks


@pytest.fixture(scope="module")
def region(bfile22):
    ids = set(Genotypes.open(bfile22).snps["snp"].iloc[:360])
    return Genotypes.open(bfile22, extract=ids)


def test_full_rank_reconstructs_the_block_ld(region):
    eig = eigen_decompose_blocks(region, block_snps=150, prop=1.0, progress=False)
    assert eig.n_blocks == 3 and list(np.diff(eig.block_ptr)) == [150, 150, 60]
    x = region.read(standardize=False).astype(np.float64)
    for b, (a, z) in enumerate([(0, 150), (150, 300), (300, 360)]):
        r = np.corrcoef(x[:, a:z].T)
        values = np.linalg.eigvalsh(r)
        # keeps exactly the positive eigenvalues; their product U L U' is the PSD part of R
        positive = values[values > 1e-10]
        kept, _ = eig.block(b)
        np.testing.assert_allclose(np.sort(kept)[-len(positive):], positive, atol=1e-9)
        np.testing.assert_allclose(eig.approximate_ld(b), r, atol=2e-6)


def test_truncation_keeps_the_requested_share(tmp_path, region):
    blocks = tmp_path / "blocks.txt"
    bp = region.snps["bp"].to_numpy()
    # half-open blocks (StartBP <= bp < EndBP, GCTB's rule): the SNP at b1's EndBP is b2's
    # first, the one at b2's EndBP is in no block
    blocks.write_text("Block Chrom StartBP EndBP\n"
                      f"b1 22 {bp[0]} {bp[100]}\nb2 22 {bp[100]} {bp[250]}\n")
    eig = eigen_decompose_blocks(region, blocks=blocks, prop=0.9, progress=False)
    assert eig.meta["blocks"] == ["b1", "b2"]
    assert list(np.diff(eig.block_ptr)) == [100, 150]
    assert eig.snps["bp"].iloc[100] == bp[100] and eig.snps["bp"].iloc[-1] == bp[249]
    assert eig.meta["dropped"]["SNPs outside the LD blocks"] == 110
    share = eig.explained_share()
    assert np.all(share >= 0.9)
    for b in range(2):
        values, vectors = eig.block(b)
        assert np.all(np.diff(values) <= 0)
        # one eigenvalue fewer would not exceed the share (minimal rank, GCTB's rule)
        assert (values.sum() - values[-1]) / eig.positive_sum[b] <= 0.9
        np.testing.assert_allclose(vectors.T.astype(np.float64) @ vectors, np.eye(len(values)),
                                   atol=1e-5)
    back = EigenBlocks.load(eig.save(tmp_path / "eig"))
    for b in range(2):
        np.testing.assert_array_equal(back.block(b)[1], eig.block(b)[1])
    assert list(back.snps["snp"]) == list(eig.snps["snp"])


def test_bad_block_input(tmp_path, region):
    bad = tmp_path / "bad.txt"
    bad.write_text("Block Chrom StartBP EndBP\nb1 22 100 x\n")
    with pytest.raises(InputError) as err:
        read_ld_blocks(bad)
    assert (err.value.line, err.value.column) == (2, 4)
    bad.write_text("Block Chrom StartBP EndBP\nb1 22 100 200\nb2 22 199 300\n")
    with pytest.raises(InputError, match="overlaps block b1") as err:
        read_ld_blocks(bad)
    assert err.value.line == 3
    with pytest.raises(InputError, match="one of them"):
        eigen_decompose_blocks(region, progress=False)
