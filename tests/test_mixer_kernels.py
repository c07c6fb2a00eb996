"""MiXeR univariate kernels against slow, independent references.

- fast / infinitesimal: the 2-component moments formula written with scipy.stats;
- convolve: brute-force enumeration of every causal configuration of tiny LD rows, and direct
  numerical integration (scipy.integrate.quad) of the characteristic function;
- full: an explicit Monte Carlo over the same causal sets written in numpy, and (statistically)
  the exact enumeration;
- gradients: central finite differences of the kernels' log-likelihood.

The tiny problems carry nonzero weak-LD sums, so every reference adds the weak LD's variance
N_j pi sig2_beta weak_j to the tag's null variance (:func:`null_variance` below, written out).
"""

import cmath
import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import integrate, special, stats

from bayesmix.kernels import mixer as K
from bayesmix.kernels.vector_math import SIN_LIMIT
from bayesmix.models.mixer import UnivariateLikelihood, simulate_z_from_model
from bayesmix.prepare.mixer_data import MixerData


def null_variance(data, pi, sig2_beta, sig2_zero):
    """Per-tag variance of z without a causal variant in the stored LD (J,)."""
    return sig2_zero + data.n * pi * sig2_beta * data.weak


def tiny_problem(rng, n_tags=5, n_ref=7, row_size=4, z_scale=3.0):
    dense = np.zeros((n_tags, n_ref))
    for j in range(n_tags):
        cols = rng.choice(n_ref, row_size, replace=False)
        dense[j, cols] = rng.uniform(0.05, 1.0, row_size)
    dense = dense.astype(np.float32).astype(np.float64)  # the store keeps float32 r^2
    het = rng.uniform(0.1, 0.5, n_ref)
    z = rng.normal(0, z_scale, n_tags)
    n = rng.uniform(5e3, 5e4, n_tags)
    w = rng.uniform(0.2, 1.0, n_tags)
    csr = sp.csr_matrix(dense)
    weak = rng.uniform(0.0, 3.0, n_tags)
    data = MixerData(z, n, w, csr.indptr, csr.indices, csr.data, het, weak=weak)
    return data, dense


def enumerate_logp(data, dense, pi, sig2_beta, sig2_zero, censor_z=0.0):
    """Exact weighted log-likelihood: sum over all 2^M causal configurations."""
    total = 0.0
    m = dense.shape[1]
    s0 = null_variance(data, pi, sig2_beta, sig2_zero)
    for j in range(data.n_tags):
        p = 0.0
        for conf in itertools.product((0, 1), repeat=m):
            c = np.array(conf)
            prob = np.prod(np.where(c == 1, pi, 1 - pi))
            var = s0[j] + data.n[j] * sig2_beta * np.sum(c * data.het * dense[j])
            if censor_z > 0 and abs(data.z[j]) > censor_z:
                p += prob * 2 * stats.norm.sf(censor_z, scale=math.sqrt(var))
            else:
                p += prob * stats.norm.pdf(data.z[j], scale=math.sqrt(var))
        total += data.weights[j] * math.log(p)
    return total


def fast_reference(data, pi, sig2_beta, sig2_zero, censor_z=0.0):
    l2 = (data.het[None, :] * dense_of(data)).sum(1)
    l4 = ((data.het[None, :] * dense_of(data)) ** 2).sum(1)
    eta = pi * l2 + (1 - pi) * l4 / l2
    q = pi * l2 / eta
    s0 = null_variance(data, pi, sig2_beta, sig2_zero)
    sd0 = np.sqrt(s0)
    sd1 = np.sqrt(s0 + eta * data.n * sig2_beta)
    cens = (censor_z > 0) & (np.abs(data.z) > censor_z)
    p0 = np.where(cens, 2 * stats.norm.sf(censor_z, scale=sd0), stats.norm.pdf(data.z, scale=sd0))
    p1 = np.where(cens, 2 * stats.norm.sf(censor_z, scale=sd1), stats.norm.pdf(data.z, scale=sd1))
    return float(np.sum(data.weights * np.log((1 - q) * p0 + q * p1)))


def dense_of(data):
    return sp.csr_matrix((data.r2, data.indices, data.indptr),
                         shape=(data.n_tags, data.n_ref)).toarray().astype(np.float64)


def finite_diff(f, x, rel=1e-5):
    x = np.asarray(x, float)
    g = np.zeros_like(x)
    for i in range(len(x)):
        h = rel * abs(x[i])
        up, dn = x.copy(), x.copy()
        up[i] += h
        dn[i] -= h
        g[i] = (f(up) - f(dn)) / (2 * h)
    return g


PARAMS = [(0.3, 2e-4, 1.1), (0.05, 1e-3, 0.9), (0.8, 5e-5, 1.3)]


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("censor_z", [0.0, 2.5])
def test_fast_matches_moments_formula(params, censor_z):
    rng = np.random.default_rng(11)
    data, _ = tiny_problem(rng, n_tags=40, n_ref=30, row_size=6)
    like = UnivariateLikelihood(data, "fast", censor_z=censor_z)
    assert like.logp(params) == pytest.approx(fast_reference(data, *params, censor_z), rel=1e-10)


def test_infinitesimal_is_gaussian_with_ld_score():
    rng = np.random.default_rng(12)
    data, dense = tiny_problem(rng, n_tags=30, n_ref=20)
    sig2_inf, s0 = 3e-4, 1.05
    var = s0 + data.n * sig2_inf * ((dense * data.het).sum(1) + data.weak)
    ref = np.sum(data.weights * stats.norm.logpdf(data.z, scale=np.sqrt(var)))
    like = UnivariateLikelihood(data, "infinitesimal")
    assert like.logp((0.123, sig2_inf, s0)) == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("censor_z", [0.0, 2.0])
def test_convolve_matches_enumeration(params, censor_z):
    rng = np.random.default_rng(13)
    data, dense = tiny_problem(rng)
    like = UnivariateLikelihood(data, "convolve", censor_z=censor_z)
    exact = enumerate_logp(data, dense, *params, censor_z)
    assert like.logp(params) == pytest.approx(exact, abs=1e-8 * data.n_tags)


def with_weak_pairs(data, dense, rng, max_pairs=3):
    """The tiny problem with its weak LD made of k_j = 1..``max_pairs`` equal pairs of LD x_j
    per tag (H r^2 units), given two ways: as ``weak`` = k x and ``weak4`` = k x^2 (for the
    pseudo-SNPs of :func:`bayesmix.kernels.mixer.weak_pseudo_snps`), and as explicit
    reference columns (H = 1, r^2 = x) with no weak sums, which enumeration treats exactly."""
    k = rng.integers(1, max_pairs + 1, data.n_tags)
    x = rng.uniform(0.02, 0.4, data.n_tags).astype(np.float32).astype(np.float64)  # as stored
    columns = np.zeros((data.n_tags, int(k.sum())))
    start = 0
    for j in range(data.n_tags):
        columns[j, start:start + k[j]] = x[j]
        start += k[j]
    explicit_dense = np.hstack([dense, columns])
    csr = sp.csr_matrix(explicit_dense)
    het = np.concatenate([data.het, np.ones(columns.shape[1])])
    explicit = MixerData(data.z, data.n, data.weights, csr.indptr, csr.indices, csr.data, het)
    pseudo = MixerData(data.z, data.n, data.weights, data.indptr, data.indices, data.r2,
                       data.het, weak=k * x, weak4=k * x * x)
    return pseudo, explicit, explicit_dense


def rows_of(data, dense):
    """Per tag: the one-tag problem on its nonzero reference columns, and those columns (the
    other columns cannot change its likelihood; enumeration then stays small)."""
    for j in range(data.n_tags):
        cols = np.flatnonzero(dense[j])
        csr = sp.csr_matrix(dense[j:j + 1, cols])
        yield (MixerData(data.z[j:j + 1], data.n[j:j + 1], data.weights[j:j + 1], csr.indptr,
                         csr.indices, csr.data, data.het[cols], weak=data.weak[j:j + 1]), cols)


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("censor_z", [0.0, 2.0])
def test_convolve_weak_pseudo_snps_equal_the_pairs_they_stand_for(params, censor_z):
    """When a tag's weak LD is k equal pairs, its pseudo-SNPs (nu = weak^2 / weak4 = k of LD
    weak4 / weak = x) are those pairs: the likelihood and the tail probabilities equal the
    enumeration over every causal configuration with the pairs stored."""
    rng = np.random.default_rng(23)
    data, dense = tiny_problem(rng, n_tags=6, n_ref=6, row_size=3)
    pseudo, explicit, explicit_dense = with_weak_pairs(data, dense, rng)
    exact = sum(enumerate_logp(explicit_row, explicit_dense[j:j + 1, cols], *params, censor_z)
                for j, (explicit_row, cols) in enumerate(rows_of(explicit, explicit_dense)))
    got = UnivariateLikelihood(pseudo, "convolve", censor_z=censor_z).logp(params)
    assert got == pytest.approx(exact, abs=1e-8 * data.n_tags)
    # the Gaussian stand-in for the same weak LD (weak4 = 0) is measurably different
    gaussian = pseudo.with_z(pseudo.z)
    gaussian.weak4 = np.zeros(pseudo.n_tags)
    assert abs(UnivariateLikelihood(gaussian, "convolve", censor_z=censor_z).logp(params)
               - exact) > 1e-4
    thresholds = np.array([0.5, 2.0, 4.0, 6.0])
    tails = K.convolve_tail_probabilities(
        np.arange(pseudo.n_tags), pseudo.n, pseudo.weak, pseudo.weak4, pseudo.indptr,
        pseudo.indices, pseudo.r2, pseudo.het, *params, thresholds, K.GL_NODES, K.GL_WEIGHTS,
        37.0)
    reference = K.convolve_tail_probabilities(
        np.arange(pseudo.n_tags), explicit.n, explicit.weak, explicit.weak4, explicit.indptr,
        explicit.indices, explicit.r2, explicit.het, *params, thresholds, K.GL_NODES,
        K.GL_WEIGHTS, 37.0)
    np.testing.assert_allclose(tails, reference, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("censor_z", [0.0, 2.0])
def test_convolve_many_tiny_pseudo_snps_are_the_gaussian(censor_z):
    """nu -> infinity at fixed weak (weak4 = 1e-10 weak): (1 + pi (e^(-s x) - 1))^nu ->
    e^(-pi s weak), the Gaussian term of weak4 = 0, value and gradient."""
    rng = np.random.default_rng(24)
    data, _ = tiny_problem(rng, n_tags=8, n_ref=10, row_size=4)
    params = np.array([0.1, 3e-4, 1.05])
    gaussian = UnivariateLikelihood(data, "convolve", censor_z=censor_z).logp_grad(params)
    data.weak4 = 1e-10 * data.weak
    tiny = UnivariateLikelihood(data, "convolve", censor_z=censor_z).logp_grad(params)
    assert tiny[0] == pytest.approx(gaussian[0], rel=1e-9)
    np.testing.assert_allclose(tiny[1], gaussian[1], rtol=1e-6)


def test_convolve_tail_accuracy_far_from_zero():
    """|z| up to 12 with a strong causal component: the closed-form null part keeps it exact."""
    rng = np.random.default_rng(14)
    data, dense = tiny_problem(rng, n_tags=4, n_ref=6, row_size=3)
    data = data.with_z(np.array([12.0, -9.0, 7.5, 0.01]))
    data.weak[:] = [0.0, 0.5, 0.0, 2.0]
    data.n[:] = 2e5
    params = (0.02, 2e-4, 1.0)
    exact = enumerate_logp(data, dense, *params)
    assert UnivariateLikelihood(data, "convolve").logp(params) == pytest.approx(exact, rel=1e-7)


def grouped_enumeration_logp(z, n, groups, pi, sig2_beta, s0, censor_z=0.0):
    """Exact log p(z) (log P(|z| > c) when censored) of a tag whose LD row is ``groups`` of
    equal entries, (H r^2 value, count): a sum over how many of each group are causal
    (multinomial weights), in log space, so also far in the tails and for rows of ~100."""
    log_w = np.zeros(1)
    var = np.full(1, s0)
    for value, count in groups:
        k = np.arange(count + 1)
        log_wk = (special.gammaln(count + 1) - special.gammaln(k + 1)
                  - special.gammaln(count - k + 1) + k * math.log(pi)
                  + (count - k) * math.log1p(-pi))
        log_w = (log_w[:, None] + log_wk[None, :]).ravel()
        var = (var[:, None] + n * sig2_beta * value * k[None, :]).ravel()
    if censor_z > 0 and abs(z) > censor_z:
        return special.logsumexp(log_w + math.log(2)
                                 + stats.norm.logsf(censor_z, scale=np.sqrt(var)))
    return special.logsumexp(log_w + stats.norm.logpdf(z, scale=np.sqrt(var)))


@pytest.mark.parametrize("censor_z", [0.0, 5.45])
@pytest.mark.parametrize("pi", [0.001, 0.05, 0.8])
def test_saddle_point_contour_equals_enumeration(pi, censor_z):
    """_tilted_tag on a 34-SNP row with 7 pseudo-SNPs, from the bulk (|z| = 0.5) to far tails
    (|z| = 40, log p down to ~-600): log p to 1e-9 and its gradient to finite differences of the
    grouped enumeration, at small and large signal variance (N sig2_beta H r^2 up to 35, where
    K'(theta) grows steeply and Newton alone cycles) and two null variances."""
    groups = [(0.35, 2), (0.2, 4), (0.1, 8), (0.03, 20)]
    row = np.concatenate([np.full(count, value) for value, count in groups])
    nu, x = 7.0, 0.03   # enumerated as a group of 7 SNPs of LD x
    n = 2e5
    for sig2_beta, s0 in itertools.product((5e-4, 2e-4, 2e-6), (0.4, 1.3)):
        for z in (0.5, -6.0, 15.0, 40.0):
            got = K._tilted_tag(z, n, row, nu, x, pi, sig2_beta, s0, censor_z, K.GL_NODES,
                                K.GL_WEIGHTS, 37.0, True)

            def exact(params):
                return grouped_enumeration_logp(z, n, groups + [(x, 7)], *params, censor_z)

            params = np.array([pi, sig2_beta, s0])
            assert got[0] == pytest.approx(exact(params), abs=1e-9), (sig2_beta, s0, z)
            # as elasticities d log p / d log param, which share one scale
            np.testing.assert_allclose(np.asarray(got[1:]) * params,
                                       finite_diff(exact, params) * params, rtol=1e-6,
                                       atol=1e-6, err_msg=str((sig2_beta, s0, z)))


def _series(x, coefficient, n_terms=40):
    """sum_k coefficient(k) x^k for k = 1..n_terms in Python complex arithmetic (for |x| <= 0.2:
    each part to ~1e-16 of itself, as no term cancels the leading one)."""
    return sum(coefficient(k) * x ** k for k in range(1, n_terms + 1))


def test_complex_expm1_log1p_and_snp_factor_against_references():
    """_cexpm1 and _clog1p keep each part's relative precision for small arguments (where
    cmath.exp(w) - 1 loses the real part of e^(i b) - 1 = -b^2 / 2 + ...) against their
    Taylor series, and equal cmath beyond; _snp_log_mgf equals its formula
    (log f, (e^w - 1) / f, pi e^w / f with f = 1 - pi + pi e^w) on both of its branches and
    stays finite where e^w overflows."""
    rng = np.random.default_rng(28)
    small = ((rng.uniform(-1, 1, 200) + 1j * rng.uniform(-1, 1, 200))
             * 10.0 ** rng.uniform(-12, -0.7, 200))
    for w in small:
        for got, want in ((K._cexpm1(w), _series(w, lambda k: 1 / math.factorial(k))),
                          (K._clog1p(w), _series(w, lambda k: (-1) ** (k + 1) / k))):
            assert got.real == pytest.approx(want.real, rel=1e-14, abs=1e-300), w
            assert got.imag == pytest.approx(want.imag, rel=1e-14, abs=1e-300), w
    for w in rng.uniform(-5, 5, 50) + 1j * rng.uniform(-20, 20, 50):
        assert K._cexpm1(w) == pytest.approx(cmath.exp(w) - 1, rel=1e-13)
        assert K._clog1p(w) == pytest.approx(cmath.log(1 + w), rel=1e-13)
    for pi in (0.001, 0.3, 0.9):
        for w in rng.uniform(-30, 30, 40) + 1j * rng.uniform(-40, 40, 40):
            f = 1 - pi + pi * cmath.exp(w)
            got = K._snp_log_mgf(w, pi)
            assert cmath.exp(got[0]) == pytest.approx(f, rel=1e-11), (pi, w)
            assert got[1] == pytest.approx((cmath.exp(w) - 1) / f, rel=1e-11), (pi, w)
            assert got[2] == pytest.approx(pi * cmath.exp(w) / f, rel=1e-11), (pi, w)
        log_f, d_pi, resp = K._snp_log_mgf(1000.0 + 5j, pi)
        assert log_f == pytest.approx(1000.0 + 5j + math.log(pi), rel=1e-15)
        assert d_pi == pytest.approx(1 / pi) and resp == pytest.approx(1.0)


def test_saddle_point_solves_the_cumulant_equation():
    """theta of _saddle_point has K'(theta) = c, and the K, K'' it returns are those at theta,
    for K(u) = u^2 s0 / 2 + sum_i log(1 - pi + pi e^(u^2 a_i)) written with numpy (logaddexp)
    and differentiated by finite differences; on 56-SNP rows whose strongest a_i reach ~18,
    where K' grows steeply (plain Newton cycled there and returned a stale K)."""
    rng = np.random.default_rng(26)
    for _ in range(40):
        row = rng.uniform(0.1, 0.5, 56) * rng.uniform(0.05, 1, 56) ** 2
        for pi, half_n_sb, s0, c in itertools.product((0.001, 0.003, 0.2), (0.5, 50.0),
                                                      (0.6, 1.02), (3.0, 5.0, 9.8, 40.0)):
            def cgf(u):
                a = u * u * half_n_sb * row
                return u * u * s0 / 2 + np.sum(np.logaddexp(math.log1p(-pi), math.log(pi) + a))

            theta, k0, k2 = K._saddle_point(c, half_n_sb, row, 0.0, 0.0, pi, s0)
            h = 1e-5 * theta
            case = (pi, half_n_sb, s0, c)
            assert k0 == pytest.approx(cgf(theta), rel=1e-12, abs=1e-12), case
            assert (cgf(theta + h) - cgf(theta - h)) / (2 * h) == pytest.approx(c, rel=1e-7), case
            second = (cgf(theta + h) - 2 * cgf(theta) + cgf(theta - h)) / (h * h)
            assert k2 == pytest.approx(second, rel=1e-4), case


def test_convolve_far_tails_equal_enumeration():
    """The direct inversion's rounding (~1e-16 absolute) swamps densities far in the tails
    (|z| = 30 at sig2_beta 2e-4 was 1.4 nats off, |z| = 20 at 2e-6 124): such tags go to the
    saddle-point contour. Against enumeration, one tag at |z| 3-30 and three sig2_beta: the
    likelihood and its gradient are exact on both sides of the switch, and both sides are
    tried."""
    rng = np.random.default_rng(14)
    data, dense = tiny_problem(rng, n_tags=4, n_ref=6, row_size=3)
    data.n[:] = 2e5
    params = np.array([0.02, 2e-5, 1.0])
    tilted = direct = 0
    for sig2_beta in (2e-4, 2e-5, 2e-6):
        params[1] = sig2_beta
        for z0 in (3.0, 5.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0):
            tagged = data.with_z(np.array([z0, 1.0, -1.0, 0.5]))
            tagged.weights = np.array([1.0, 0.0, 0.0, 0.0])

            def exact(p):
                return enumerate_logp(tagged, dense, *p)

            likelihood = UnivariateLikelihood(tagged, "convolve")
            value, grad = likelihood.logp_grad(params)
            assert value == pytest.approx(exact(params), abs=1e-8), (sig2_beta, z0)
            np.testing.assert_allclose(grad, finite_diff(exact, params), rtol=1e-5,
                                       err_msg=str((sig2_beta, z0)))
            if value < K.TILT_BELOW_LOG_P:
                tilted += 1
            else:
                direct += 1
    assert tilted >= 8 and direct >= 8


@pytest.mark.parametrize("params", [(0.01, 1e-6, 1.0), (0.05, 1e-5, 0.9)])
def test_convolve_model_shares_beyond_resolution_are_nan(params):
    """Weak-signal models have tail shares far below the convolve tails' ~1e-16 absolute
    rounding at high thresholds (a share of 1e-20 came out as 4e-17): against enumeration,
    every share model_tail_probability gives is within 1e-4 relative, shares above 1e-11 are
    all given, and the unresolved ones are NaN (both kinds occur)."""
    from bayesmix.models.mixer import model_tail_probability

    rng = np.random.default_rng(27)
    data, dense = tiny_problem(rng, n_tags=5, n_ref=7, row_size=4)
    data.n[:] = 2e5
    thresholds = stats.norm.isf(10.0 ** -np.linspace(0, 30, 16) / 2)
    s0 = null_variance(data, *params)
    exact = np.zeros(thresholds.size)
    for j in range(data.n_tags):
        for conf in itertools.product((0, 1), repeat=data.n_ref):
            c = np.array(conf)
            prob = np.prod(np.where(c == 1, params[0], 1 - params[0]))
            var = s0[j] + data.n[j] * params[1] * np.sum(c * data.het * dense[j])
            exact += data.weights[j] * prob * 2 * stats.norm.sf(thresholds, scale=math.sqrt(var))
    exact /= data.weights.sum()
    got = model_tail_probability(data, params, thresholds, method="convolve")
    given = np.isfinite(got)
    np.testing.assert_allclose(got[given], exact[given], rtol=1e-4)
    assert given[exact > 1e-11].all() and np.isnan(got[~given]).all()
    assert 0 < given.sum() < thresholds.size


def test_convolve_matches_quad_of_characteristic_function():
    """Direct numerical integration of the characteristic function on one LD row of 40 SNPs."""
    rng = np.random.default_rng(15)
    het_r2 = rng.uniform(0.01, 0.5, 40) * rng.uniform(0.05, 1, 40)
    n, pi, sb, s0 = 1e5, 0.1, 1e-4, 1.0
    for z in (0.3, 2.2, 4.7):
        def cf(t):
            return np.exp(-t * t * s0 / 2) * np.prod(1 - pi + pi * np.exp(-t * t * n * sb * het_r2 / 2))
        ref, _ = integrate.quad(lambda t: np.cos(t * z) * cf(t) / np.pi, 0, 40, limit=500,
                                epsabs=1e-14, epsrel=1e-12)
        lp, *_ = K._convolve_tag(z, n, het_r2, 0.0, 0.0, pi, sb, s0, 0.0, K.GL_NODES,
                                 K.GL_WEIGHTS, 37.0)
        assert math.exp(lp) == pytest.approx(ref, rel=1e-8)


def test_permutation_is_a_bijection():
    for m in (1, 2, 7, 64, 1000, 4097):
        for draw in (0, 3):
            perm = [K.permuted_index(r, draw, 99, m) for r in range(m)]
            assert sorted(perm) == list(range(m))
    a = [K.permuted_index(r, 0, 1, 1000) for r in range(20)]
    b = [K.permuted_index(r, 1, 1, 1000) for r in range(20)]
    assert a != b


@pytest.mark.parametrize("censor_z", [0.0, 2.0])
def test_full_matches_explicit_monte_carlo(censor_z):
    """The full kernel equals a numpy Monte Carlo over the same K causal sets."""
    rng = np.random.default_rng(16)
    data, dense = tiny_problem(rng, n_tags=12, n_ref=40, row_size=8)
    pi, sb, s0, kmax, seed = 0.2, 3e-4, 1.05, 300, 5
    n_c = int(pi * data.n_ref + 0.5)
    p = np.zeros(data.n_tags)
    for k in range(kmax):
        causal = np.zeros(data.n_ref)
        causal[[K.permuted_index(r, k, seed, data.n_ref) for r in range(n_c)]] = 1
        sd = np.sqrt(null_variance(data, pi, sb, s0) + data.n * sb * (dense * data.het * causal).sum(1))
        cens = (censor_z > 0) & (np.abs(data.z) > censor_z)
        p += np.where(cens, 2 * stats.norm.sf(censor_z, scale=sd), stats.norm.pdf(data.z, scale=sd))
    ref = np.sum(data.weights * np.log(p / kmax))
    for chunks in (1, 3):
        like = UnivariateLikelihood(data, "full", censor_z=censor_z, kmax=kmax, seed=seed,
                                    n_chunks=chunks)
        assert like.logp((pi, sb, s0)) == pytest.approx(ref, rel=1e-10)


def test_full_converges_to_exact_likelihood():
    """With many reference SNPs per causal draw, fixed-size sets ~ Bernoulli; K large -> exact."""
    rng = np.random.default_rng(17)
    data, dense = tiny_problem(rng, n_tags=3, n_ref=8, row_size=8)
    # the tags' LD rows use 8 of 400 reference SNPs: pad the reference with unlinked SNPs
    het = np.concatenate([data.het, rng.uniform(0.1, 0.5, 392)])
    big = MixerData(data.z, data.n, data.weights, data.indptr, data.indices, data.r2, het,
                    weak=data.weak)
    params = (0.25, 4e-4, 1.0)
    exact = enumerate_logp(data, dense, *params)
    full = UnivariateLikelihood(big, "full", kmax=20000, seed=3).logp(params)
    assert full == pytest.approx(exact, abs=0.02)


@pytest.mark.parametrize("method", ["fast", "convolve", "full", "infinitesimal"])
def test_gradients_match_finite_differences(method):
    rng = np.random.default_rng(18)
    data, _ = tiny_problem(rng, n_tags=30, n_ref=40, row_size=8)
    params = np.array([0.15, 2e-4, 1.1])
    for censor_z in (0.0, 2.0):
        like = UnivariateLikelihood(data, method, censor_z=censor_z, kmax=50)
        _, grad = like.logp_grad(params)
        fd = finite_diff(like.logp, params)
        free = [1, 2] if method in ("full", "infinitesimal") else [0, 1, 2]
        np.testing.assert_allclose(grad[free], fd[free], rtol=1e-5)
    if method == "convolve":   # the weak LD as pseudo-SNPs (real nu) too
        data.weak4 = data.weak * rng.uniform(0.01, 0.3, data.n_tags)
        for censor_z in (0.0, 2.0):
            like = UnivariateLikelihood(data, method, censor_z=censor_z)
            _, grad = like.logp_grad(params)
            np.testing.assert_allclose(grad, finite_diff(like.logp, params), rtol=1e-5)


def test_three_methods_agree_on_data_from_the_model():
    """fast, full (K=2000) and convolve on z simulated from the model at the true parameters:
    convolve is exact, full is within Monte Carlo error, fast within its moment approximation."""
    rng = np.random.default_rng(19)
    data, r = MixerData.synthetic(3000, block_size=100, n=1e5, rng=rng)
    truth = (0.01, 5e-4, 1.0)
    z, _ = simulate_z_from_model(data, r, truth, rng=rng)
    data = data.with_z(z)
    conv = UnivariateLikelihood(data, "convolve").logp(truth)
    full = UnivariateLikelihood(data, "full", kmax=2000).logp(truth)
    fast = UnivariateLikelihood(data, "fast").logp(truth)
    inf = UnivariateLikelihood(data, "infinitesimal").logp(truth)
    per_tag = data.n_tags
    assert abs(full - conv) / per_tag < 2e-3
    assert abs(fast - conv) / per_tag < 2e-2
    # and the mixture models beat the infinitesimal one on sparse data from the mixture
    assert conv > inf + 10


def test_ld_moments_and_transpose():
    rng = np.random.default_rng(20)
    data, dense = tiny_problem(rng, n_tags=9, n_ref=11)
    l2, l4 = data.ld_moments
    np.testing.assert_allclose(l2, (dense * data.het).sum(1), rtol=1e-12)
    np.testing.assert_allclose(l4, ((dense * data.het) ** 2).sum(1), rtol=1e-12)
    ci, cr, cv = data.ld_columns
    csc = sp.csc_matrix((cv, cr, ci), shape=dense.shape).toarray()
    np.testing.assert_allclose(csc, dense.astype(np.float32))


def test_convolve_tail_probabilities_match_enumeration():
    rng = np.random.default_rng(21)
    data, dense = tiny_problem(rng, n_tags=6, n_ref=8, row_size=6)
    pi, sb, s0 = 0.2, 5e-4, 1.05
    thresholds = np.array([0.5, 2.0, 4.0, 6.0, 8.0])
    tails = K.convolve_tail_probabilities(np.arange(6), data.n, data.weak, data.weak4,
                                          data.indptr, data.indices, data.r2, data.het, pi, sb,
                                          s0, thresholds, K.GL_NODES, K.GL_WEIGHTS, 37.0)
    null = null_variance(data, pi, sb, s0)
    for j in range(6):
        np.testing.assert_allclose(tails[j], _enumerated_tails(data, dense, j, null[j], pi, sb,
                                                               thresholds), rtol=1e-7)


def _enumerated_tails(data, dense, j, null_j, pi, sb, thresholds):
    """P(|z_j| > c) for each threshold c by enumerating every causal configuration of the
    reference SNPs (tag j's variance null_j + n_j sb sum_causal H_i r_ij^2)."""
    tails = np.zeros(thresholds.size)
    for conf in itertools.product((0, 1), repeat=dense.shape[1]):
        c = np.array(conf)
        var = null_j + data.n[j] * sb * np.sum(c * data.het * dense[j])
        tails += (np.prod(np.where(c == 1, pi, 1 - pi))
                  * 2 * stats.norm.sf(thresholds / math.sqrt(var)))
    return tails


def test_convolve_tail_probabilities_beyond_the_vector_sine_range():
    """A threshold c with t_max c above vector_sin's range (SIN_LIMIT) makes the tag's sines
    math.sin's: the enumeration's values still (P(|z| > c) = 0 at that c)."""
    rng = np.random.default_rng(21)
    data, dense = tiny_problem(rng, n_tags=6, n_ref=8, row_size=6)
    pi, sb, s0 = 0.2, 5e-4, 1.05
    null = null_variance(data, pi, sb, s0)[:2]
    t_max = np.sqrt(2.0 * 37.0 / null)
    thresholds = np.array([0.5, 2.0, 4.0, 1.5 * SIN_LIMIT / t_max.min()])
    tails = K.convolve_tail_probabilities(np.arange(2), data.n, data.weak, data.weak4,
                                          data.indptr, data.indices, data.r2, data.het, pi, sb,
                                          s0, thresholds, K.GL_NODES, K.GL_WEIGHTS, 37.0)
    for j in range(2):
        np.testing.assert_allclose(tails[j], _enumerated_tails(data, dense, j, null[j], pi, sb,
                                                               thresholds),
                                   rtol=1e-7, atol=1e-10)


def test_power_curve_matches_monte_carlo_of_the_moments_model():
    """S(N) closed form vs simulation of (delta, z) from the fast model's causal component."""
    from bayesmix.models.mixer import fast_components, power_curve

    rng = np.random.default_rng(22)
    data, _ = MixerData.synthetic(400, block_size=40, rng=rng)
    params = (0.02, 3e-4, 1.1)
    for n in (2e4, 3e5):
        q, _, _, a = fast_components(data, params, n=n)
        delta = rng.normal(size=(4000, data.n_tags)) * np.sqrt(a)
        z = delta + rng.normal(size=delta.shape) * math.sqrt(params[2])
        captured = (delta ** 2 * (np.abs(z) > 5.45)).mean(0)
        mc = np.sum(data.weights * q * captured) / np.sum(data.weights * q * a)
        assert power_curve(data, params, [n])[0] == pytest.approx(mc, abs=0.01)


@pytest.mark.parametrize("n_items", [10, 50])
def test_permuted_index_gives_uniform_ordered_pairs(n_items):
    """The first two positions of the keyed permutations: every ordered pair of distinct items
    equally likely (chi-square over K = 40 M (M - 1) draws), so causal sets are uniform."""
    from scipy import stats

    from bayesmix.kernels.mixer import permuted_index

    n_draws = 40 * n_items * (n_items - 1)
    first = np.array([permuted_index(0, k, 3, n_items) for k in range(n_draws)])
    second = np.array([permuted_index(1, k, 3, n_items) for k in range(n_draws)])
    assert (first != second).all()
    counts = np.bincount(first * n_items + second, minlength=n_items**2)
    counts = counts.reshape(n_items, n_items)[~np.eye(n_items, dtype=bool)]
    expected = n_draws / (n_items * (n_items - 1))
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, counts.size - 1) > 1e-4


@pytest.mark.parametrize("method", ["fast", "convolve", "full"])
def test_likelihoods_do_not_depend_on_the_thread_count(method):
    """--threads changes the speed, never a digit of the likelihood or its gradient (fixed
    chunks of tags, their partial sums added in order)."""
    import numba

    rng = np.random.default_rng(21)
    data, _ = MixerData.synthetic(3000, block_size=100, n=1e5, rng=rng)
    like = UnivariateLikelihood(data, method, kmax=64)
    params = np.array([0.01, 5e-4, 1.05])
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = like.logp_grad(params)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = like.logp_grad(params)
    finally:
        numba.set_num_threads(before)
    assert numba.config.NUMBA_NUM_THREADS > 1
    assert one[0] == many[0]
    np.testing.assert_array_equal(one[1], many[1])
