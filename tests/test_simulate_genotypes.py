"""Simulated genotypes: LD and allele frequencies against the latent model's exact values,
PLINK files readable by our reader and by plink, streaming equal to in-memory."""

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayesmix.io.plink import Genotypes
from bayesmix.simulate.genotypes import (default_bim, simulate_bfile, simulate_genotypes,
                                         write_bfile)


def test_simulated_genotype_ld_matches_latent_model():
    """Adjacent-SNP genotype correlation equals the bivariate-normal orthant formula."""
    p = np.array([0.3, 0.6, 0.2])
    rho = 0.8
    x = simulate_genotypes(20000, 3, rng=np.random.default_rng(12), freqs=p, rho=rho)
    assert (np.abs(x.mean(axis=0) / 2 - p) < 4 * np.sqrt(p * (1 - p) / 40000)).all()
    t = stats.norm.ppf(p)
    for i, j in [(0, 1), (1, 2), (0, 2)]:
        cov = [[1, rho ** (j - i)], [rho ** (j - i), 1]]
        d = stats.multivariate_normal(cov=cov).cdf([t[i], t[j]]) - p[i] * p[j]
        r = d / np.sqrt(p[i] * (1 - p[i]) * p[j] * (1 - p[j]))
        assert abs(np.corrcoef(x[:, i], x[:, j])[0, 1] - r) < 4 / np.sqrt(20000)
    # Hardy-Weinberg: P(x = 2) = p^2
    assert (np.abs((x == 2).mean(axis=0) - p**2) < 4 * np.sqrt(p**2 * (1 - p**2) / 20000)).all()


def test_blocks_are_independent():
    x = simulate_genotypes(20000, 4, rng=np.random.default_rng(1), block_size=2, rho=0.95,
                           freqs=np.full(4, 0.5))
    r = np.corrcoef(x.T)
    expected = 2 / np.pi * np.arcsin(0.95)  # orthant probability at the median
    assert abs(r[0, 1] - expected) < 4 / np.sqrt(20000) and abs(r[2, 3] - expected) < 4 / np.sqrt(20000)
    assert abs(r[1, 2]) < 4 / np.sqrt(20000)


def test_write_bfile_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    x = simulate_genotypes(50, 30, rng=rng).astype(np.int8)
    x[3, 4] = -127  # missing
    bim = default_bim(30, chrom="7")
    write_bfile(tmp_path / "g", x, bim=bim)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.bed", "g.bim", "g.fam"]
    geno = Genotypes.open(tmp_path / "g")
    assert geno.snps["chr"].eq("7").all() and geno.snps["snp"].tolist() == bim["snp"].tolist()
    assert geno.snps["n_obs"][4] == 49
    raw = geno.read(standardize=False)
    observed = x != -127
    np.testing.assert_array_equal(raw[observed], x[observed])


def test_streamed_file_equals_in_memory(tmp_path):
    simulate_bfile(tmp_path / "s", 40, 250, rng=np.random.default_rng(3), block_size=60)
    x = simulate_genotypes(40, 250, rng=np.random.default_rng(3), block_size=60)
    np.testing.assert_array_equal(Genotypes.open(tmp_path / "s").read(standardize=False), x)


@pytest.mark.skipif(shutil.which("plink1.9") is None, reason="plink1.9 not installed")
def test_plink_reads_simulated_files(tmp_path):
    x = simulate_genotypes(300, 80, rng=np.random.default_rng(4))
    write_bfile(tmp_path / "g", x)
    subprocess.run(["plink1.9", "--bfile", str(tmp_path / "g"), "--freq", "--out",
                    str(tmp_path / "f")], check=True, capture_output=True)
    freq = pd.read_csv(tmp_path / "f.frq", sep=r"\s+")
    # plink --freq reports its minor allele: the .bim's A1 ("A") or A2 ("G")
    ours = x.mean(axis=0) / 2
    np.testing.assert_allclose(freq["MAF"], np.where(freq["A1"] == "A", ours, 1 - ours), atol=5e-5)
