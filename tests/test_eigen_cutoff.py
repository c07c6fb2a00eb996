"""Choosing the eigen cut-off by pseudo-validation: the truncation against a fresh
preparation at the lower cut-off, the kernels against dense products, the pseudo split
against the covariances of two independent samples, the prediction accuracy against the
correlation it estimates, and the command line."""

from dataclasses import replace

import numpy as np
import pytest
from test_sbayes_eigen import eigen_folder, random_blocks, sumstats_table, two_block_ld  # noqa: F401

from bayesmix.errors import ConvergenceError, InputError
from bayesmix.inference.eigen_cutoff import (
    pseudo_summary,
    training_data,
    tune_eigen_cutoff,
    validation_scores,
)
from bayesmix.kernels.sbayes_eigen import eigen_fitted, eigen_transposed, snp_sums_of_squares
from bayesmix.prepare.eigen_data import prepare_eigen_data


def test_kernels_match_dense_products():
    rng = np.random.default_rng(1)
    for sizes, ranks in (((5, 4, 7), (3, 4, 1)), ((12,), (12,)), ((3, 9), (2, 5))):
        block_ptr, rank_ptr, q_ptr, q_values, dense = random_blocks(rng, sizes, ranks)
        v = rng.normal(size=rank_ptr[-1])
        expected = np.concatenate([q @ v[rank_ptr[b]:rank_ptr[b + 1]]
                                   for b, q in enumerate(dense)])
        np.testing.assert_allclose(eigen_transposed(block_ptr, rank_ptr, q_ptr, q_values, v),
                                   expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(snp_sums_of_squares(block_ptr, rank_ptr, q_ptr, q_values),
                                   np.concatenate([(q**2).sum(axis=1) for q in dense]),
                                   rtol=1e-10)


def test_truncation_equals_a_preparation_at_the_lower_cutoff(tmp_path, two_block_ld):
    """Blocks with all SNPs observed and a block re-decomposed without missing SNPs: every
    array of at_cutoff(c) is that of prepare_eigen_data(cutoff=c)."""
    blocks, snps = two_block_ld
    rng = np.random.default_rng(2)
    b_std = rng.normal(0, 0.01, len(snps))
    table = sumstats_table(tmp_path / "t.ma", snps, b_std, 40_000)
    table = table[~table["SNP"].isin(["s3", "s4", "s17"])]  # first block re-decomposed
    eigen = eigen_folder(blocks, snps)
    full = prepare_eigen_data(table, eigen)
    for cutoff in (0.99, 0.9, 0.6, 0.3):
        truncated = full.at_cutoff(cutoff)
        fresh = prepare_eigen_data(table, eigen, cutoff=cutoff)
        assert truncated.ranks.sum() < full.ranks.sum()
        for name in ("rank_ptr", "q_ptr", "block_ptr"):
            np.testing.assert_array_equal(getattr(truncated, name), getattr(fresh, name))
        for name in ("q_values", "w", "qq", "eigenvalues"):
            np.testing.assert_allclose(getattr(truncated, name), getattr(fresh, name),
                                       rtol=1e-6, atol=1e-7, err_msg=name)
    assert full.at_cutoff(1.0) is full


def test_pseudo_split_gives_two_independent_samples(tmp_path, two_block_ld):
    """Over draws of the GWAS (b* ~ N(R beta, R/n)) and of the split, b_train and b_val
    have the covariances of marginal effects from independent samples of n_t and n_v
    people: R/n_t, R/n_v and 0 between them (the construction's purpose)."""
    blocks, snps = two_block_ld
    r = blocks[1]                          # one block, all eigenpairs kept: Q'Q = R
    one = snps.iloc[40:].reset_index(drop=True)
    n = 5_000
    rng = np.random.default_rng(3)
    beta = np.zeros(len(r))
    beta[[3, 20]] = [0.04, -0.03]
    chol = np.linalg.cholesky(r)
    data = prepare_eigen_data(sumstats_table(tmp_path / "t.ma", one, r @ beta, n),
                              eigen_folder([r], one))
    train, val = [], []
    for _ in range(6000):
        b_std = r @ beta + chol @ rng.normal(size=len(r)) / np.sqrt(n)
        # the rotation of this draw, without writing a file: w = L^-1/2 U'b = Q b / lambda
        q = data.q_block(0)
        drawn = replace(data, w=(q.T @ b_std) / data.eigenvalues,
                        stats=data.stats.assign(B_STD=b_std))
        pseudo = pseudo_summary(drawn, rng)
        train.append(q @ pseudo.w_train)   # b_train = Q' w_train
        val.append(pseudo.b_validation)
    train, val = np.array(train) - r @ beta, np.array(val) - r @ beta
    n_t, n_v = 0.9 * n, 0.1 * n
    scale = np.sqrt(np.outer(np.diag(r), np.diag(r)))
    np.testing.assert_allclose(np.cov(train.T) * n_t, r, atol=0.1 * scale.max())
    np.testing.assert_allclose(np.cov(val.T) * n_v, r, atol=0.1 * scale.max())
    cross = (train.T @ val) / len(train) * np.sqrt(n_t * n_v)
    assert np.abs(cross).max() < 0.1


def test_validation_scores_of_the_true_effects(tmp_path, two_block_ld):
    """With validation statistics of a large sample, r(beta_true) -> corr(X beta, y) =
    sqrt(beta'R beta) (phenotypic variance 1) and the slope of y on X beta -> 1; effects
    shrunk by half keep r and double the slope; a predictor away from the signal gets ~0."""
    blocks, snps = two_block_ld
    rng = np.random.default_rng(4)
    beta = np.zeros(len(snps))
    beta[[5, 22, 50, 61]] = [0.2, -0.15, 0.18, 0.12]
    signal = np.concatenate([r @ beta[lo:lo + len(r)] for r, lo in zip(blocks, (0, 40))])
    h2 = float(beta @ signal)
    n = 5_000_000
    data = prepare_eigen_data(sumstats_table(tmp_path / "t.ma", snps, signal, n),
                              eigen_folder(blocks, snps))
    pseudo = pseudo_summary(data, rng)
    r, slope = validation_scores(data, pseudo, beta)
    assert r == pytest.approx(np.sqrt(h2), rel=0.01)
    assert slope == pytest.approx(1.0, rel=0.01)           # the true effects are calibrated
    assert validation_scores(data, pseudo, 0.5 * beta) == pytest.approx((r, 2 * slope))
    other = np.zeros(len(snps))
    other[[30, 45]] = [0.1, -0.1]
    assert abs(validation_scores(data, pseudo, other)[0]) < 0.2 * np.sqrt(h2)
    assert np.isnan(validation_scores(data, pseudo, np.zeros(len(snps)))).all()


def test_tuning_chooses_the_most_accurate_cutoff(tmp_path, two_block_ld):
    """A fit that recovers the effects only from enough eigenvectors: the cut-off with them
    wins; the training data of each cut-off has its rank and 90% of the sample."""
    blocks, snps = two_block_ld
    beta = np.zeros(len(snps))
    beta[[5, 50]] = [0.2, 0.15]
    signal = np.concatenate([r @ beta[lo:lo + len(r)] for r, lo in zip(blocks, (0, 40))])
    data = prepare_eigen_data(sumstats_table(tmp_path / "t.ma", snps, signal, 200_000),
                              eigen_folder(blocks, snps))
    seen = []

    def fit(train, seed):
        seen.append((train.cutoff, int(train.rank_ptr[-1]), float(train.n_block[0])))
        noise = np.random.default_rng(seed).normal(0, 0.05, len(snps))
        return beta if train.cutoff == 0.9 else beta + noise

    tuning = tune_eigen_cutoff(data, [0.99, 0.9, 0.5], fit, seed=7, say=lambda *a: None)
    assert tuning.best == 0.9
    assert [c for c, _, _ in seen] == [0.99, 0.9, 0.5]
    assert seen[0][1] > seen[1][1] > seen[2][1]
    assert all(n == pytest.approx(180_000) for _, _, n in seen)
    # a cut-off whose chain diverges is passed over; when every one does, the largest stays

    def diverging(bad):
        def fit_or_fail(train, seed):
            if train.cutoff in bad:
                raise ConvergenceError("the chain diverged: hsq 1.2 outside [0, 1). Advice")
            return fit(train, seed)
        return fit_or_fail

    messages = []
    tuning = tune_eigen_cutoff(data, [0.99, 0.9, 0.5], diverging({0.9}), say=messages.append)
    assert tuning.best == 0.99 and np.isnan(tuning.accuracy[1])
    assert "Relative accuracy" in messages[1]
    assert any(m.split()[0] == "0.9" and "diverged (the chain diverged: hsq 1.2" in m
               for m in messages)
    all_bad = tune_eigen_cutoff(data, [0.5, 0.99, 0.9], diverging({0.99, 0.9, 0.5}),
                                say=lambda *a: None)
    assert all_bad.best == 0.99
    with pytest.raises(InputError, match="above"):
        tune_eigen_cutoff(data.at_cutoff(0.9), [0.99, 0.9], fit, say=lambda *a: None)


def test_training_data_is_the_split_at_the_cutoff(tmp_path, two_block_ld):
    blocks, snps = two_block_ld
    data = prepare_eigen_data(sumstats_table(tmp_path / "t.ma", snps,
                                             np.full(len(snps), 0.01), 10_000),
                              eigen_folder(blocks, snps))
    pseudo = pseudo_summary(data, np.random.default_rng(5))
    train = training_data(data, pseudo, 0.8)
    lower = data.at_cutoff(0.8)
    np.testing.assert_array_equal(train.rank_ptr, lower.rank_ptr)
    kept = np.concatenate([np.arange(data.rank_ptr[b], data.rank_ptr[b] + lower.ranks[b])
                           for b in range(data.n_blocks)])
    np.testing.assert_array_equal(train.w, pseudo.w_train[kept])
    fitted = eigen_fitted(data.block_ptr, data.rank_ptr, data.q_ptr, data.q_values,
                          np.ones(len(snps)))
    assert np.all(np.isfinite(fitted))
