"""Phenotypes from genotypes: genetic values against a dense reference, h2 scaling, residual
correlation, liability threshold, the .phen writer."""

import numpy as np
import pytest
from scipy import stats

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.simulate.effects import draw_effects, mixer_bivariate_effects
from bayesmix.simulate.genotypes import simulate_genotypes, write_bfile
from bayesmix.simulate.phenotype import (ascertain, genetic_values, simulate_phenotypes,
                                          write_phen)


@pytest.fixture(scope="module")
def geno22(bfile22):
    return Genotypes.open(bfile22)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """3,000 simulated people x 400 SNPs with block LD (for tight moment checks)."""
    rng = np.random.default_rng(2024)
    prefix = tmp_path_factory.mktemp("cohort") / "cohort"
    write_bfile(prefix, simulate_genotypes(3000, 400, rng=rng, block_size=50, rho=0.8))
    return Genotypes.open(prefix)


def test_genetic_values_match_dense_product(geno22):
    effects = draw_effects("mixer", geno22.heterozygosity, 0.3, np.random.default_rng(1), pi=0.02)
    g = genetic_values(geno22, effects, block_size=37)
    # reference: the full standardised matrix, built column by column from raw counts
    x = geno22.read(standardize=False).astype(np.float64)
    p = x.mean(axis=0) / 2
    x_std = (x - 2 * p) / np.sqrt(2 * p * (1 - p))
    np.testing.assert_allclose(g[:, 0], x_std @ effects.b_std, rtol=1e-5, atol=1e-6)


def test_quantitative_h2_scaling_and_reproducibility(geno22):
    effects = draw_effects("C", geno22.heterozygosity, 0.5, np.random.default_rng(2), n_causal=50)
    a = simulate_phenotypes(geno22, effects, 0.5, rng=np.random.default_rng(3))
    b = simulate_phenotypes(geno22, effects, 0.5, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.y, b.y)
    assert np.isclose(a.genetic.var(), 0.5)
    # the returned effects are the rescaled ones: they reproduce g exactly
    np.testing.assert_allclose(genetic_values(geno22, a.effects), a.genetic, rtol=1e-6, atol=1e-9)
    residual = a.y - a.genetic
    # residual variance 1 - h2: chi-square interval for the sample variance
    n = len(residual)
    var = residual.var(ddof=0) * n / 0.5
    assert stats.chi2(n).ppf(1e-4) < var < stats.chi2(n).isf(1e-4)
    assert list(a.samples.columns) == ["fid", "iid"] and len(a.samples) == geno22.n_samples


def test_two_traits_residual_correlation(cohort):
    effects = mixer_bivariate_effects(cohort.heterozygosity, (0.3, 0.6), rng=np.random.default_rng(4),
                                      pi1=0.05, pi2=0.05, pi12=0.05, rho12=0.5)
    ph = simulate_phenotypes(cohort, effects, (0.3, 0.6), rng=np.random.default_rng(5),
                             residual_corr=-0.4)
    np.testing.assert_allclose(ph.genetic.var(axis=0), [0.3, 0.6])
    e = ph.liability - ph.genetic
    r = np.corrcoef(e.T)[0, 1]
    n = len(e)
    # Fisher z interval
    assert abs(np.arctanh(r) - np.arctanh(-0.4)) < 4 / np.sqrt(n - 3)
    np.testing.assert_allclose(e.var(axis=0), [0.7, 0.4], rtol=4 * np.sqrt(2 / n))


def test_liability_threshold_prevalence(cohort):
    effects = draw_effects("mixer", cohort.heterozygosity, 0.4, np.random.default_rng(6), pi=0.1)
    k = 0.2
    ph = simulate_phenotypes(cohort, effects, 0.4, rng=np.random.default_rng(7), prevalence=k)
    assert set(np.unique(ph.y)) == {0.0, 1.0}
    np.testing.assert_array_equal(ph.y[:, 0], ph.liability[:, 0] > stats.norm.isf(k))
    n = len(ph.y)
    assert abs(ph.y.mean() - k) < 4 * np.sqrt(k * (1 - k) / n)


def test_bad_arguments(geno22):
    effects = draw_effects("C", geno22.heterozygosity, 0.5, np.random.default_rng(2), n_causal=5)
    rng = np.random.default_rng(0)
    with pytest.raises(InputError):
        simulate_phenotypes(geno22, effects, 1.2, rng=rng)
    with pytest.raises(InputError):
        simulate_phenotypes(geno22, effects, 0.5, rng=rng, prevalence=0.0)
    short = draw_effects("C", geno22.heterozygosity[:100], 0.5, rng, n_causal=5)
    with pytest.raises(InputError, match="effects cover 100 SNPs"):
        simulate_phenotypes(geno22, short, 0.5, rng=rng)


def test_write_phen(tmp_path, geno22):
    y = np.column_stack([np.arange(geno22.n_samples) / 7.0, np.ones(geno22.n_samples)])
    y[3, 0] = np.nan
    path = tmp_path / "x.phen"
    write_phen(path, geno22.samples, y)
    lines = path.read_text().splitlines()
    assert len(lines) == geno22.n_samples
    fields = [line.split() for line in lines]
    assert all(len(f) == 4 for f in fields)
    assert [f[:2] for f in fields] == geno22.samples[["fid", "iid"]].values.tolist()
    assert fields[3][2] == "NA"
    values = np.array([[np.nan if v == "NA" else float(v) for v in f[2:]] for f in fields])
    np.testing.assert_allclose(values, y, rtol=1e-9)


def test_case_control_ascertainment(cohort):
    effects = draw_effects("C", cohort.heterozygosity, 0.5, np.random.default_rng(8), pi=0.1)
    ph = simulate_phenotypes(cohort, effects, 0.5, rng=np.random.default_rng(9), prevalence=0.1)
    cc = ascertain(ph, 150, 300, rng=np.random.default_rng(10))
    sampled = ~np.isnan(cc.y[:, 0])
    assert (cc.y[sampled, 0] == 1).sum() == 150 and (cc.y[sampled, 0] == 0).sum() == 300
    np.testing.assert_array_equal(cc.y[sampled], ph.y[sampled])
    threshold = stats.norm.isf(0.1)
    assert (cc.liability[sampled & (cc.y[:, 0] == 1), 0] > threshold).all()
    with pytest.raises(InputError, match="cases"):
        ascertain(ph, 10_000, 10, rng=np.random.default_rng(0))
