"""The block-wise positive semi-definite repair of indefinite LD (bayesmix.ld.repair)."""

import numpy as np
import pytest

from bayesmix.io.plink import Genotypes
from bayesmix.ld import build_ld
from bayesmix.ld.repair import block_cuts, nearest_psd_blocks


@pytest.fixture(scope="module")
def sparse_ld(bfile22):
    """GCTB-style sparse LD (n r^2 >= 10 anywhere) of 3,000 SNPs of the 503-person chr22 panel:
    strongly indefinite."""
    ids = set(Genotypes.open(bfile22).snps["snp"].iloc[:3000])
    return build_ld(Genotypes.open(bfile22, extract=ids), "sparse", progress=False)


def test_cuts_sit_where_the_least_ld_crosses(sparse_ld):
    """Each cut minimises, over its search window, the r^2 summed over the pairs it separates
    (brute force on the dense matrix)."""
    r = sparse_ld.to_scipy().toarray().astype(np.float64)
    m = len(r)
    cuts = block_cuts(sparse_ld, 400)
    assert cuts[0] == 0 and cuts[-1] == m and (np.diff(cuts) > 0).all()

    # prefix[a, b] = sum of r_ij^2 over i <= a, j <= b: the pairs a cut at c separates are
    # rows i < c, columns j >= c
    prefix = np.cumsum(np.cumsum(r**2, axis=0), axis=1)

    def crossing(c):
        return prefix[c - 1, m - 1] - prefix[c - 1, c - 1]

    assert crossing(m // 3) == pytest.approx((r[:m // 3, m // 3:] ** 2).sum(), rel=1e-12)

    for previous, cut in zip(cuts[:-2], cuts[1:-1]):
        window = range(previous + 200, previous + 600)
        assert crossing(cut) == pytest.approx(min(crossing(c) for c in window), rel=1e-9)


def test_repair_is_block_diagonal_psd_with_unit_diagonal(sparse_ld):
    r = sparse_ld.to_scipy().toarray().astype(np.float64)
    assert np.linalg.eigvalsh(r)[0] < -1.0  # the input is far from PSD
    repaired, report = nearest_psd_blocks(sparse_ld, block_size=400)
    q = repaired.to_scipy().toarray().astype(np.float64)
    cuts = block_cuts(sparse_ld, 400)
    assert report.n_blocks == len(cuts) - 1 and report.clipped < 0
    np.testing.assert_allclose(np.diag(q), 1.0, atol=1e-6)
    block_of = np.searchsorted(cuts, np.arange(len(q)), side="right")
    assert not q[block_of[:, None] != block_of[None, :]].any()  # nothing between blocks
    assert report.r2_dropped == pytest.approx(
        (np.triu(r, 1)[block_of[:, None] != block_of[None, :]] ** 2).sum(), rel=1e-6)
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        assert np.linalg.eigvalsh(q[lo:hi, lo:hi])[0] > -1e-5  # float32 storage
        # the repair stays nearer the input block than the ridge that would make it PSD
        block = r[lo:hi, lo:hi]
        low = np.linalg.eigvalsh(block)[0]
        if low < 0:
            lam = -low / (1 - low)
            ridged = (1 - lam) * block + lam * np.eye(hi - lo)
            assert np.linalg.norm(q[lo:hi, lo:hi] - block) < np.linalg.norm(ridged - block)


def test_psd_isolated_blocks_are_unchanged():
    """Block-diagonal LD whose blocks are already PSD comes back unchanged (to float32)."""
    import pandas as pd
    from scipy.linalg import block_diag

    from bayesmix.ld.store import LDMatrix

    rng = np.random.default_rng(3)
    blocks = []
    for size in (150, 200, 250):
        x = rng.normal(size=(400, size)).cumsum(axis=1)
        blocks.append(np.corrcoef(x, rowvar=False))
    r = block_diag(*blocks)
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(len(r))], "chr": "1",
                         "bp": np.arange(len(r)) + 1, "a1": "A", "a2": "G", "freq": 0.3})
    ld = LDMatrix.from_scipy(r, snps)
    repaired, report = nearest_psd_blocks(ld, block_size=200)
    # r2_dropped: total minus kept r^2, both sums of ~10^4 (rounding ~1e-9, a dropped pair >= 1e-4)
    assert report.clipped == 0 and report.r2_dropped == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(repaired.to_scipy().toarray(), ld.to_scipy().toarray(), atol=1e-6)


def test_band_layout_is_repaired_as_its_csr(sparse_ld):
    """The same matrix held in the band layout (as SBayes reads GCTB's band/shrunk files) is
    repaired without a CSR copy to the same result, cut for cut."""
    from bayesmix.kernels.sbayes import band_from_csr
    from bayesmix.ld.store import LDMatrix

    csr = sparse_ld.astype("int16")
    first, row_ptr, values = band_from_csr(np.asarray(csr.indptr), np.asarray(csr.indices),
                                           np.asarray(csr.data))
    band = LDMatrix(row_ptr, None, values, csr.snps, None, dict(csr.meta), csr.scale,
                    row_first=first)
    assert band.is_band
    np.testing.assert_array_equal(block_cuts(band, 400), block_cuts(csr, 400))
    from_band, band_report = nearest_psd_blocks(band, block_size=400)
    from_csr, csr_report = nearest_psd_blocks(csr, block_size=400)
    assert band_report == csr_report
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(from_band, name), getattr(from_csr, name))
