"""Bivariate MiXeR kernels against slow references: explicit mixture sums, exact enumeration
of causal configurations, finite differences, numerical integration and Monte Carlo."""

import itertools
import math
import pickle

import numba
import numpy as np
import pytest
from scipy import integrate, sparse, special, stats

from bayesmix.kernels import mixer as ku
from bayesmix.kernels import mixer_bivariate as kb

PARAMS = np.array([0.2, 0.1, 0.15, 2e-5, 3e-5, 0.6, 1.1, 1.05, 0.3])


def _random_ld(rng, n_tags, n_snps, density=0.3):
    """Random tag x SNP r^2 (CSR) with values that float32 holds exactly, and H of the SNPs."""
    r2 = sparse.random(n_tags, n_snps, density=density, random_state=rng, format="csr")
    r2.data = rng.uniform(0.05, 1.0, r2.nnz).astype(np.float32).astype(np.float64)
    het = rng.uniform(0.1, 0.5, n_snps)
    return r2, het


def _cov_terms(params, n1, n2, weak):
    """Per-unit-S 2x2 covariances (trait-1 only, trait-2 only, shared) and the null
    covariance: the residual plus the weak-LD signal, weak x the expected per-SNP effect
    covariance sum_c pi_c V_c."""
    pi1, pi2, pi12, sb1, sb2, rho12, s01, s02, rho0 = params
    v1 = np.array([[n1 * sb1, 0.0], [0.0, 0.0]])
    v2 = np.array([[0.0, 0.0], [0.0, n2 * sb2]])
    c = rho12 * math.sqrt(n1 * n2 * sb1 * sb2)
    v12 = np.array([[n1 * sb1, c], [c, n2 * sb2]])
    s0 = np.array([[s01, rho0 * math.sqrt(s01 * s02)], [rho0 * math.sqrt(s01 * s02), s02]])
    return (v1, v2, v12), s0 + weak * (pi1 * v1 + pi2 * v2 + pi12 * v12)


def _fast_mixture(params, n1, n2, weak, l, q):
    """Explicit list of (weight, covariance) of the 8 bivariate normals of the fast model."""
    (v1, v2, v12), s0 = _cov_terms(params, n1, n2, weak)
    comps = []
    moments = []
    for pi in params[:3]:
        eta = pi * l + (1 - pi) * q / l
        moments.append((pi * l / eta, eta))
    for b in range(8):   # kernel order: bit 0 = C1, bit 1 = C2, bit 2 = C12
        on = (b & 1, (b >> 1) & 1, (b >> 2) & 1)
        w = np.prod([m[0] if o else 1 - m[0] for m, o in zip(moments, on)])
        cov = s0 + sum(o * m[1] * v for o, m, v in zip(on, moments, (v1, v2, v12)))
        comps.append((w, cov))
    return comps


def _mixture_pdf(comps, z):
    return sum(w * stats.multivariate_normal(cov=cov, allow_singular=True).pdf(z)
               for w, cov in comps if w > 0)


def _mixture_moments(comps):
    """E z1^2, E z2^2, E z1 z2, E z1^4, E z2^4, E z1^2 z2^2, E z1^3 z2 of a normal mixture."""
    out = np.zeros(7)
    for w, c in comps:
        a, b, d = c[0, 0], c[0, 1], c[1, 1]
        out += w * np.array([a, d, b, 3 * a * a, 3 * d * d, a * d + 2 * b * b, 3 * a * b])
    return out


def test_fast_logpdf_equals_explicit_mixture_sum():
    rng = np.random.default_rng(1)
    t = 25
    z1, z2 = rng.normal(0, 2, t), rng.normal(0, 2, t)
    n1, n2 = rng.uniform(2e4, 8e4, t), rng.uniform(2e4, 8e4, t)
    l = rng.uniform(0.5, 40, t)
    q = l ** 2 * rng.uniform(0.02, 0.9, t)
    weak = rng.uniform(0, 3, t)
    got = kb.fast_tag_logpdf(z1, z2, n1, n2, weak, l, q, PARAMS)
    want = [math.log(_mixture_pdf(_fast_mixture(PARAMS, n1[j], n2[j], weak[j], l[j], q[j]),
                                  [z1[j], z2[j]])) for j in range(t)]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    w = rng.uniform(0, 1, t)
    assert kb.fast_logp(z1, z2, n1, n2, weak, l, q, w, PARAMS) == pytest.approx(
        np.dot(w, want), rel=1e-9)


def test_fast_model_matches_exact_second_and_fourth_moments():
    """The two-point approximation keeps the first two moments of each S_c, so every moment
    of z up to order 4 equals that of the exact model (Bernoulli causal indicators,
    enumerated over all 2^(3M) configurations of a 3-SNP reference; both with the same
    weak-LD null covariance)."""
    rng = np.random.default_rng(2)
    het = rng.uniform(0.1, 0.5, 3)
    r2 = rng.uniform(0.1, 1.0, 3)
    n1, n2, weak = 4e4, 6e4, 1.7
    params = np.array([0.3, 0.2, 0.25, 3e-5, 2e-5, -0.7, 1.0, 1.2, 0.4])
    (v1, v2, v12), s0 = _cov_terms(params, n1, n2, weak)
    exact = []
    for ind in itertools.product([0, 1], repeat=9):
        ind = np.array(ind).reshape(3, 3)
        w = np.prod(np.where(ind, params[:3, None], 1 - params[:3, None]))
        s = ind @ (het * r2)
        exact.append((w, s0 + s[0] * v1 + s[1] * v2 + s[2] * v12))
    l, q = np.sum(het * r2), np.sum((het * r2) ** 2)
    fast = _fast_mixture(params, n1, n2, weak, l, q)
    np.testing.assert_allclose(_mixture_moments(fast), _mixture_moments(exact), rtol=1e-10)
    # the kernel's component posteriors sum to one and follow Bayes' rule on the same mixture
    z = np.array([3.0]), np.array([-2.0])
    post = kb.fast_component_posteriors(*z, np.array([n1]), np.array([n2]), np.array([weak]),
                                        np.array([l]), np.array([q]), params)[0]
    dens = np.array([w * stats.multivariate_normal(cov=c).pdf([3.0, -2.0]) for w, c in fast])
    np.testing.assert_allclose(post, dens / dens.sum(), rtol=1e-9)


def test_fast_pdf_integrates_to_one_and_marginal_is_univariate():
    n1, n2, weak, l, q = 5e4, 3e4, 2.2, 12.0, 30.0
    params = PARAMS.copy()
    params[0] = 0.0  # no trait-1-only component: the trait-1 marginal is univariate in pi12

    def pdf(z1, z2):
        return math.exp(kb.fast_tag_logpdf(np.array([z1]), np.array([z2]), np.array([n1]),
                                           np.array([n2]), np.array([weak]), np.array([l]),
                                           np.array([q]), params)[0])

    total, _ = integrate.dblquad(pdf, -40, 40, -40, 40, epsabs=1e-7)
    assert total == pytest.approx(1.0, abs=1e-5)
    pi, sb = params[2], params[3]
    s0 = params[6] + n1 * pi * sb * weak  # the univariate null variance with pi = pi12
    eta = pi * l + (1 - pi) * q / l
    p = pi * l / eta
    for z1 in (0.3, 2.5, -6.0):
        marg, _ = integrate.quad(lambda z2: pdf(z1, z2), -60, 60, epsabs=1e-12)
        univ = ((1 - p) * stats.norm.pdf(z1, scale=math.sqrt(s0))
                + p * stats.norm.pdf(z1, scale=math.sqrt(s0 + eta * n1 * sb)))
        assert marg == pytest.approx(univ, rel=1e-6)


def test_no_shared_component_factorises_into_univariate_models():
    rng = np.random.default_rng(3)
    t = 10
    z1, z2 = rng.normal(0, 2, t), rng.normal(0, 2, t)
    n1, n2 = np.full(t, 4e4), np.full(t, 5e4)
    l = rng.uniform(1, 30, t)
    q = l ** 2 * rng.uniform(0.05, 0.5, t)
    weak = rng.uniform(0, 3, t)
    params = PARAMS.copy()
    params[2] = 0.0
    params[8] = 0.0
    got = kb.fast_tag_logpdf(z1, z2, n1, n2, weak, l, q, params)

    def univ(z, n, pi, sb, s0):
        eta = pi * l + (1 - pi) * q / l
        p = pi * l / eta
        s0 = s0 + n * pi * sb * weak
        return np.log((1 - p) * stats.norm.pdf(z, scale=np.sqrt(s0))
                      + p * stats.norm.pdf(z, scale=np.sqrt(s0 + eta * n * sb)))

    want = univ(z1, n1, params[0], params[3], params[6]) + univ(z2, n2, params[1], params[4],
                                                                params[7])
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_identical_traits_reduce_to_univariate_infinitesimal():
    """Two traits with identical genetics (pi12 = 1, rho12 = 1, same N and sig2_beta): the
    fast model is the bivariate infinitesimal normal whose genetic covariance is N sig2 l in
    every entry (each marginal the univariate infinitesimal N(0, s0 + N sig2 l)); the weak LD
    adds to l."""
    l, q, n, weak = 10.0, 20.0, 5e4, 1.5
    params = np.array([0.0, 0.0, 1.0, 2e-5, 2e-5, 1.0, 1.0, 1.0, 0.0])
    z = np.array([1.7])
    got = kb.fast_tag_logpdf(z, -z, np.array([n]), np.array([n]), np.array([weak]),
                             np.array([l]), np.array([q]), params)[0]
    cov = np.eye(2) + (l + weak) * n * 2e-5
    assert got == pytest.approx(stats.multivariate_normal(cov=cov).logpdf([1.7, -1.7]),
                                rel=1e-10)


def test_fast_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    t = 40
    z1, z2 = rng.normal(0, 2.5, t), rng.normal(0, 2.5, t)
    n1, n2 = rng.uniform(2e4, 8e4, t), rng.uniform(2e4, 8e4, t)
    l = rng.uniform(0.5, 40, t)
    q = l ** 2 * rng.uniform(0.02, 0.9, t)
    w = rng.uniform(0.2, 1.0, t)
    weak = rng.uniform(0, 3, t)

    def fast_logp(p):
        return kb.fast_logp(z1, z2, n1, n2, weak, l, q, w, p)

    for params in (PARAMS, np.array([0.0, 0.05, 0.0, 1e-5, 4e-5, -0.4, 1.3, 0.9, -0.2]),
                   np.array([0.01, 0.0, 0.03, 4e-5, 1e-5, 0.8, 0.95, 1.2, 0.1])):
        logp, grad = kb.fast_logp_grad(z1, z2, n1, n2, weak, l, q, w, params)
        assert logp == pytest.approx(fast_logp(params), rel=1e-12)
        for k in range(9):
            h = 1e-6 * max(abs(params[k]), 1e-3)
            up, down = params.copy(), params.copy()
            up[k] += h
            down[k] -= h
            if down[k] < 0 and k < 3:   # one-sided at the pi = 0 boundary
                fd = (fast_logp(up) - logp) / h
                assert grad[k] == pytest.approx(fd, rel=1e-3, abs=1e-4), kb.PARAM_NAMES[k]
                continue
            fd = (fast_logp(up) - fast_logp(down)) / (2 * h)
            assert grad[k] == pytest.approx(fd, rel=1e-5, abs=1e-6), kb.PARAM_NAMES[k]


def _full_reference(z1, z2, n1, n2, weak, r2_dense, het, params, n_draws, seed):
    """Slow full model: same seeded causal sets, explicit Python loops (densities summed in
    log space, so extreme z-scores stay finite)."""
    m = het.shape[0]
    counts = [int(round(p * m)) for p in params[:3]]
    logpdf = np.zeros((n_draws, len(z1)))
    for k in range(n_draws):
        s = np.zeros((3, len(z1)))
        for c in range(3):
            idx = [ku.permuted_index(r, k, kb.component_seed(seed, c), m)
                   for r in range(counts[c])]
            assert len(set(idx)) == counts[c]
            s[c] = r2_dense[:, idx] @ het[idx]
        for j in range(len(z1)):
            (v1, v2, v12), s0 = _cov_terms(params, n1[j], n2[j], weak[j])
            cov = s0 + s[0, j] * v1 + s[1, j] * v2 + s[2, j] * v12
            logpdf[k, j] = stats.multivariate_normal(cov=cov).logpdf([z1[j], z2[j]])
    return special.logsumexp(logpdf, axis=0) - np.log(n_draws)


def _ld_columns(r2):
    """The full kernels' LD columns of an r^2 matrix in the dtypes of
    :class:`~bayesmix.prepare.mixer_data.MixerData` (int64 pointers, int32 tags, float32 r^2:
    the signatures the fits compile)."""
    csc = r2.tocsc()
    return csc.indptr.astype(np.int64), csc.indices.astype(np.int32), csc.data.astype(np.float32)


def _random_pair(rng, n_tags, n_snps):
    """(r2 CSR, z1, z2, n1, n2, weak, ld): random LD and per-tag data of a trait pair; ``ld``
    = (col_ptr, col_tags, col_r2, het), the full kernels' LD arguments."""
    r2, het = _random_ld(rng, n_tags, n_snps)
    z1, z2 = rng.normal(0, 2, n_tags), rng.normal(0, 2, n_tags)
    n1, n2 = rng.uniform(2e4, 8e4, n_tags), rng.uniform(2e4, 8e4, n_tags)
    weak = rng.uniform(0, 3, n_tags)
    return r2, z1, z2, n1, n2, weak, (*_ld_columns(r2), het)


def test_full_model_equals_slow_reference_with_the_same_draws():
    rng = np.random.default_rng(5)
    r2, z1, z2, n1, n2, weak, ld = _random_pair(rng, 12, 40)
    het = ld[3]
    got = kb.full_tag_logpdf(z1, z2, n1, n2, weak, *ld, PARAMS, 30, 123)
    want = _full_reference(z1, z2, n1, n2, weak, r2.toarray(), het, PARAMS, 30, 123)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    # the draws run in fixed parallel chunks: the same numbers on any number of threads
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = kb.full_tag_logpdf(z1, z2, n1, n2, weak, *ld, PARAMS, 30, 123)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = kb.full_tag_logpdf(z1, z2, n1, n2, weak, *ld, PARAMS, 30, 123)
    finally:
        numba.set_num_threads(threads)
    assert numba.config.NUMBA_NUM_THREADS > 1
    np.testing.assert_array_equal(one, got)
    np.testing.assert_array_equal(many, got)
    # z-scores whose densities underflow in linear scale (GWAS hits of biobank size)
    z1[:4], z2[:4] = [45.0, -60.0, 3.0, 80.0], [-50.0, 40.0, 70.0, 1.0]
    got = kb.full_tag_logpdf(z1, z2, n1, n2, weak, *ld, PARAMS, 30, 123)
    want = _full_reference(z1, z2, n1, n2, weak, r2.toarray(), het, PARAMS, 30, 123)
    assert np.isfinite(got).all() and want[:4].max() < -700
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_full_model_gradient_in_the_correlations_matches_finite_differences():
    """At fixed causal fractions the sampled likelihood is smooth in rho12 and rho0: its
    analytic gradient (slopes of full_tag_densities, from the draws or from their stored sums,
    through rho_gradient) equals central differences of the slow reference, also with
    z-scores whose densities underflow in linear scale; the slopes leave the log pdf as it
    was."""
    rng = np.random.default_rng(11)
    r2, z1, z2, n1, n2, weak, ld = _random_pair(rng, 14, 40)
    z1[:3], z2[:3] = [45.0, -60.0, 3.0], [-50.0, 40.0, 70.0]
    w = rng.uniform(0, 1, 14)
    w[5] = 0.0
    counts = kb.full_causal_counts(PARAMS, 40)
    n_touched, _, _ = kb.draw_tag_sums(counts, 123, 30, *ld, 14, np.empty(0, np.int64))
    draw_ptr = np.concatenate([[0], np.cumsum(n_touched)])
    stored = (draw_ptr, *kb.draw_tag_sums(counts, 123, 30, *ld, 14, draw_ptr)[1:])

    def reference_logp(params):
        return np.dot(w, _full_reference(z1, z2, n1, n2, weak, r2.toarray(), ld[3], params,
                                         30, 123))

    for rho12, rho0 in [(0.6, 0.3), (-0.85, 0.1), (0.2, -0.6)]:
        params = PARAMS.copy()
        params[5], params[8] = rho12, rho0
        logpdf, slope = kb.full_tag_densities(z1, z2, n1, n2, weak, *ld, params, 30, 123, True)
        np.testing.assert_array_equal(logpdf, kb.full_tag_logpdf(z1, z2, n1, n2, weak, *ld,
                                                                 params, 30, 123))
        grad = kb.rho_gradient(n1, n2, weak, w, params, slope)
        _, stored_slope = kb.full_tag_densities_from_sums(z1, z2, n1, n2, weak, *stored, params,
                                                          True)
        np.testing.assert_allclose(stored_slope, slope, rtol=1e-12, atol=1e-15)
        for i, k in enumerate((5, 8)):
            up, down = params.copy(), params.copy()
            up[k] += 1e-5
            down[k] -= 1e-5
            fd = (reference_logp(up) - reference_logp(down)) / 2e-5
            assert grad[i] == pytest.approx(fd, rel=1e-6, abs=1e-8), kb.PARAM_NAMES[k]


def _bvn_pdf(z1, z2, a, b, c):
    det = a * c - b * b
    return np.exp(-0.5 * (c * z1 * z1 - 2 * b * z1 * z2 + a * z2 * z2) / det) / (
        2 * np.pi * np.sqrt(det))


def test_full_model_converges_to_uniform_random_causal_sets():
    """Monte Carlo: the full model's pdf (K = 20,000 keyed draws) agrees with an independent
    numpy Monte Carlo over uniformly random causal sets of sizes round(pi_c M) (within 5
    combined Monte Carlo standard errors)."""
    rng = np.random.default_rng(6)
    m, t = 300, 6
    r2, het = _random_ld(rng, t, m, density=0.1)
    dense = r2.toarray()
    params = np.array([0.05, 0.1, 0.08, 3e-5, 2e-5, 0.5, 1.0, 1.1, 0.2])
    n1, n2 = 5e4, 4e4
    z1, z2 = rng.normal(0, 3, t), rng.normal(0, 3, t)
    weak = rng.uniform(0, 3, t)
    n_ref_draws = 60000
    s = np.zeros((3, n_ref_draws, t))
    for c, p in enumerate(params[:3]):
        size = round(p * m)
        for k in range(n_ref_draws):
            idx = rng.choice(m, size, replace=False)
            s[c, k] = dense[:, idx] @ het[idx]
    (v1, v2, v12), _ = _cov_terms(params, n1, n2, 0.0)
    s0 = np.array([_cov_terms(params, n1, n2, x)[1] for x in weak])  # (t, 2, 2)
    a = s0[:, 0, 0] + (s[0] + s[2]) * v1[0, 0]
    c = s0[:, 1, 1] + (s[1] + s[2]) * v2[1, 1]
    b = s0[:, 0, 1] + s[2] * v12[0, 1]
    values = _bvn_pdf(z1, z2, a, b, c)
    n_draws = 20000
    want = values.mean(0)
    se = values.std(0) * math.sqrt(1 / n_draws + 1 / n_ref_draws)
    got = np.exp(kb.full_tag_logpdf(z1, z2, np.full(t, n1), np.full(t, n2), weak,
                                    *_ld_columns(r2), het, params, n_draws, 9))
    assert np.all(np.abs(got - want) < 5 * se), (got - want) / se


def test_reduces_to_the_univariate_kernel():
    """No shared component and no residual correlation: the bivariate log-likelihood is the
    sum of the two univariate MiXeR fast log-likelihoods (bayesmix.kernels.mixer, with the
    same weak-LD sums), and so are the gradients in (pi_t, sig2_beta_t, sig2_zero_t)."""
    rng = np.random.default_rng(8)
    t = 50
    z1, z2 = rng.normal(0, 2, t), rng.normal(0, 3, t)
    n1, n2 = rng.uniform(2e4, 8e4, t), rng.uniform(2e4, 8e4, t)
    l = rng.uniform(0.5, 30, t)
    q = l ** 2 * rng.uniform(0.05, 0.8, t)
    w = rng.uniform(0.1, 1, t)
    weak = rng.uniform(0, 3, t)
    params = np.array([0.02, 0.05, 0.0, 3e-5, 2e-5, 0.4, 1.1, 0.95, 0.0])
    logp, grad = kb.fast_logp_grad(z1, z2, n1, n2, weak, l, q, w, params)
    lp1, g1 = ku.fast_logp_grad(z1, n1, w, weak, l, q, params[0], params[3], params[6], 0.0)
    lp2, g2 = ku.fast_logp_grad(z2, n2, w, weak, l, q, params[1], params[4], params[7], 0.0)
    assert logp == pytest.approx(lp1 + lp2, rel=1e-10)
    np.testing.assert_allclose(grad[[0, 3, 6]], g1, rtol=1e-8)
    np.testing.assert_allclose(grad[[1, 4, 7]], g2, rtol=1e-8)


def test_stored_draw_sums_give_the_same_likelihood_bit_for_bit():
    """The draws' LD sums depend on the causal-set sizes, K and the seed only: stored once
    (draw_tag_sums), they give full_tag_logpdf's numbers exactly at other variances and
    correlations; BivariateData stores them when a setting repeats, and not above its memory
    limit, with the same likelihood either way."""
    from bayesmix.prepare.mixer_data import BivariateData, FullDrawCache, MixerData

    rng = np.random.default_rng(8)
    _, z1, z2, n1, n2, weak, ld = _random_pair(rng, 25, 60)
    counts = kb.full_causal_counts(PARAMS, 60)
    n_touched, _, _ = kb.draw_tag_sums(counts, 123, 30, *ld, 25, np.empty(0, np.int64))
    draw_ptr = np.concatenate([[0], np.cumsum(n_touched)])
    again, tags, sums = kb.draw_tag_sums(counts, 123, 30, *ld, 25, draw_ptr)
    np.testing.assert_array_equal(again, n_touched)
    assert len(tags) == draw_ptr[-1] > 0
    for rho12, rho0, scale in [(0.6, 0.3, 1.0), (-0.9, 0.0, 3.0), (0.2, -0.5, 0.2)]:
        params = PARAMS.copy()
        params[[3, 4]] *= scale
        params[5], params[8] = rho12, rho0
        np.testing.assert_array_equal(
            kb.full_tag_logpdf_from_sums(z1, z2, n1, n2, weak, draw_ptr, tags, sums, params),
            kb.full_tag_logpdf(z1, z2, n1, n2, weak, *ld, params, 30, 123))

    data, _ = MixerData.synthetic(400, rng=rng)
    pair = BivariateData.from_mixer_data(data, rng.normal(0, 2, 400), rng.normal(0, 2, 400),
                                         1e5, 8e4)
    small = BivariateData(pair.trait1, pair.trait2)
    small.full_draws = FullDrawCache(limit_bytes=0)
    theta = np.array([0.01, 0.02, 0.03, 2e-5, 3e-5, 0.5, 1.0, 1.1, 0.1])
    a, b = pair.trait1, pair.trait2
    for rho12 in (0.5, 0.1, -0.3, 0.8):
        theta[5] = rho12
        direct = kb.weighted_total(a.weights, kb.full_tag_logpdf(
            a.z, b.z, a.n, b.n, a.weak, *a.ld_columns, a.het, theta, 50, 4))
        assert pair.full_logp(theta, 50, 4) == direct
        assert small.full_logp(theta, 50, 4) == direct
    assert pair.full_draws.arrays is not None          # stored from the second call on
    assert small.full_draws.arrays is None             # over the limit: never stored
    shipped = pickle.loads(pickle.dumps(pair))          # as to a Dask worker: sent empty
    assert shipped.full_draws.arrays is None and shipped.full_logp(theta, 50, 4) == direct
