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
from bayesmix.kernels.gwas import complete_case_regression, genotype_cross_products
from bayesmix.simulate.effects import draw_effects
from bayesmix.simulate.gwas import marginal_gwas
from bayesmix.simulate.genotypes import simulate_genotypes, write_bfile
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


def test_complete_case_kernel():
    rng = np.random.default_rng(6)
    n, k = 60, 8
    x = rng.integers(0, 3, (n, k)).astype(np.float32)
    x[rng.random((n, k)) < 0.2] = np.nan
    x[:, 5] = 1.0  # constant: no estimate
    x[3:, 6] = np.nan  # 3 observed samples, 3 parameters: no residual degree of freedom
    cov = rng.normal(size=(n, 1))
    cov[:30, 0] = 2.0  # constant covariate where SNP 7 is observed: collinear with the intercept
    x[30:, 7] = np.nan
    y = rng.normal(size=(2, n))
    design = np.ascontiguousarray(np.column_stack([np.ones(n), cov]).T)
    beta, se, n_obs, x_sum = complete_case_regression(np.ascontiguousarray(x.T), design, y)
    for j in range(k):
        obs = ~np.isnan(x[:, j])
        assert n_obs[j] == obs.sum() and np.isclose(x_sum[j], x[obs, j].sum())
        if j in (5, 6, 7):
            assert np.isnan(beta[j]).all() and np.isnan(se[j]).all()
            continue
        for t in range(2):
            ref = _lstsq_reference(x[obs, j:j + 1].astype(np.float64), y[t, obs], cov[obs])[0]
            np.testing.assert_allclose([beta[j, t], se[j, t]], ref[:2], rtol=1e-9)
    # a block of one SNP gives that SNP's estimates, from the same compiled kernel
    one = complete_case_regression(np.ascontiguousarray(x[:, :1].T), design, y)
    np.testing.assert_array_equal(one[0], beta[:1])
    assert len(complete_case_regression.signatures) == 1


def test_missing_genotypes_are_dropped_per_snp(tmp_path):
    rng = np.random.default_rng(7)
    x = simulate_genotypes(300, 40, rng=rng).astype(np.int8)
    x[rng.random(x.shape) < 0.05] = -127
    x[:, 7] = np.where(x[:, 7] == -127, 1, x[:, 7])  # some SNPs complete
    write_bfile(tmp_path / "m", x)
    geno = Genotypes.open(tmp_path / "m")
    y = rng.normal(size=300)
    y[:10] = np.nan
    cov = rng.normal(size=(300, 2))
    res = marginal_gwas(geno, y, covariates=cov, block_size=16)
    for j in range(40):
        obs = (x[:, j] != -127) & ~np.isnan(y)
        assert res["N"][j] == obs.sum()
        ref = _lstsq_reference(x[obs, j:j + 1].astype(np.float64), y[obs], cov[obs])[0]
        np.testing.assert_allclose(res[["BETA", "SE", "Z", "P"]].iloc[j], ref, rtol=1e-8)
        assert np.isclose(res["FREQ"][j], x[obs, j].mean() / 2)


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
    with pytest.raises(InputError, match="finite"):
        marginal_gwas(geno22, np.where(np.arange(geno22.n_samples) == 3, np.inf, y))
    with pytest.raises(InputError, match="covariate rows"):
        marginal_gwas(geno22, y, covariates=np.ones((5, 1)))
    with pytest.raises(InputError, match="collinear"):
        marginal_gwas(geno22, y, covariates=np.ones((geno22.n_samples, 1)))


def _assert_matches_plink2(tmp_path, bfile, geno, y, cov):
    """z, beta, se, freq, N agree with plink2 --glm to its printed precision (6 significant
    digits: relative 5e-6)."""
    write_phen(tmp_path / "y.phen", geno.samples, y)
    write_phen(tmp_path / "c.cov", geno.samples, cov)
    subprocess.run(["plink2", "--bfile", str(bfile), "--pheno", str(tmp_path / "y.phen"),
                    "--covar", str(tmp_path / "c.cov"), "--glm", "hide-covar",
                    "cols=+a1freq,+beta,+se", "--threads", "1", "--out", str(tmp_path / "p")],
                   check=True, capture_output=True)
    plink = pd.read_csv(next(tmp_path.glob("p*.glm.linear")), sep="\t")
    ours = marginal_gwas(geno, y, covariates=cov)
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
    np.testing.assert_array_equal(plink["OBS_CT"], ours["N"])


needs_plink2 = pytest.mark.skipif(shutil.which("plink2") is None, reason="plink2 not installed")


@pytest.mark.slow
@needs_plink2
def test_matches_plink2_glm(tmp_path, bfile22, geno22, trait):
    cov = np.random.default_rng(5).normal(size=(geno22.n_samples, 2))
    _assert_matches_plink2(tmp_path, bfile22, geno22, trait.y[:, 0], cov)


@pytest.mark.slow
@needs_plink2
def test_matches_plink2_glm_with_missing_genotypes(tmp_path):
    rng = np.random.default_rng(8)
    x = simulate_genotypes(800, 300, rng=rng).astype(np.int8)
    x[rng.random(x.shape) < 0.03] = -127
    write_bfile(tmp_path / "m", x)
    geno = Genotypes.open(tmp_path / "m")
    effects = draw_effects("C", geno.heterozygosity, 0.5, rng, n_causal=20)
    y = simulate_phenotypes(geno, effects, 0.5, rng=rng).y[:, 0]
    y[:25] = np.nan
    _assert_matches_plink2(tmp_path, tmp_path / "m", geno, y, rng.normal(size=(800, 1)))


def test_two_trait_gwas_noise_correlation_is_phenotypic_correlation(tmp_path):
    """Same samples for both traits (full overlap): at null SNPs cov(z1, z2) = corr(y1, y2),
    the rho0 = N_s / sqrt(N1 N2) corr(y1, y2) that from_ld uses for summary statistics."""
    rng = np.random.default_rng(9)
    x = simulate_genotypes(4000, 600, rng=rng, block_size=20, rho=0.7)
    write_bfile(tmp_path / "c", x)
    geno = Genotypes.open(tmp_path / "c")
    het = geno.heterozygosity.copy()
    het[20:] = 0.0  # causal SNPs only in the first LD block
    effects = draw_effects("mixer2", het, (0.05, 0.05), rng, n_causal=(0, 0, 5), rho12=0.0)
    effects.het = geno.heterozygosity  # the true H again (beta is 0 outside the block)
    pheno = simulate_phenotypes(geno, effects, (0.05, 0.05), rng=rng, residual_corr=0.6)
    z1, z2 = (t["Z"].to_numpy()[20:] for t in marginal_gwas(geno, pheno.y))
    r_y = np.corrcoef(pheno.y.T)[0, 1]
    # 29 independent blocks of 20 SNPs: average within blocks, then across them
    block_means = (z1 * z2).reshape(29, 20).mean(axis=1)
    se = block_means.std(ddof=1) / np.sqrt(29)
    assert abs(block_means.mean() - r_y) < 4 * se
    assert r_y > 0.4
