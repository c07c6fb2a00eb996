"""Marginal-regression GWAS: the numba kernel against numpy, the statistics against a per-SNP
least-squares fit, and the z-scores against plink2 --glm on the shipped genotypes."""

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.kernels.gwas import genotype_cross_products
from bayesmix.simulate.effects import draw_effects
from bayesmix.simulate.gwas import marginal_gwas
from bayesmix.simulate.phenotype import simulate_phenotypes, write_phen


@pytest.fixture(scope="module")
def geno22(bfile22):
    return Genotypes.open(bfile22)


@pytest.fixture(scope="module")
def trait(geno22):
    effects = draw_effects("C", geno22.heterozygosity, 0.6, np.random.default_rng(1), n_causal=40)
    return simulate_phenotypes(geno22, effects, 0.6, rng=np.random.default_rng(2))


@pytest.mark.parametrize("n,k,c", [(1, 1, 1), (37, 5, 3), (200, 64, 1)])
def test_cross_products_kernel(n, k, c):
    rng = np.random.default_rng(n)
    x = np.asfortranarray(rng.integers(0, 3, (n, k)).astype(np.float32))
    a = rng.normal(size=(n, c))
    xta, xtx = genotype_cross_products(x, np.ascontiguousarray(a.T))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(xta, x64.T @ a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xtx, (x64**2).sum(axis=0), rtol=1e-12)


def _lstsq_reference(x, y, cov):
    """One ordinary least-squares fit per SNP: y ~ 1 + cov + x (textbook formulas)."""
    rows = []
    for j in range(x.shape[1]):
        design = np.column_stack([np.ones(len(y)), cov, x[:, j]])
        coef, rss, *_ = np.linalg.lstsq(design, y, rcond=None)
        df = len(y) - design.shape[1]
        sigma2 = ((y - design @ coef) ** 2).sum() / df
        se = np.sqrt(sigma2 * np.linalg.inv(design.T @ design)[-1, -1])
        rows.append((coef[-1], se, coef[-1] / se, 2 * stats.t.sf(abs(coef[-1] / se), df)))
    return np.array(rows)


def test_matches_per_snp_least_squares_with_covariates_and_missing(geno22, trait):
    rng = np.random.default_rng(3)
    cov = rng.normal(size=(geno22.n_samples, 2))
    y = trait.y[:, 0].copy()
    y[rng.choice(len(y), 40, replace=False)] = np.nan
    res = marginal_gwas(geno22, y, covariates=cov, block_size=77)
    cols = np.r_[0:30, 5000:5030]
    obs = ~np.isnan(y)
    x = geno22.read(cols, standardize=False).astype(np.float64)[obs]
    ref = _lstsq_reference(x, y[obs], cov[obs])
    got = res.iloc[cols][["BETA", "SE", "Z", "P"]].to_numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-12)
    assert (res["N"] == obs.sum()).all()
    np.testing.assert_allclose(res["FREQ"].iloc[cols], x.mean(axis=0) / 2)
    assert res["SNP"].tolist() == geno22.snps["snp"].tolist()


def test_two_traits_equal_separate_runs(geno22, trait):
    y2 = np.column_stack([trait.y[:, 0], np.random.default_rng(4).normal(size=geno22.n_samples)])
    both = marginal_gwas(geno22, y2)
    for t in range(2):
        alone = marginal_gwas(geno22, y2[:, t])
        pd.testing.assert_frame_equal(both[t], alone)


def test_bad_inputs(geno22):
    with pytest.raises(InputError, match="phenotype values"):
        marginal_gwas(geno22, np.ones(10))
    with pytest.raises(InputError, match="constant"):
        marginal_gwas(geno22, np.ones(geno22.n_samples))
    y = np.random.default_rng(0).normal(size=geno22.n_samples)
    with pytest.raises(InputError, match="collinear"):
        marginal_gwas(geno22, y, covariates=np.ones((geno22.n_samples, 1)))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("plink2") is None, reason="plink2 not installed")
def test_matches_plink2_glm(tmp_path, bfile22, geno22, trait):
    """z, beta, se, freq agree with plink2 --glm to its printed precision (6 significant
    digits: relative 5e-6), with two covariates."""
    cov = np.random.default_rng(5).normal(size=(geno22.n_samples, 2))
    write_phen(tmp_path / "y.phen", geno22.samples, trait.y)
    write_phen(tmp_path / "c.cov", geno22.samples, cov)
    subprocess.run(["plink2", "--bfile", str(bfile22), "--pheno", str(tmp_path / "y.phen"),
                    "--covar", str(tmp_path / "c.cov"), "--glm", "hide-covar",
                    "cols=+a1freq,+beta,+se", "--threads", "1", "--out", str(tmp_path / "p")],
                   check=True, capture_output=True)
    plink = pd.read_csv(next(tmp_path.glob("p*.glm.linear")), sep="\t")
    ours = marginal_gwas(geno22, trait.y[:, 0], covariates=cov)
    assert plink["ID"].tolist() == ours["SNP"].tolist()
    # plink2 may count the other allele: align to our A1
    same = plink["A1"].to_numpy() == ours["A1"].to_numpy()
    assert (same | (plink["A1"].to_numpy() == ours["A2"].to_numpy())).all()
    sign = np.where(same, 1.0, -1.0)
    for theirs, mine, flip in [("T_STAT", "Z", sign), ("BETA", "BETA", sign), ("SE", "SE", 1.0)]:
        np.testing.assert_allclose(plink[theirs].to_numpy(), flip * ours[mine].to_numpy(),
                                   rtol=5.01e-6, atol=1e-9)
    freq = np.where(same, ours["FREQ"], 1 - ours["FREQ"])
    np.testing.assert_allclose(plink["A1_FREQ"], freq, atol=5.01e-7)
    np.testing.assert_allclose(plink["P"], ours["P"], rtol=5.01e-6, atol=1e-300)
