"""SBayes on eigen-decomposed block LD: the sweep against brute-force enumeration, the
likelihood against the Gaussian density and finite differences, the rotation of the
statistics, and recovery of known effects and per-block residual variances."""

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats
from test_sbayes_exact import batch_se, enumerate_posterior

from bayesmix.errors import InputError
from bayesmix.io.sumstats import read_sumstats
from bayesmix.inference.chain import ChainSettings, run_chains
from bayesmix.inference.sbayes_eigen_gibbs import make_eigen_steps
from bayesmix.kernels.sbayes import mixture_terms
from bayesmix.kernels.sbayes_eigen import (
    block_sums_of_squares,
    eigen_loglik,
    eigen_sweep,
    eigen_sweep_threads,
)
from bayesmix.ld.eigen import EigenBlocks
from bayesmix.models.sbayes_eigen import SBayesEigenModel
from bayesmix.prepare.eigen_data import prepare_eigen_data, restricted_decomposition


def random_blocks(rng, sizes, ranks):
    """Layout arrays of :mod:`bayesmix.kernels.sbayes_eigen` for random blocks: Q_b' =
    U_b diag(lambda_b)^1/2 with U_b orthonormal columns of a random correlation matrix."""
    block_ptr, rank_ptr, q_ptr, parts, dense = [0], [0], [0], [], []
    for m, k in zip(sizes, ranks):
        a = rng.normal(size=(m, m + 3))
        cov = a @ a.T
        d = np.sqrt(np.diag(cov))
        values, vectors = np.linalg.eigh(cov / np.outer(d, d))
        values, vectors = values[::-1][:k], vectors[:, ::-1][:, :k]
        q = np.asarray(vectors * np.sqrt(values), np.float32)
        parts.append(q.ravel())
        dense.append(q.astype(np.float64))
        block_ptr.append(block_ptr[-1] + m)
        rank_ptr.append(rank_ptr[-1] + k)
        q_ptr.append(q_ptr[-1] + m * k)
    return (np.array(block_ptr), np.array(rank_ptr), np.array(q_ptr),
            np.concatenate(parts), dense)


def test_sweep_matches_enumeration_per_block():
    """Fixed hyperparameters, two blocks with different n_b and residual variances: the
    chain's inclusion probabilities and posterior means equal the exact posterior of each
    block's regression w_b = Q_b beta_b + e, e ~ N(0, sig2_b / n_b)."""
    rng = np.random.default_rng(3)
    block_ptr, rank_ptr, q_ptr, q_values, dense = random_blocks(rng, (5, 4), (3, 4))
    n_block, sig2 = np.array([400.0, 900.0]), np.array([0.8, 1.6])
    beta_true = np.array([0.0, 0.12, 0.0, 0.0, 0.0, 0.0, -0.1, 0.0, 0.0])
    w = np.concatenate([q.T @ beta_true[block_ptr[b]:block_ptr[b + 1]]
                        + rng.normal(0, np.sqrt(sig2[b] / n_block[b]), q.shape[1])
                        for b, q in enumerate(dense)])
    pi, comp_var = np.array([0.7, 0.3]), np.array([0.0, 0.01])
    m = block_ptr[-1]
    scale = np.linspace(0.5, 1.5, m)  # per-SNP multipliers as SBayesS has
    qq = np.concatenate([np.einsum("jk,jk->j", q, q) for q in dense])
    beta, comp, resid = np.zeros(m), np.zeros(m, np.int64), w.copy()
    n_iter = 20_000
    nz, draws = np.empty((n_iter, m)), np.empty((n_iter, m))
    chain_rng = np.random.default_rng(1)
    for it in range(n_iter):
        eigen_sweep(block_ptr, rank_ptr, q_ptr, q_values, n_block, qq, resid, beta, comp,
                    mixture_terms(np.log(pi), comp_var), scale, sig2, chain_rng.random(m),
                    chain_rng.random(m))
        draws[it], nz[it] = beta, beta != 0
    nz, draws = nz[1000:], draws[1000:]
    for b, q in enumerate(dense):
        lo, hi = block_ptr[b], block_ptr[b + 1]
        wb = w[rank_ptr[b]:rank_ptr[b + 1]]
        pip, mean = enumerate_posterior(n_block[b] * q @ q.T, n_block[b] * q @ wb, pi, comp_var,
                                        scale[lo:hi], sig2[b])
        np.testing.assert_array_less(np.abs(nz[:, lo:hi].mean(0) - pip),
                                     4.5 * batch_se(nz[:, lo:hi]) + 0.005)
        np.testing.assert_array_less(np.abs(draws[:, lo:hi].mean(0) - mean),
                                     4.5 * batch_se(draws[:, lo:hi]) + 1e-3)
        assert pip.max() > 0.5  # informative
    # the kept residual is w - Q beta of the final effects
    fitted = np.concatenate([q.T @ beta[block_ptr[b]:block_ptr[b + 1]]
                             for b, q in enumerate(dense)])
    np.testing.assert_allclose(resid, w - fitted, atol=1e-6)


def test_threaded_sweep_gives_the_serial_draws():
    rng = np.random.default_rng(9)
    block_ptr, rank_ptr, q_ptr, q_values, dense = random_blocks(rng, (30, 12, 25, 40, 8),
                                                                (20, 12, 10, 30, 3))
    m = block_ptr[-1]
    qq = np.concatenate([np.einsum("jk,jk->j", q, q) for q in dense])
    w = rng.normal(0, 0.03, rank_ptr[-1])
    runs = []
    for sweep in (eigen_sweep, lambda *a: eigen_sweep_threads(*a, threads=3)):
        beta, comp, resid = np.zeros(m), np.zeros(m, np.int64), w.copy()
        draw_rng = np.random.default_rng(2)
        for _ in range(5):
            counts, _ = sweep(block_ptr, rank_ptr, q_ptr, q_values, np.full(5, 5e3), qq, resid,
                              beta, comp, mixture_terms(np.log([0.9, 0.1]), [0.0, 1e-3]),
                              np.ones(m), np.linspace(0.5, 2.0, 5), draw_rng.random(m),
                              draw_rng.random(m))
        runs.append((beta, comp, resid, counts))
    for serial, threaded in zip(*runs):
        np.testing.assert_array_equal(serial, threaded)
    assert runs[0][3][1] > 0


def test_block_sums_of_squares_match_numpy_per_block():
    rng = np.random.default_rng(8)
    ranks = np.array([3, 0, 5, 1])
    rank_ptr = np.concatenate([[0], np.cumsum(ranks)])
    values = rng.normal(size=rank_ptr[-1])
    expect = [np.sum(values[a:b] ** 2) for a, b in zip(rank_ptr[:-1], rank_ptr[1:])]
    np.testing.assert_allclose(block_sums_of_squares(rank_ptr, values), expect, rtol=1e-14)


def test_loglik_is_the_gaussian_density_and_its_gradient():
    rng = np.random.default_rng(4)
    block_ptr, rank_ptr, q_ptr, q_values, dense = random_blocks(rng, (6, 3, 5), (4, 3, 2))
    n_block = np.array([1e3, 5e3, 2e4])
    w = rng.normal(0, 0.05, rank_ptr[-1])
    theta = np.concatenate([rng.normal(0, 0.02, block_ptr[-1]), [0.9, 1.3, 2.0]])
    logp, grad = eigen_loglik(theta, block_ptr, rank_ptr, q_ptr, q_values, n_block, w)
    m = block_ptr[-1]
    expected = sum(
        stats.norm.logpdf(w[rank_ptr[b]:rank_ptr[b + 1]],
                          q.T @ theta[block_ptr[b]:block_ptr[b + 1]],
                          np.sqrt(theta[m + b] / n_block[b])).sum()
        for b, q in enumerate(dense))
    assert logp == pytest.approx(expected, rel=1e-9)
    h = 1e-6 * np.maximum(np.abs(theta), 1e-2)
    for i in range(len(theta)):
        up, down = theta.copy(), theta.copy()
        up[i] += h[i]
        down[i] -= h[i]
        numeric = (eigen_loglik(up, block_ptr, rank_ptr, q_ptr, q_values, n_block, w)[0]
                   - eigen_loglik(down, block_ptr, rank_ptr, q_ptr, q_values, n_block, w)[0]
                   ) / (2 * h[i])
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-4)


def test_restricted_decomposition_is_the_observed_snps_kept_ld():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(12, 30))
    r = np.corrcoef(a)
    values, vectors = np.linalg.eigh(r)
    values, vectors = values[::-1][:8], vectors[:, ::-1][:, :8]  # a truncated decomposition
    observed = np.ones(12, bool)
    observed[[2, 7, 8]] = False
    kept = (vectors * values) @ vectors.T
    new_values, new_vectors, total = restricted_decomposition(values, vectors, observed, 1.0)
    np.testing.assert_allclose((new_vectors * new_values) @ new_vectors.T,
                               kept[np.ix_(observed, observed)], atol=1e-10)
    exact = np.sort(np.linalg.eigvalsh(kept[np.ix_(observed, observed)]))[::-1]
    np.testing.assert_allclose(new_values, exact[:len(new_values)], atol=1e-10)
    np.testing.assert_allclose(total, exact[exact > 1e-9].sum(), rtol=1e-9)
    part, _, _ = restricted_decomposition(values, vectors, observed, 0.8)
    assert part.sum() >= 0.8 * exact[exact > 0].sum() > part[:-1].sum()


def eigen_folder(r_blocks, snps, prop=1.0):
    """EigenBlocks of given dense block correlation matrices (all eigenpairs kept)."""
    values, vectors, rank_ptr, positive = [], [], [0], []
    for r in r_blocks:
        lam, u = np.linalg.eigh(r)
        lam, u = lam[::-1], u[:, ::-1]
        values.append(lam)
        vectors.append(np.asarray(u, np.float32).ravel())
        rank_ptr.append(rank_ptr[-1] + len(lam))
        positive.append(lam[lam > 0].sum())
    block_ptr = np.concatenate([[0], np.cumsum([len(r) for r in r_blocks])])
    return EigenBlocks(snps, block_ptr, np.array(rank_ptr), np.concatenate(values),
                       np.concatenate(vectors), np.array(positive),
                       {"prop": prop, "n_samples": 1000,
                        "blocks": [f"b{i}" for i in range(len(r_blocks))]})


def sumstats_table(path, snps, b_std, n):
    """Statistics with standardised effects b_std written as a .ma file and read back."""
    het = 2 * snps["freq"] * (1 - snps["freq"])
    se = np.sqrt((1 - b_std**2) / (n * het))
    beta = b_std / np.sqrt(het)
    pd.DataFrame({"SNP": snps["snp"], "A1": snps["a1"], "A2": snps["a2"], "freq": snps["freq"],
                  "b": beta, "se": se, "p": 2 * stats.norm.sf(np.abs(beta / se)),
                  "N": n}).to_csv(path, sep=" ", index=False)
    return read_sumstats(path)


@pytest.fixture(scope="module")
def two_block_ld():
    """Two blocks of 40 and 30 SNPs of AR(1) LD (r = 0.8^|i - j|), with their SNP table."""
    rng = np.random.default_rng(6)
    blocks = []
    for m in (40, 30):
        idx = np.arange(m)
        blocks.append(0.8 ** np.abs(np.subtract.outer(idx, idx)))  # positive definite
    m = 70
    bases = rng.choice(list("ACG"), m)
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1",
                         "bp": 1000 * np.arange(1, m + 1), "cm": 0.0, "a1": bases,
                         "a2": np.where(bases == "A", "C", "T"),
                         "freq": rng.uniform(0.1, 0.5, m), "n": 1000})
    return blocks, snps


def test_rotation_reproduces_the_marginal_effects(tmp_path, two_block_ld):
    """With every eigenpair kept, Q_b'Q_b = R_b and Q_b'w_b = b*_b (R_b U = U L)."""
    blocks, snps = two_block_ld
    b_std = np.random.default_rng(7).normal(0, 0.01, len(snps))
    data = prepare_eigen_data(sumstats_table(tmp_path / "t.ma", snps, b_std, 50_000), eigen_folder(blocks, snps))
    for b, r in enumerate(blocks):
        q = data.q_block(b)
        lo, hi = data.block_ptr[b], data.block_ptr[b + 1]
        np.testing.assert_allclose(q @ q.T, r, atol=1e-5)
        np.testing.assert_allclose(q @ data.w[data.rank_ptr[b]:data.rank_ptr[b + 1]],
                                   data.stats["B_STD"].to_numpy()[lo:hi], atol=1e-6)


def test_cutoff_above_the_folder_is_refused(tmp_path, two_block_ld):
    blocks, snps = two_block_ld
    eigen = eigen_folder(blocks, snps, prop=0.95)
    table = sumstats_table(tmp_path / "t.ma", snps, np.zeros(len(snps)), 10_000)
    with pytest.raises(InputError, match="above the 0.95"):
        prepare_eigen_data(table, eigen, cutoff=0.99)


@pytest.mark.slow
def test_recovers_effects_and_block_residual_variances(tmp_path, two_block_ld):
    """Statistics drawn from the eigen model itself, the second block with 3x the residual
    variance of the first (as LD mismatch gives): hsq and both variances are recovered."""
    blocks, snps = two_block_ld
    rng = np.random.default_rng(8)
    n = 20_000
    beta = np.zeros(len(snps))
    beta[[5, 22, 50, 61]] = [0.05, -0.04, 0.045, 0.035]
    sig2 = np.array([0.9, 2.7])
    b_std = np.concatenate([
        r @ beta[lo:lo + len(r)] + rng.multivariate_normal(np.zeros(len(r)), sig2[b] / n * r)
        for b, (r, lo) in enumerate(zip(blocks, (0, 40)))])
    data = prepare_eigen_data(sumstats_table(tmp_path / "t.ma", snps, b_std, n),
                              eigen_folder(blocks, snps))
    model = SBayesEigenModel(data, "C")
    with model.model:  # the steps in PyMC's own sampler
        tree = pm.sample(draws=1500, tune=800, chains=1, random_seed=4,
                         step=make_eigen_steps(model), progressbar=False,
                         compute_convergence_checks=False)
    post = tree.posterior
    genetic = np.array([sum(b[lo:lo + len(r)] @ r @ b[lo:lo + len(r)]
                            for r, lo in zip(blocks, (0, 40)))
                        for b in post["beta"].values[0]])
    true_hsq = float(sum(beta[lo:lo + len(r)] @ r @ beta[lo:lo + len(r)]
                         for r, lo in zip(blocks, (0, 40))))
    assert abs(genetic.mean() - true_hsq) < 3 * genetic.std() + 0.002
    means = post["sig2_e"].values[0].mean(axis=0)
    np.testing.assert_allclose(means, sig2, rtol=0.35)
    assert means[1] > 2 * means[0]
    # and in bayesmix's chain driver: hsq is the genetic variance
    result = run_chains(model, make_eigen_steps, ChainSettings(
        chain_length=1500, burn_in=500, thin=1, out_freq=0, seed=4))
    hsq = result.pooled("hsq")
    assert abs(hsq.mean() - true_hsq) < 3 * hsq.std() + 0.002


@pytest.mark.slow
def test_annotation_weights_find_the_enriched_annotation(tmp_path):
    """SBayesRC's prior on eigen LD: causal SNPs 6 times as frequent in an annotated third of
    the SNPs; the annotation's log-odds coefficient comes out clearly positive."""
    from bayesmix.distributions.effects import annotation_weights

    rng = np.random.default_rng(10)
    sizes = (60,) * 5
    blocks = [0.7 ** np.abs(np.subtract.outer(np.arange(m), np.arange(m))) for m in sizes]
    m = sum(sizes)
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1",
                         "bp": 1000 * np.arange(1, m + 1), "cm": 0.0, "a1": "A", "a2": "C",
                         "freq": rng.uniform(0.1, 0.5, m), "n": 1000})
    annotated = np.zeros(m, bool)
    annotated[rng.choice(m, m // 3, replace=False)] = True
    causal = np.flatnonzero(rng.random(m) < np.where(annotated, 0.15, 0.025))
    beta = np.zeros(m)
    beta[causal] = rng.normal(0, 0.03, len(causal))
    n = 50_000
    lo = np.concatenate([[0], np.cumsum(sizes)])
    b_std = np.concatenate([r @ beta[a:a + len(r)] + rng.multivariate_normal(
        np.zeros(len(r)), r / n) for r, a in zip(blocks, lo)])
    data = prepare_eigen_data(sumstats_table(tmp_path / "t.ma", snps, b_std, n),
                              eigen_folder(blocks, snps))
    design = np.column_stack([np.ones(m), annotated.astype(float)])
    model = SBayesEigenModel(data, "C", hyperpriors={"weights": lambda default: annotation_weights(
        design, pm.Normal("theta", 0.0, 3.0, shape=2))})
    with model.model:
        tree = pm.sample(draws=1500, tune=1000, chains=1, random_seed=5,
                         step=make_eigen_steps(model), progressbar=False,
                         compute_convergence_checks=False)
    assert annotated[causal].mean() > 0.5  # the truth is enriched
    theta = tree.posterior["theta"].values[0, :, 1]
    assert np.mean(theta > 0) > 0.95
    included = (tree.posterior["beta"].values[0] != 0).mean(axis=0)
    assert included[annotated].mean() > 2 * included[~annotated].mean()


def test_implied_hsq_is_the_share_the_statistics_claim(tmp_path):
    """E|w|^2 = hsq + (1 - hsq) K / n for independent blocks: the implied share recovers the
    true hsq; the same block listed twice (perfect LD between two blocks) doubles it."""
    rng = np.random.default_rng(11)
    block = 0.8 ** np.abs(np.subtract.outer(np.arange(40), np.arange(40)))
    blocks, n = [block] * 12, 5_000
    m = 40 * len(blocks)
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1",
                         "bp": 1000 * np.arange(1, m + 1), "cm": 0.0, "a1": "A", "a2": "C",
                         "freq": rng.uniform(0.1, 0.5, m), "n": n})
    beta = np.where(rng.random(m) < 0.1, rng.normal(0, 0.06, m), 0.0)
    true_hsq = sum(beta[i:i + 40] @ block @ beta[i:i + 40] for i in range(0, m, 40))
    b_std = np.concatenate([block @ beta[i:i + 40] + rng.multivariate_normal(
        np.zeros(40), (1 - true_hsq) / n * block) for i in range(0, m, 40)])
    data = prepare_eigen_data(sumstats_table(tmp_path / "t.ma", snps, b_std, n),
                              eigen_folder(blocks, snps))
    noise_sd = np.sqrt(2 * m) / n / (1 - m / n)  # SD of |e|^2 / (1 - K/n)
    assert SBayesEigenModel(data, "C").implied_hsq == pytest.approx(true_hsq, abs=4 * noise_sd)
    # SNPs 40-79 a copy of SNPs 0-39 (perfect LD between the first two blocks): block 2's
    # |w|^2 is block 1's, b'R^-1 b, counted a second time
    copied = np.concatenate([b_std[:40], b_std[:40], b_std[80:]])
    doubled = prepare_eigen_data(sumstats_table(tmp_path / "d.ma", snps, copied, n),
                                 eigen_folder(blocks, snps))
    first, second = (b @ np.linalg.solve(block, b) for b in (b_std[:40], b_std[40:80]))
    gain = SBayesEigenModel(doubled, "C").implied_hsq - SBayesEigenModel(data, "C").implied_hsq
    assert gain == pytest.approx((first - second) / (1 - m / n), rel=1e-3)
