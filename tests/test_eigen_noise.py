"""Noise per eigen direction of SBayes on eigen LD (bayesmix.prepare.eigen_noise,
bayesmix.inference.eigen_noise): the slope's fit against simulated squares with known noise,
the weighted model against the heteroscedastic Gaussian density and the dense genetic
variance, and the pilot chains' slope and hsq on statistics drawn with such noise, where one
noise level per block underestimates hsq."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_sbayes_eigen import eigen_folder, sumstats_table, two_block_ld  # noqa: F401

from bayesmix.inference.chain import ChainSettings, run_chains
from bayesmix.inference.eigen_noise import eigen_noise_data
from bayesmix.inference.sbayes_eigen_gibbs import EigenResiduals, make_eigen_steps
from bayesmix.kernels.sbayes_eigen import eigen_loglik
from bayesmix.models.sbayes_eigen import SBayesEigenModel
from bayesmix.prepare.eigen_data import prepare_eigen_data
from bayesmix.prepare.eigen_noise import EigenNoiseFit, fit_noise_slope, with_eigen_noise


@pytest.mark.parametrize("a, b", [(1.05, 0.09), (1.0, 0.0), (2.2, 0.5)])
def test_slope_fit_recovers_the_noise(a, b):
    """Mean squares of 100 draws per direction, v_t ~ (a + b / lambda_t) chi2_100 / 100,
    over 20,000 directions: the fit finds a and b within four of their standard errors
    (from 20 repeats), and c = b / a."""
    fits = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        lam = np.exp(rng.normal(0.0, 1.2, 20_000))
        fits.append(fit_noise_slope(lam, (a + b / lam) * rng.chisquare(100, lam.size) / 100))
    for name, truth in (("a", a), ("b", b)):
        values = np.array([getattr(f, name) for f in fits])
        assert abs(values[0] - truth) < 4 * values.std(ddof=1), (name, values[0])
        assert abs(values.mean() - truth) < 4 * values.std(ddof=1) / np.sqrt(20), name
    assert fits[0].c == pytest.approx(max(fits[0].b, 0) / fits[0].a)


@pytest.mark.parametrize("jitter", [0.0, 1e-7])
def test_no_spread_of_eigenvalues_means_no_slope(jitter):
    """Blocks of one SNP (every eigenvalue 1, up to float32 rounding): 1 / lambda does not
    vary, so only the mean of the squares is identified (the fit used to split it between
    intercept and slope, c = 1 exactly or any value from the rounding noise)."""
    rng = np.random.default_rng(4)
    lam = 1.0 + jitter * rng.standard_normal(15)
    squares = rng.chisquare(100, 15) / 100 * 1.3
    fit = fit_noise_slope(lam, squares)
    assert fit.c == 0.0 and fit.b == 0.0
    assert fit.a == pytest.approx(squares.mean(), rel=1e-12)
    spread = fit_noise_slope(np.linspace(0.5, 5.0, 15), squares)  # spread: fitted as before
    design = np.column_stack([np.ones(15), 1.0 / np.linspace(0.5, 5.0, 15)])
    (a, b), *_ = np.linalg.lstsq(design, squares, rcond=None)
    assert (spread.a, spread.b) == pytest.approx((a, b), rel=1e-12)


def test_no_slope_means_no_weighting():
    """b <= 0 gives c = 0, and then every weight is 1."""
    assert EigenNoiseFit(a=1.0, b=-0.01, n_directions=10).c == 0.0
    assert EigenNoiseFit(a=-1.0, b=0.2, n_directions=10).c == 0.0


@pytest.fixture()
def weighted(tmp_path, two_block_ld):  # noqa: F811
    blocks, snps = two_block_ld
    b_std = np.random.default_rng(3).normal(0, 0.01, len(snps))
    data = prepare_eigen_data(sumstats_table(tmp_path / "t.ma", snps, b_std, 20_000),
                              eigen_folder(blocks, snps))
    return data, with_eigen_noise(data, 0.3)


def test_weighted_statistics_give_the_heteroscedastic_density(weighted):
    """The flat kernel on the transformed statistics, plus the Jacobian -1/2 sum log d_t, is
    the density of w_b ~ N(Q_b beta_b, diag(sig2_b d_t / n_b)) of the original statistics;
    q~_j'q~_j = sum_t q_tj^2 / d_t and the LD diagonal stays that of the eigenvectors."""
    data, new = weighted
    d = 1.0 + 0.3 / data.eigenvalues
    np.testing.assert_allclose(new.noise_weights, d)
    rng = np.random.default_rng(5)
    for _ in range(5):
        beta = rng.normal(0, 0.02, data.n_snps)
        sig2 = rng.uniform(0.5, 2.0, data.n_blocks)
        ours, _ = eigen_loglik(np.concatenate([beta, sig2]), new.block_ptr, new.rank_ptr,
                               new.q_ptr, new.q_values, new.n_block, new.w)
        dense = 0.0
        for b in range(data.n_blocks):
            lo, hi = data.block_ptr[b], data.block_ptr[b + 1]
            r0, r1 = data.rank_ptr[b], data.rank_ptr[b + 1]
            mean = data.q_block(b).T @ beta[lo:hi]
            dense += stats.multivariate_normal.logpdf(
                data.w[r0:r1], mean, np.diag(sig2[b] * d[r0:r1] / data.n_block[b]))
        assert ours - 0.5 * np.log(d).sum() == pytest.approx(dense, abs=1e-4)  # float32 Q
    for b in range(data.n_blocks):
        lo, hi = data.block_ptr[b], data.block_ptr[b + 1]
        r0, r1 = data.rank_ptr[b], data.rank_ptr[b + 1]
        np.testing.assert_allclose(new.qq[lo:hi], (data.q_block(b) ** 2 / d[r0:r1]).sum(1),
                                   rtol=1e-5)
    np.testing.assert_array_equal(new.ld_diagonal, data.qq)


def test_genetic_variance_is_beta_r_beta(weighted, two_block_ld):  # noqa: F811
    """GenVar of the weighted model is beta'R beta of the blocks' dense LD (all eigenpairs
    kept), as it is for the unweighted one; the statistics' |w|^2 is the original's."""
    data, new = weighted
    blocks, _ = two_block_ld
    beta = np.random.default_rng(6).normal(0, 0.03, data.n_snps)
    dense = sum(beta[lo:lo + len(r)] @ r @ beta[lo:lo + len(r)]
                for r, lo in zip(blocks, (0, 40)))
    for held in (data, new):
        residuals = EigenResiduals(SimpleNamespace(data=held))
        assert residuals.genetic_variance({"beta": beta}) == pytest.approx(dense, rel=1e-5)
    assert new.squared_norm(new.w) == pytest.approx(float(data.w @ data.w), rel=1e-12)


def test_weighting_comes_after_the_cutoff_and_only_once(weighted):
    data, new = weighted
    with pytest.raises(ValueError, match="cut-off before"):
        new.at_cutoff(0.9)
    with pytest.raises(ValueError, match="already"):
        with_eigen_noise(new, 0.1)
    assert eigen_noise_data(data, "flat", None, None) is data


@pytest.mark.slow
def test_hsq_recovered_where_flat_noise_underestimates_it(tmp_path):
    """Statistics drawn from the weighted model itself (200 AR(1) blocks of 50 SNPs, c = 0.6,
    as a small panel gives; hsq 0.1, so a block holds little signal, as at genome-wide
    sizes): the pilot chains find c within 10%, and SBayesC with their weights recovers hsq,
    while one noise level per block, which then overstates the noise along the large
    eigenvalues where the signal lies, falls below it."""
    rng = np.random.default_rng(11)
    m_block, n_blocks, n = 50, 200, 50_000.0
    idx = np.arange(m_block)
    r = 0.9 ** np.abs(np.subtract.outer(idx, idx))
    lam, u = np.linalg.eigh(r)
    m = m_block * n_blocks
    beta = np.zeros(m)
    causal = rng.choice(m, 300, replace=False)
    beta[causal] = rng.normal(0, 1, 300)
    beta *= np.sqrt(0.1 / sum(beta[k:k + m_block] @ r @ beta[k:k + m_block]
                              for k in range(0, m, m_block)))
    b_std = np.empty(m)
    for k in range(0, m, m_block):  # w = L^1/2 U'beta + e, e_t ~ N(0, (1 + c / lambda_t) / n)
        w = np.sqrt(lam) * (u.T @ beta[k:k + m_block])
        w += rng.standard_normal(m_block) * np.sqrt((1 + 0.6 / lam) / n)
        b_std[k:k + m_block] = u @ (np.sqrt(lam) * w)
    bases = rng.choice(list("ACG"), m)
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1",
                         "bp": 1000 * np.arange(1, m + 1), "cm": 0.0, "a1": bases,
                         "a2": np.where(bases == "A", "C", "T"), "freq": 0.3, "n": 1000})
    data = prepare_eigen_data(sumstats_table(tmp_path / "t.ma", snps, b_std, n),
                              eigen_folder([r] * n_blocks, snps))
    settings = ChainSettings(chain_length=1500, burn_in=500, thin=1, out_freq=0, seed=2)
    hsq, lines, held = {}, [], {}
    for noise in ("lambda", "flat"):
        held[noise] = eigen_noise_data(data, noise, lambda d: SBayesEigenModel(d, "C"),
                                       make_eigen_steps, seed=3, say=lines.append)
        result = run_chains(SBayesEigenModel(held[noise], "C"), make_eigen_steps, settings)
        hsq[noise] = result.pooled("hsq")
    c = (held["lambda"].noise_weights - 1.0) * data.eigenvalues  # d_t = 1 + c / lambda_t
    assert abs(c[0] - 0.6) < 0.1 * 0.6, c[0]
    np.testing.assert_allclose(c, c[0])
    assert held["flat"] is data
    assert any("noise pilot 2" in line for line in lines)
    assert abs(hsq["lambda"].mean() - 0.1) < 0.15 * 0.1, hsq["lambda"].mean()
    assert hsq["flat"].mean() < 0.9 * 0.1, hsq["flat"].mean()


def test_a_stop_request_ends_the_pilots_without_a_fit(weighted):
    """A Ctrl-C (deferred, as during a run) before or during the pilots: no fit, None, so
    the command stops with nothing written instead of sampling with a half-fitted noise."""
    import os
    import signal

    from bayesmix import interrupt

    data, _ = weighted
    with interrupt.handling_signals(), interrupt.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        assert eigen_noise_data(data, "lambda", lambda d: SBayesEigenModel(d, "C"),
                                make_eigen_steps) is None


def test_a_diverging_pilot_leaves_one_noise_level_per_block(weighted):
    """A pilot that diverges (the harness's tiny data can, with the pilot's own seed) does not
    stop the analysis: the pilots end, with c = 0 when it was the first, the log says why,
    and the statistics are used as they are."""
    from bayesmix.errors import ConvergenceError

    class Diverging:
        residuals = None

        def step(self, point):
            raise ConvergenceError("the chain diverged: SNP s1 has a standardised effect of 2")

    data, _ = weighted
    lines = []
    held = eigen_noise_data(data, "lambda", lambda d: SBayesEigenModel(d, "C"),
                            lambda model, rng: [Diverging()], say=lines.append)
    assert held is data
    assert any("diverged" in line and "c = 0 kept" in line for line in lines), lines
