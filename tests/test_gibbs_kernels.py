"""numba Gibbs kernels against slow, obviously-correct numpy references."""

import numpy as np
import pytest

from bayesmix.prepare.compact_genotypes import CompactGenotypes
from bayesmix.kernels.gibbs import sweep_normal_mixture


def random_dosages(rng, n, m, missing_rate=0.05):
    p = rng.uniform(0.05, 0.95, m)
    x = rng.binomial(2, p, size=(n, m)).astype(float)
    x[rng.random((n, m)) < missing_rate] = np.nan
    x[:, 0] = 1.0  # a monomorphic column
    x[0, 0] = np.nan
    return x


def reference_design(dosages, standardize):
    """Mean-impute, centre at 2p and (optionally) scale to unit heterozygosity."""
    mean = np.nanmean(dosages, axis=0)
    x = np.where(np.isnan(dosages), mean, dosages) - mean
    p = mean / 2
    het = 2 * p * (1 - p)
    scale = np.where(het > 1e-12, 1 / np.sqrt(np.where(het > 0, het, 1)), 0.0)
    return x * (scale if standardize else (het > 1e-12))


@pytest.mark.parametrize("standardize", [True, False])
def test_compact_genotypes_match_dense_reference(standardize):
    rng = np.random.default_rng(1)
    dosages = random_dosages(rng, 57, 13)
    geno = CompactGenotypes.from_dosages(dosages, standardize=standardize)
    x_ref = reference_design(dosages, standardize)
    np.testing.assert_allclose(geno.dense(), x_ref, atol=1e-12)
    np.testing.assert_allclose(geno.xtx, (x_ref ** 2).sum(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(geno.colsum, 0.0, atol=1e-9)
    beta = rng.standard_normal(13)
    beta[[2, 5]] = 0
    np.testing.assert_allclose(geno.matvec(beta), x_ref @ beta, atol=1e-10)
    v = rng.standard_normal(57)
    np.testing.assert_allclose(geno.rmatvec(v), x_ref.T @ v, atol=1e-10)
    assert geno.codes.dtype == np.int8


def reference_sweep(x, resid, beta, comp, gamma, snp_var, log_pi, sig2_e, rng):
    """Single-site Gibbs written out with dense columns; same random-number order.
    ``log_pi``: (K,) shared or (M, K) per-SNP log weights."""
    for j in range(x.shape[1]):
        lp = log_pi[j] if np.ndim(log_pi) == 2 else log_pi
        xj = x[:, j]
        xtx = xj @ xj
        rhs = xj @ resid + xtx * beta[j]
        log_w = np.empty(len(gamma))
        for k, g in enumerate(gamma):
            v = g * snp_var[j]
            if v <= 0 or xtx <= 0:
                log_w[k] = lp[k]
            else:
                lhs = xtx + sig2_e / v
                log_w[k] = lp[k] - 0.5 * np.log(v * lhs / sig2_e) + 0.5 * rhs**2 / (sig2_e * lhs)
        w = np.exp(log_w - log_w.max())
        u = rng.random()
        k = min(int(np.searchsorted(np.cumsum(w), u * w.sum(), side="right")), len(w) - 1)
        v = gamma[k] * snp_var[j]
        new = 0.0
        if v > 0:
            if xtx > 0:
                lhs = xtx + sig2_e / v
                new = rhs / lhs + np.sqrt(sig2_e / lhs) * rng.standard_normal()
            else:
                new = np.sqrt(v) * rng.standard_normal()
        resid -= xj * (new - beta[j])
        beta[j] = new
        comp[j] = k
    return int((beta != 0).sum())


@pytest.mark.parametrize("per_snp", [False, True])
@pytest.mark.parametrize("gamma", [[0.0, 1.0], [0.0, 0.01, 0.1, 1.0]])
def test_sweep_matches_reference(gamma, per_snp):
    """Shared weights, or per-SNP weights (a composed prior) passed as snp_log_weights."""
    rng = np.random.default_rng(7)
    n, m = 80, 15
    dosages = random_dosages(rng, n, m)
    geno = CompactGenotypes.from_dosages(dosages)
    x = geno.dense()
    gamma = np.array(gamma)
    log_pi = np.log(rng.dirichlet(np.ones(len(gamma)), size=m if per_snp else None))
    shared, rows = (log_pi[0], log_pi) if per_snp else (log_pi, None)
    snp_var = rng.uniform(0.05, 0.5, m)
    beta0 = np.where(rng.random(m) < 0.5, rng.standard_normal(m), 0.0)
    y = x @ rng.standard_normal(m) + rng.standard_normal(n)
    for sweep_round in range(3):
        resid_fast, beta_fast, comp_fast = y - x @ beta0, beta0.copy(), np.zeros(m, np.int8)
        resid_ref, beta_ref, comp_ref = resid_fast.copy(), beta0.copy(), np.zeros(m, np.int8)
        nnz = sweep_normal_mixture(geno.codes, geno.center, geno.scale, geno.missing_ptr,
                                   geno.missing_idx, geno.xtx, geno.colsum, resid_fast, beta_fast,
                                   comp_fast, gamma, snp_var, shared, 0.8,
                                   np.random.default_rng(sweep_round), rows)
        nnz_ref = reference_sweep(x, resid_ref, beta_ref, comp_ref, gamma, snp_var, log_pi, 0.8,
                                  np.random.default_rng(sweep_round))
        np.testing.assert_array_equal(comp_fast, comp_ref)
        np.testing.assert_allclose(beta_fast, beta_ref, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(resid_fast, resid_ref, atol=1e-9)
        np.testing.assert_allclose(resid_fast, y - x @ beta_fast, atol=1e-9)
        assert nnz == nnz_ref
        beta0 = beta_fast


def test_from_blocks_in_place_equals_joined():
    rng = np.random.default_rng(5)
    dosages = random_dosages(rng, 40, 9)
    blocks = [dosages[:, :4], dosages[:, 4:]]
    joined = CompactGenotypes.from_blocks(40, blocks)
    in_place = CompactGenotypes.from_blocks(40, blocks, n_snps=9)
    np.testing.assert_array_equal(joined.codes, in_place.codes)
    np.testing.assert_array_equal(joined.missing_idx, in_place.missing_idx)
    np.testing.assert_allclose(joined.dense(), reference_design(dosages, True), atol=1e-12)
    with pytest.raises(ValueError):
        CompactGenotypes.from_blocks(40, blocks, n_snps=10)


def test_snp_accumulator_kernel_matches_numpy_sums():
    """The chain driver's one-pass per-SNP accumulation equals plain numpy sums over draws."""
    from bayesmix.inference.chain import SnpAccumulator

    rng = np.random.default_rng(4)
    m, k, n_draws = 50, 4, 30
    draws_beta = np.where(rng.random((n_draws, m)) < 0.3, rng.normal(size=(n_draws, m)), 0.0)
    draws_comp = np.where(draws_beta != 0, rng.integers(1, k, (n_draws, m)), 0).astype(np.int8)
    acc = SnpAccumulator.empty(m, k)
    for beta, comp in zip(draws_beta, draws_comp):
        acc.add(beta, comp)
    assert acc.count == n_draws
    np.testing.assert_allclose(acc.mean, draws_beta.mean(0), rtol=1e-12)
    np.testing.assert_allclose(acc.sd, draws_beta.std(0), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(acc.pip, (draws_beta != 0).mean(0))
    expect = np.stack([(draws_comp == c).sum(0) for c in range(k)], axis=1)
    np.testing.assert_array_equal(acc.comp_counts, expect)


def test_component_counts_and_slab_sum_of_squares_match_numpy():
    """The hyperparameter steps' one-pass sums against numpy on random draws (BayesR-like
    gamma with a zero component, per-SNP slab variances as in BayesS)."""
    from bayesmix.kernels.gibbs import component_counts, slab_sum_of_squares

    rng = np.random.default_rng(6)
    m = 300
    gamma = np.array([0.0, 0.01, 0.1, 1.0])
    comp = rng.integers(0, 4, m).astype(np.int8)
    beta = np.where(comp > 0, rng.normal(0, 0.1, m), 0.0)
    slab = rng.uniform(0.5, 2.0, m) * 0.3
    np.testing.assert_array_equal(component_counts(comp, 4), np.bincount(comp, minlength=4))
    rel = gamma[comp] * slab / 0.3
    k, ssq = slab_sum_of_squares(beta, comp, gamma, slab, 0.3)
    assert k == (rel > 0).sum()
    assert ssq == pytest.approx((beta[rel > 0] ** 2 / rel[rel > 0]).sum(), rel=1e-12)
    # int64 labels; a slab as component 0 (BayesA-like) and a zero slab variance
    comp = rng.integers(0, 3, m)
    gamma = np.array([0.5, 0.0, 2.0])
    slab[:5] = 0.0
    np.testing.assert_array_equal(component_counts(comp, 3), np.bincount(comp, minlength=3))
    rel = gamma[comp] * slab / 0.3
    k, ssq = slab_sum_of_squares(beta, comp, gamma, slab, 0.3)
    assert k == (rel > 0).sum()
    assert ssq == pytest.approx((beta[rel > 0] ** 2 / rel[rel > 0]).sum(), rel=1e-12)


@pytest.mark.parametrize("label", [4, -1])
def test_component_counts_refuses_a_label_outside_the_components(label):
    """A label outside 0..K-1 is an error, not a write outside the counts."""
    from bayesmix.kernels.gibbs import component_counts

    comp = np.zeros(10, np.int64)
    comp[3] = label
    with pytest.raises(ValueError, match="outside"):
        component_counts(comp, 4)


def test_draw_component_inverts_the_categorical_cdf_for_arrays_and_tuples():
    """draw_component picks k iff u lies in [F_{k-1}, F_k) of the normalised weights
    exp(log_w) (brute force), the same index for a float array and a tuple of floats
    (with_item); with_item sets an array's element in place and replaces a tuple's."""
    from numba import njit

    from bayesmix.kernels.gibbs import draw_component, with_item

    @njit
    def on_tuple(log_w, u):
        return draw_component(log_w, len(log_w), u)

    rng = np.random.default_rng(3)
    for _ in range(500):
        k = int(rng.integers(1, 6))
        log_w = rng.normal(0, 3, k) - rng.choice([0.0, 700.0])  # weights far below exp's range
        u = rng.random()
        cdf = np.cumsum(np.exp(log_w - log_w.max()))
        cdf /= cdf[-1]
        expected = int(np.searchsorted(cdf, u, side="right"))
        if np.min(np.abs(cdf - u)) < 1e-12:  # too close to a boundary to be decided by rounding
            continue
        as_tuple = tuple(log_w)
        assert on_tuple(as_tuple, u) == expected
        assert draw_component(log_w.copy(), k, u) == expected
    assert with_item((1.0, 2.0, 3.0), 1, 5.0) == (1.0, 5.0, 3.0)
    array = np.array([1.0, 2.0])
    assert with_item(array, 0, 7.0) is array and array[0] == 7.0
