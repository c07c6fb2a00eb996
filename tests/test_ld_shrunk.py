"""Shrunk LD against a direct dense implementation of Wen & Stephens (2010), eq. 2.6-2.8."""

import numpy as np
import pytest

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.ld import build_ld


def wen_stephens_dense(x, cm, m, ne, cutoff):
    """Dense shrinkage estimator from genotypes x (n, p) and map positions cm (cM)."""
    h = sum(1.0 / k for k in range(1, 2 * m))
    theta = (1 / h) / (2 * m + 1 / h)
    s = 0.5 * np.cov(x.T, bias=True)                  # haplotype-scale covariance
    p = len(cm)
    for i in range(p):
        for j in range(p):
            if i != j:
                rho = 4 * ne * abs(cm[j] - cm[i]) / 100
                f = np.exp(-rho / (2 * m))
                s[i, j] *= f if f >= cutoff else 0.0
    sigma = (1 - theta) ** 2 * s + 0.5 * theta * (1 - 0.5 * theta) * np.eye(p)
    d = np.sqrt(np.diag(sigma))
    return sigma / np.outer(d, d)


@pytest.fixture(scope="module")
def region(bfile22):
    ids = set(Genotypes.open(bfile22).snps["snp"].iloc[2000:2150])
    return Genotypes.open(bfile22, extract=ids)


def test_shrunk_matches_dense_formula_with_a_map_file(tmp_path, region):
    snps = region.snps
    rng = np.random.default_rng(0)
    cm = 20 + np.cumsum(rng.exponential(0.08, len(snps)))        # irregular map, ~12 cM span
    gmap = tmp_path / "chr22.map"
    gmap.write_text("".join(f"{s} {b} {c:.17g}\n" for s, b, c in zip(snps["snp"], snps["bp"], cm)))
    ld = build_ld(region, "shrunk", gen_map=gmap, ne=5000, genmap_n=100, cutoff=1e-3,
                  progress=False, block_size=40, max_memory_mb=0.2)
    x = region.read(standardize=False).astype(np.float64)
    expect = wen_stephens_dense(x, cm, 100, 5000, 1e-3)
    got = ld.to_scipy().toarray()
    np.testing.assert_allclose(got, expect, atol=2e-7)
    assert (expect == 0).any()                      # the cutoff bites inside the region
    assert np.linalg.eigvalsh(got.astype(np.float64)).min() > 0
    np.testing.assert_allclose(ld.snps["cm"], cm)


def test_shrunk_with_constant_rate_and_defaults(region):
    ld = build_ld(region, "shrunk", cm_per_mb=0.5, progress=False)
    x = region.read(standardize=False).astype(np.float64)
    cm = region.snps["bp"].to_numpy() * 0.5 / 1e6
    expect = wen_stephens_dense(x, cm, 183, 11400, 1e-5)
    np.testing.assert_allclose(ld.to_scipy().toarray(), expect, atol=2e-7)
    assert ld.meta["ne"] == 11400 and ld.meta["genmap_n"] == 183


def test_map_problems(tmp_path, region):
    snps = region.snps
    gmap = tmp_path / "partial.map"
    lines = [f"{s} {b} {i * 0.01 + 1}" for i, (s, b) in enumerate(zip(snps["snp"], snps["bp"]))]
    gmap.write_text("\n".join(lines[5:]) + "\n")        # first five SNPs have no position
    ld = build_ld(region, "shrunk", gen_map=gmap, progress=False)
    assert ld.shape == (len(snps) - 5, len(snps) - 5)
    assert ld.meta["dropped"]["SNPs without a genetic map position"] == 5
    bad = tmp_path / "bad.map"
    bad.write_text("rs1 100 0.1\nrs2 200 zero\n")
    with pytest.raises(InputError) as err:
        build_ld(region, "shrunk", gen_map=bad, progress=False)
    assert err.value.line == 2 and err.value.column == 3
    with pytest.raises(InputError, match="exactly one"):
        build_ld(region, "shrunk", gen_map=gmap, cm_per_mb=1.0, progress=False)
