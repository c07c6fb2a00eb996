"""Numba kernels of the bivariate MiXeR likelihood (polygenic overlap of two traits).

Model (docs/design.md, "Bivariate prior"). Three independent causal sets over the M reference
SNPs: C1 (trait 1 only, rate ``pi1``), C2 (trait 2 only, ``pi2``), C12 (shared, ``pi12``).
Standardised-genotype effects (phenotype variance 1, per-allele beta times sqrt(H)) are
``b1 ~ N(0, sig2_beta1)`` in C1, ``b2 ~ N(0, sig2_beta2)`` in C2 and
``(b1, b2) ~ N(0, [[sig2_beta1, rho12 s], [rho12 s, sig2_beta2]])``, s = sqrt(sig2_beta1
sig2_beta2), in C12. Here ``sig2_beta*`` are per-allele effect variances and the LD-weighted
sum uses ``H_i r_ij^2`` (MiXeR's convention). The z-scores of tag j are

    z_j = sum_c D_cj + eps_j,   eps_j ~ N(0, [[sig2_zero1, rho0 s0], [rho0 s0, sig2_zero2]]),

with s0 = sqrt(sig2_zero1 sig2_zero2) (rho0 absorbs sample overlap) and, given the causal set
C_c, ``D_cj ~ N(0, S_cj V_c)`` where ``S_cj = sum_{i in C_c} H_i r_ij^2`` and ``V_c`` is the
2x2 effect covariance of component c scaled by the tag's sample sizes (N1_j, N2_j).

- fast: each ``S_cj`` is replaced by the two-point distribution {0 w.p. 1 - p_cj, eta_cj w.p.
  p_cj} with the same first two moments (eta_cj = pi_c l_j + (1 - pi_c) q_j / l_j, p_cj =
  pi_c l_j / eta_cj, l_j = sum_i H_i r_ij^2, q_j = sum_i H_i^2 r_ij^4), so the pdf is a mixture
  of 2^3 = 8 bivariate normals. It is smooth in all 9 parameters; its analytic gradient comes
  from the same pass. With pi12 = 1, pi1 = pi2 = 0 it is the infinitesimal model.
- full: the average over K draws of the three causal sets of the bivariate normal pdf. Draw k
  of component c is the first round(pi_c M) entries of the keyed pseudo-random permutation
  of the univariate kernels (:func:`bayesmix.kernels.mixer.permuted_index`, key
  :func:`component_seed`), so sets are reused across evaluations and nested in pi_c.

The LD the r2min threshold drops enters through ``weak`` (T,): tag j's weak-LD sum
sum_i H_i r~_ij^2 over the reference SNPs of its window below the threshold (as in
:mod:`bayesmix.kernels.mixer`). Many SNPs each in weak LD with the tag add approximately
Gaussian signal of expected covariance weak_j times the LD-free prior covariance, so both
models replace the residual covariance by the per-tag null covariance (:func:`null_covariance`)

    a0_j = sig2_zero1 + N1_j (pi1 + pi12) sig2_beta1 weak_j,
    c0_j = sig2_zero2 + N2_j (pi2 + pi12) sig2_beta2 weak_j,
    b0_j = rho0 s0 + sqrt(N1_j N2_j) pi12 rho12 sqrt(sig2_beta1 sig2_beta2) weak_j,

and add each component's causal covariance on top of it (weak = 0 gives MiXeR's model).

LD moments ``l_j``, ``q_j`` come from :func:`bayesmix.kernels.mixer.ld_moments` and the
reference-major LD store from :func:`bayesmix.kernels.mixer.transpose_csr`.

Parameter vector order everywhere (``PARAM_NAMES``): pi1, pi2, pi12, sig2_beta1, sig2_beta2,
rho12, sig2_zero1, sig2_zero2, rho0. pi1 and pi2 are the UNIQUE fractions (the univariate
polygenicity of trait t is about pi_t + pi12).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from bayesmix.kernels.jit import njit
from bayesmix.kernels.mixer import n_causal_draw, permuted_index
from bayesmix.kernels.vector_math import vector_exp

PARAM_NAMES = (
    "pi1", "pi2", "pi12", "sig2_beta1", "sig2_beta2", "rho12", "sig2_zero1", "sig2_zero2",
    "rho0",
)
N_PARAMS = 9
LOG_2PI = math.log(2.0 * math.pi)
# Fast-model component b (0..7) has the bit pattern (b & 1: C1, b & 2: C2, b & 4: C12).
N_FAST_COMPONENTS = 8
#: fixed chunks of the full model's draws, run in parallel (:func:`full_tag_logpdf`)
FULL_DRAW_CHUNKS = 4


@njit
def _component_moments(pi, l, q):
    """(p, eta, dp/dpi, deta/dpi) of the two-point approximation of one component's S."""
    if l <= 0.0:
        return 0.0, 0.0, 0.0, 0.0
    deta = l - q / l
    eta = pi * l + (1.0 - pi) * q / l
    if eta <= 0.0:
        return 0.0, 0.0, 0.0, deta
    p = pi * l / eta
    if p > 1.0:
        p = 1.0
    return p, eta, q / (eta * eta), deta


@njit
def null_covariance(n1, n2, weak, params):
    """``(a0, b0, c0)``: the null covariance [[a0, b0], [b0, c0]] of (z1, z2) (z-score scale)
    of tags with sample sizes ``n1``, ``n2`` and weak-LD sum ``weak`` (scalars or arrays):

        a0 = sig2_zero1 + n1 (pi1 + pi12) sig2_beta1 weak,
        c0 = sig2_zero2 + n2 (pi2 + pi12) sig2_beta2 weak,
        b0 = rho0 sqrt(sig2_zero1 sig2_zero2) + sqrt(n1 n2) pi12 rho12
             sqrt(sig2_beta1 sig2_beta2) weak.
    """
    pi1, pi2, pi12 = params[0], params[1], params[2]
    sb1, sb2, rho12 = params[3], params[4], params[5]
    s01, s02, rho0 = params[6], params[7], params[8]
    a0 = s01 + n1 * (pi1 + pi12) * sb1 * weak
    c0 = s02 + n2 * (pi2 + pi12) * sb2 * weak
    b0 = rho0 * np.sqrt(s01 * s02) + np.sqrt(n1 * n2 * sb1 * sb2) * pi12 * rho12 * weak
    return a0, b0, c0


@njit
def _fast_tag(z1, z2, n1, n2, weak, l, q, params, want_grad, grad_out, post_out):
    """Log-pdf of one tag under the fast model; optionally its gradient and the posterior
    probabilities of the 8 components (written into ``grad_out`` / ``post_out``).
    ``weak``: the tag's weak-LD sum (:func:`null_covariance`)."""
    pi1, pi2, pi12 = params[0], params[1], params[2]
    sb1, sb2, rho12 = params[3], params[4], params[5]
    s01, s02, rho0 = params[6], params[7], params[8]
    p_c = np.empty(3)
    eta_c = np.empty(3)
    dp_c = np.empty(3)
    deta_c = np.empty(3)
    for c in range(3):
        p_c[c], eta_c[c], dp_c[c], deta_c[c] = _component_moments(params[c], l, q)
    v1 = n1 * sb1
    v2 = n2 * sb2
    sq_n = math.sqrt(n1 * n2)
    sq_b = math.sqrt(sb1 * sb2)
    cov12 = rho12 * sq_n * sq_b
    sq_0 = math.sqrt(s01 * s02)
    a0, b0, c0 = null_covariance(n1, n2, weak, params)
    logn = np.empty(N_FAST_COMPONENTS)
    weight = np.empty(N_FAST_COMPONENTS)
    ga = np.empty(N_FAST_COMPONENTS)
    gb = np.empty(N_FAST_COMPONENTS)
    gc = np.empty(N_FAST_COMPONENTS)
    top = -np.inf
    for b in range(N_FAST_COMPONENTS):
        w = 1.0
        for c in range(3):
            w *= p_c[c] if (b >> c) & 1 else 1.0 - p_c[c]
        weight[b] = w
        e1 = eta_c[0] if b & 1 else 0.0
        e2 = eta_c[1] if b & 2 else 0.0
        e12 = eta_c[2] if b & 4 else 0.0
        a = a0 + (e1 + e12) * v1
        cc = c0 + (e2 + e12) * v2
        bb = b0 + e12 * cov12
        det = a * cc - bb * bb
        if det <= 0.0:
            logn[b] = -np.inf
            ga[b] = 0.0
            gb[b] = 0.0
            gc[b] = 0.0
            continue
        quad = (cc * z1 * z1 - 2.0 * bb * z1 * z2 + a * z2 * z2) / det
        logn[b] = -LOG_2PI - 0.5 * math.log(det) - 0.5 * quad
        if logn[b] > top:
            top = logn[b]
        if want_grad:
            u1 = (cc * z1 - bb * z2) / det
            u2 = (a * z2 - bb * z1) / det
            ga[b] = 0.5 * (u1 * u1 - cc / det)
            gb[b] = u1 * u2 + bb / det
            gc[b] = 0.5 * (u2 * u2 - a / det)
    if top == -np.inf:
        return -np.inf
    rel = np.empty(N_FAST_COMPONENTS)
    total = 0.0
    for b in range(N_FAST_COMPONENTS):
        rel[b] = math.exp(logn[b] - top) if logn[b] > -np.inf else 0.0
        total += weight[b] * rel[b]
    if post_out.shape[0] > 0:
        for b in range(N_FAST_COMPONENTS):
            post_out[b] = weight[b] * rel[b] / total
    if want_grad:
        for k in range(N_PARAMS):
            grad_out[k] = 0.0
        g_a = 0.0  # sum_b wr d log N / d (a, b, c), chained to the weak part of (a0, b0, c0)
        g_b = 0.0
        g_c = 0.0
        for b in range(N_FAST_COMPONENTS):
            if rel[b] == 0.0:
                continue
            on1 = 1.0 if b & 1 else 0.0
            on2 = 1.0 if b & 2 else 0.0
            on12 = 1.0 if b & 4 else 0.0
            e1 = on1 * eta_c[0]
            e2 = on2 * eta_c[1]
            e12 = on12 * eta_c[2]
            wr = weight[b] * rel[b]
            # d weight / d pi_c through p_c (product of the other two factors)
            for c in range(3):
                other = 1.0
                for c2 in range(3):
                    if c2 != c:
                        other *= p_c[c2] if (b >> c2) & 1 else 1.0 - p_c[c2]
                sign = 1.0 if (b >> c) & 1 else -1.0
                grad_out[c] += sign * other * dp_c[c] * rel[b]
            # d log N / d Sigma entries, chained to the parameters
            gA, gB, gC = ga[b], gb[b], gc[b]
            g_a += wr * gA
            g_b += wr * gB
            g_c += wr * gC
            grad_out[0] += wr * gA * on1 * v1 * deta_c[0]
            grad_out[1] += wr * gC * on2 * v2 * deta_c[1]
            grad_out[2] += wr * on12 * deta_c[2] * (gA * v1 + gC * v2 + gB * cov12)
            if sb1 > 0.0:
                grad_out[3] += wr * (gA * (e1 + e12) * n1 + gB * e12 * 0.5 * cov12 / sb1)
            if sb2 > 0.0:
                grad_out[4] += wr * (gC * (e2 + e12) * n2 + gB * e12 * 0.5 * cov12 / sb2)
            grad_out[5] += wr * gB * e12 * sq_n * sq_b
            grad_out[6] += wr * (gA + gB * 0.5 * rho0 * sq_0 / s01)
            grad_out[7] += wr * (gC + gB * 0.5 * rho0 * sq_0 / s02)
            grad_out[8] += wr * gB * sq_0
        # the weak-LD part of (a0, b0, c0), common to all components: da0/dpi1 = weak v1,
        # db0/dpi12 = weak cov12, da0/dsig2_beta1 = weak (pi1 + pi12) n1,
        # db0/dsig2_beta1 = weak pi12 cov12 / (2 sig2_beta1), db0/drho12 = weak pi12 sq_n sq_b
        grad_out[0] += g_a * weak * v1
        grad_out[1] += g_c * weak * v2
        grad_out[2] += weak * (g_a * v1 + g_c * v2 + g_b * cov12)
        if sb1 > 0.0:
            grad_out[3] += weak * (g_a * (pi1 + pi12) * n1 + g_b * pi12 * 0.5 * cov12 / sb1)
        if sb2 > 0.0:
            grad_out[4] += weak * (g_c * (pi2 + pi12) * n2 + g_b * pi12 * 0.5 * cov12 / sb2)
        grad_out[5] += g_b * weak * pi12 * sq_n * sq_b
        for k in range(N_PARAMS):
            grad_out[k] /= total
    return top + math.log(total)


@njit
def fast_logp_grad(z1, z2, n1, n2, weak, l, q, weights, params):
    """Weighted log-likelihood ``sum_j w_j log pdf(z_j)`` of the fast model and its gradient.

    Parameters
    ----------
    z1, z2 : (T,) z-scores of the two traits at the tag SNPs, aligned to the same allele.
    n1, n2 : (T,) per-tag sample sizes.
    weak : (T,) weak-LD sums of the tags (:func:`null_covariance`; zeros: MiXeR's model).
    l, q : (T,) LD moments (:func:`bayesmix.kernels.mixer.ld_moments`).
    weights : (T,) pruning weights w_j.
    params : (9,) natural-scale parameters in ``PARAM_NAMES`` order.

    Returns
    -------
    logp : float
    grad : (9,) d logp / d params (natural scale).
    """
    grad = np.zeros(N_PARAMS)
    tag_grad = np.zeros(N_PARAMS)
    no_post = np.empty(0)
    logp = 0.0
    for j in range(z1.shape[0]):
        if weights[j] == 0.0:
            continue
        logp += weights[j] * _fast_tag(z1[j], z2[j], n1[j], n2[j], weak[j], l[j], q[j], params,
                                       True, tag_grad, no_post)
        for k in range(N_PARAMS):
            grad[k] += weights[j] * tag_grad[k]
    return logp, grad


@njit
def fast_logp(z1, z2, n1, n2, weak, l, q, weights, params):
    """Weighted log-likelihood of the fast model (no gradient); see :func:`fast_logp_grad`."""
    no_grad = np.empty(0)
    no_post = np.empty(0)
    logp = 0.0
    for j in range(z1.shape[0]):
        if weights[j] == 0.0:
            continue
        logp += weights[j] * _fast_tag(z1[j], z2[j], n1[j], n2[j], weak[j], l[j], q[j], params,
                                       False, no_grad, no_post)
    return logp


@njit
def fast_tag_logpdf(z1, z2, n1, n2, weak, l, q, params):
    """(T,) per-tag log pdf of the fast model (unweighted)."""
    out = np.empty(z1.shape[0])
    no_grad = np.empty(0)
    no_post = np.empty(0)
    for j in range(z1.shape[0]):
        out[j] = _fast_tag(z1[j], z2[j], n1[j], n2[j], weak[j], l[j], q[j], params, False,
                           no_grad, no_post)
    return out


@njit
def fast_component_posteriors(z1, z2, n1, n2, weak, l, q, params):
    """(T, 8) posterior probability of each fast-model component given both z-scores.

    Column b is the configuration with C1 active if ``b & 1``, C2 if ``b & 2``, C12 if
    ``b & 4``: the probability that the tag's LD-weighted effect sum contains (the moment
    approximation of) causal variants of those components.
    """
    out = np.empty((z1.shape[0], N_FAST_COMPONENTS))
    no_grad = np.empty(0)
    for j in range(z1.shape[0]):
        _fast_tag(z1[j], z2[j], n1[j], n2[j], weak[j], l[j], q[j], params, False, no_grad,
                  out[j])
    return out


# ---------------------------------------------------------------------------------------------
# full (sampling) model
# ---------------------------------------------------------------------------------------------
@njit
def component_seed(seed, component):
    """Key of the causal-set permutations of one component (0: C1, 1: C2, 2: C12)."""
    return 3 * seed + component


@njit
def draw_ld_sums(k, counts, seed, col_ptr, col_tags, col_r2, het, s_sum, touched, is_touched):
    """Causal-set draw ``k`` of the full model: adds S_cj = sum_{i in C_c} H_i r_ij^2 of
    each component c (sets of ``counts[c]`` reference SNPs) into ``s_sum[c, j]`` and lists the
    tags it reaches in ``touched`` (flagged in ``is_touched``); returns their number. The
    caller reads and resets ``s_sum`` and ``is_touched`` of the touched tags."""
    n_snps = het.shape[0]
    n_touched = 0
    for c in range(3):
        for rank in range(counts[c]):
            i = permuted_index(rank, k, component_seed(seed, c), n_snps)
            h = het[i]
            for p in range(col_ptr[i], col_ptr[i + 1]):
                j = col_tags[p]
                if is_touched[j] == 0:
                    is_touched[j] = 1
                    touched[n_touched] = j
                    n_touched += 1
                s_sum[c, j] += h * col_r2[p]
    return n_touched


@njit
def draw_scratch(n_tags):
    """Work arrays of :func:`draw_ld_sums` for one chunk of draws: ``s_sum`` (3, T) zeros,
    ``touched`` (T,) and ``is_touched`` (T,) zeros."""
    return (np.zeros((3, n_tags)), np.empty(n_tags, dtype=np.int64),
            np.zeros(n_tags, dtype=np.uint8))


@njit(inline="always")
def clear_tag(s_sum, is_touched, j):
    """Reset touched tag j in :func:`draw_ld_sums`' work arrays once its sums are read."""
    s_sum[0, j] = 0.0
    s_sum[1, j] = 0.0
    s_sum[2, j] = 0.0
    is_touched[j] = 0


@njit
def full_causal_counts(params, n_snps):
    """(3,) sizes round(pi_c M) of the full model's causal sets C1, C2, C12 (at most M)."""
    counts = np.empty(3, dtype=np.int64)
    for c in range(3):
        counts[c] = min(n_snps, n_causal_draw(params[c], n_snps))
    return counts


@njit
def full_setting(params, n1, n2, weak):
    """(sb1, sb2, sq_b, a0, b0, c0) of the full model's draws: the slab variances, the scale
    rho12 sqrt(sb1 sb2) of the shared effects' covariance, and every tag's null covariance
    (:func:`null_covariance`)."""
    sb1, sb2, rho12 = params[3], params[4], params[5]
    a0, b0, c0 = null_covariance(n1, n2, weak, params)
    return sb1, sb2, rho12 * math.sqrt(sb1 * sb2), a0, b0, c0


@njit(inline="always")
def draw_covariance(j, s1, s2, s12, n1, n2, a0, b0, c0, sb1, sb2, sq_b):
    """(var z1, cov, var z2) of tag j in a draw whose causal sets C1, C2, C12 have LD sums
    s1, s2, s12 with it (:func:`full_setting`'s terms)."""
    return (a0[j] + (s1 + s12) * n1[j] * sb1,
            b0[j] + s12 * math.sqrt(n1[j] * n2[j]) * sq_b,
            c0[j] + (s2 + s12) * n2[j] * sb2)


#: entries (tags of one draw) that :func:`_add_draw_densities` takes at a time
DENSITY_BLOCK = 256


@njit
def density_scratch():
    """Work arrays of :func:`_add_draw_densities` for one chunk of draws: a block's tags (int64),
    LD sums (block, 3), exponents, exponents relative to the running maxima, determinants,
    terms and slopes."""
    return (np.empty(DENSITY_BLOCK, dtype=np.int64), np.empty((DENSITY_BLOCK, 3)),
            np.empty(DENSITY_BLOCK), np.empty(DENSITY_BLOCK), np.empty(DENSITY_BLOCK),
            np.empty(DENSITY_BLOCK), np.empty(DENSITY_BLOCK))


@njit(inline="always")
def covariance_slope(x1, x2, a, b, c, det):
    """d log N((x1, x2); 0, [[a, b], [b, c]]) / d b = b / det + u1 u2, u = Sigma^-1 x."""
    return b / det + (c * x1 - b * x2) * (a * x2 - b * x1) / (det * det)


@njit
def _add_draw_densities(chunk, n, tags, sums, z1, z2, n1, n2, a0, b0, c0, sb1, sb2, sq_b,
                        run_top, run_sum, run_slope, n_touched_draws, scratch):
    """Add one draw's density at the ``n`` <= :data:`DENSITY_BLOCK` tags ``tags[:n]`` (distinct),
    whose causal sets C1, C2, C12 have LD sums ``sums[t]`` with tag ``tags[t]``, to ``chunk``'s
    running maxima ``run_top`` and scaled sums ``run_sum`` (:func:`full_tag_densities`).
    Unless ``run_slope`` is empty (0, 0, 2), also to its scaled sums of term x g and
    term x g x s12, g the slope of the log density in the covariance
    (:func:`covariance_slope`), s12 the draw's shared-set LD sum.

    In three passes, so that the middle one, the exponentials and square roots, runs on
    contiguous arrays and vectorises (:func:`~bayesmix.kernels.vector_math.vector_exp`): the
    exponent e of each tag and its excess x = e - max over the tag's running maximum; the
    term exp(x) det^-1/2; then per tag either the term is added (x <= 0) or e becomes the
    maximum and the sums are rescaled (x > 0, the first draws of a tag mostly).
    A tag with det <= 0 has a zero density: counted as a touched draw, nothing added."""
    _, _, expo, excess, dets, terms, slopes = scratch
    with_slopes = run_slope.shape[0] > 0
    for t in range(n):
        j = tags[t]
        a, bb, cc = draw_covariance(j, sums[t, 0], sums[t, 1], sums[t, 2], n1, n2, a0, b0, c0,
                                    sb1, sb2, sq_b)
        x1, x2 = z1[j], z2[j]
        dets[t] = a * cc - bb * bb
        expo[t] = -0.5 * (cc * x1 * x1 - 2.0 * bb * x1 * x2 + a * x2 * x2) / dets[t]
        excess[t] = expo[t] - run_top[chunk, j]
        if with_slopes:
            slopes[t] = covariance_slope(x1, x2, a, bb, cc, dets[t])
    for t in range(n):
        terms[t] = vector_exp(min(excess[t], 0.0)) / math.sqrt(dets[t])
    for t in range(n):
        j = tags[t]
        if dets[t] > 0.0:
            if excess[t] > 0.0:
                shrink = vector_exp(-excess[t])
                term = 1.0 / math.sqrt(dets[t])
                run_sum[chunk, j] = run_sum[chunk, j] * shrink + term
                run_top[chunk, j] = expo[t]
                if with_slopes:
                    run_slope[chunk, j, 0] = run_slope[chunk, j, 0] * shrink + term * slopes[t]
                    run_slope[chunk, j, 1] = (run_slope[chunk, j, 1] * shrink
                                              + term * slopes[t] * sums[t, 2])
            else:
                run_sum[chunk, j] += terms[t]
                if with_slopes:
                    run_slope[chunk, j, 0] += terms[t] * slopes[t]
                    run_slope[chunk, j, 1] += terms[t] * slopes[t] * sums[t, 2]
        n_touched_draws[chunk, j] += 1


@njit(parallel=True)
def _merged_densities(z1, z2, a0, b0, c0, n_draws, run_top, run_sum, run_slope,
                      n_touched_draws):
    """(T,) log of the average density over the draws: the chunks' sums, in chunk order, plus
    the null density N(0, Sigma_0j) for each draw that did not reach tag j. With the slope
    sums (``run_slope`` not empty), also (T, 2) the posterior means over the draws of g and
    g s12 (:func:`_add_draw_densities`), else (0, 2)."""
    n_tags = z1.shape[0]
    with_slopes = run_slope.shape[0] > 0
    out = np.empty(n_tags)
    slope = np.zeros((n_tags if with_slopes else 0, 2))
    for j in numba.prange(n_tags):
        det0 = a0[j] * c0[j] - b0[j] * b0[j]
        n_null = n_draws
        top = -np.inf
        for chunk in range(run_top.shape[0]):
            n_null -= n_touched_draws[chunk, j]
            top = max(top, run_top[chunk, j])
        e0 = -np.inf
        if det0 > 0.0 and n_null > 0:
            e0 = -0.5 * (c0[j] * z1[j] ** 2 - 2.0 * b0[j] * z1[j] * z2[j]
                         + a0[j] * z2[j] ** 2) / det0
            top = max(top, e0)
        total = 0.0
        g = 0.0
        g12 = 0.0
        if e0 > -np.inf:
            total = n_null * math.exp(e0 - top) / math.sqrt(det0)
            if with_slopes:
                g = total * covariance_slope(z1[j], z2[j], a0[j], b0[j], c0[j], det0)
        for chunk in range(run_top.shape[0]):
            if run_sum[chunk, j] > 0.0:
                scale = math.exp(run_top[chunk, j] - top)
                total += run_sum[chunk, j] * scale
                if with_slopes:
                    g += run_slope[chunk, j, 0] * scale
                    g12 += run_slope[chunk, j, 1] * scale
        out[j] = -LOG_2PI + top + math.log(total / n_draws) if total > 0.0 else -np.inf
        if with_slopes and total > 0.0:
            slope[j, 0] = g / total
            slope[j, 1] = g12 / total
    return out, slope


@njit
def _density_sums(n_tags, with_slopes):
    """Zeroed per-chunk sums of :func:`_add_draw_densities`: running maxima, scaled sums, slope
    sums ((0, 0, 2) without slopes) and touched-draw counts."""
    n_chunks = FULL_DRAW_CHUNKS
    return (np.full((n_chunks, n_tags), -np.inf), np.zeros((n_chunks, n_tags)),
            np.zeros((n_chunks if with_slopes else 0, n_tags if with_slopes else 0, 2)),
            np.zeros((n_chunks, n_tags), dtype=np.int64))


@njit(parallel=True)
def full_tag_densities(z1, z2, n1, n2, weak, col_ptr, col_tags, col_r2, het, params, n_draws,
                       seed, with_slopes):
    """(T,) per-tag log pdf of the full (sampling) model, averaged over ``n_draws`` draws, and
    with ``with_slopes`` the (T, 2) slopes for :func:`rho_gradient` (else (0, 2)).

    Parameters
    ----------
    weak : (T,) weak-LD sums of the tags (:func:`null_covariance`).
    col_ptr, col_tags, col_r2 : the LD matrix by reference SNP (CSC of tag x reference, or
        CSR of its transpose): for reference SNP i, the tags ``col_tags[col_ptr[i]:col_ptr[i+1]]``
        and their r^2.
    het : (M,) H_i of the reference SNPs.
    n_draws, seed : K draws of the three causal sets; fixed seed = same sets every call.

    The draws are split in :data:`FULL_DRAW_CHUNKS` fixed chunks (draw k in chunk
    k mod chunks) run in parallel, merged in chunk order: results do not depend on the thread
    count. Memory O(chunks x T) on top of the LD.

    Without logarithms in the loop over draws: a draw's density at tag j is
    exp(e) / (2 pi sqrt(det)) with e = -z' Sigma^-1 z / 2, and each chunk keeps per tag the
    running maximum of e and the sum of det^-1/2 exp(e - max). Sigma = Sigma_0 + (a positive
    semi-definite causal part), so det >= det_0 and every term is at most det_0^-1/2: nothing
    overflows, and a term lost to underflow is below e^-745 of the largest.
    """
    n_tags = z1.shape[0]
    run_top, run_sum, run_slope, n_touched_draws = _density_sums(n_tags, with_slopes)
    counts = full_causal_counts(params, het.shape[0])
    sb1, sb2, sq_b, a0, b0, c0 = full_setting(params, n1, n2, weak)
    for chunk in numba.prange(FULL_DRAW_CHUNKS):
        s_sum, touched, is_touched = draw_scratch(n_tags)
        scratch = density_scratch()
        block_tags, block_sums = scratch[0], scratch[1]
        for k in range(chunk, n_draws, FULL_DRAW_CHUNKS):
            n_touched = draw_ld_sums(k, counts, seed, col_ptr, col_tags, col_r2, het, s_sum,
                                     touched, is_touched)
            # only tags in LD with a causal SNP differ from the all-null normal N(0, Sigma_0j)
            for lo in range(0, n_touched, DENSITY_BLOCK):
                n = min(DENSITY_BLOCK, n_touched - lo)
                for t in range(n):
                    j = touched[lo + t]
                    block_tags[t] = j
                    for c in range(3):
                        block_sums[t, c] = s_sum[c, j]
                    clear_tag(s_sum, is_touched, j)
                _add_draw_densities(chunk, n, block_tags, block_sums, z1, z2, n1, n2, a0, b0,
                                    c0, sb1, sb2, sq_b, run_top, run_sum, run_slope,
                                    n_touched_draws, scratch)
    return _merged_densities(z1, z2, a0, b0, c0, n_draws, run_top, run_sum, run_slope,
                             n_touched_draws)


@njit
def full_tag_logpdf(z1, z2, n1, n2, weak, col_ptr, col_tags, col_r2, het, params, n_draws,
                    seed):
    """(T,) per-tag log pdf of the full (sampling) model (:func:`full_tag_densities`)."""
    return full_tag_densities(z1, z2, n1, n2, weak, col_ptr, col_tags, col_r2, het, params,
                              n_draws, seed, False)[0]


@njit(parallel=True)
def draw_tag_sums(counts, seed, n_draws, col_ptr, col_tags, col_r2, het, n_tags, draw_ptr):
    """The tags each causal-set draw of :func:`full_tag_densities` reaches and their LD sums
    with its three sets, in the order that function visits them.

    Returns ``(n_touched, tags, sums)``: (K,) tags reached per draw; with ``draw_ptr`` =
    [0, cumsum(n_touched)] (K + 1,) also ``tags`` (E,) int32 and ``sums`` (E, 3), draw k at
    ``draw_ptr[k]:draw_ptr[k + 1]``. With an empty ``draw_ptr`` only the counts (the first
    pass: E decides whether storing fits), and empty arrays.
    """
    store = draw_ptr.shape[0] > 0
    n_entries = draw_ptr[n_draws] if store else 0
    tags = np.empty(n_entries, dtype=np.int32)
    sums = np.empty((n_entries, 3))
    n_touched = np.zeros(n_draws, dtype=np.int64)
    for chunk in numba.prange(FULL_DRAW_CHUNKS):
        s_sum, touched, is_touched = draw_scratch(n_tags)
        for k in range(chunk, n_draws, FULL_DRAW_CHUNKS):
            n = draw_ld_sums(k, counts, seed, col_ptr, col_tags, col_r2, het, s_sum, touched,
                             is_touched)
            n_touched[k] = n
            for t in range(n):
                j = touched[t]
                if store:
                    tags[draw_ptr[k] + t] = j
                    for c in range(3):
                        sums[draw_ptr[k] + t, c] = s_sum[c, j]
                clear_tag(s_sum, is_touched, j)
    return n_touched, tags, sums


@njit(parallel=True)
def full_tag_densities_from_sums(z1, z2, n1, n2, weak, draw_ptr, draw_tags, draw_sums, params,
                                 with_slopes):
    """:func:`full_tag_densities` from the draws' LD sums stored by :func:`draw_tag_sums`
    (same causal-set sizes, K and seed): the same numbers, without redoing the draws."""
    n_tags = z1.shape[0]
    n_draws = draw_ptr.shape[0] - 1
    run_top, run_sum, run_slope, n_touched_draws = _density_sums(n_tags, with_slopes)
    sb1, sb2, sq_b, a0, b0, c0 = full_setting(params, n1, n2, weak)
    for chunk in numba.prange(FULL_DRAW_CHUNKS):
        scratch = density_scratch()
        for k in range(chunk, n_draws, FULL_DRAW_CHUNKS):
            for lo in range(draw_ptr[k], draw_ptr[k + 1], DENSITY_BLOCK):
                hi = min(lo + DENSITY_BLOCK, draw_ptr[k + 1])
                _add_draw_densities(chunk, hi - lo, draw_tags[lo:hi], draw_sums[lo:hi], z1, z2,
                                    n1, n2, a0, b0, c0, sb1, sb2, sq_b, run_top, run_sum,
                                    run_slope, n_touched_draws, scratch)
    return _merged_densities(z1, z2, a0, b0, c0, n_draws, run_top, run_sum, run_slope,
                             n_touched_draws)


@njit
def full_tag_logpdf_from_sums(z1, z2, n1, n2, weak, draw_ptr, draw_tags, draw_sums, params):
    """(T,) per-tag log pdf of the full model from stored draw sums
    (:func:`full_tag_densities_from_sums`)."""
    return full_tag_densities_from_sums(z1, z2, n1, n2, weak, draw_ptr, draw_tags, draw_sums,
                                        params, False)[0]


@njit
def rho_gradient(n1, n2, weak, weights, params, slope):
    """(2,) gradient of the weighted full log-likelihood in (rho12, rho0), from the per-tag
    ``slope`` (T, 2) of :func:`full_tag_densities`.

    rho12 and rho0 enter a draw's covariance only through its off-diagonal
    b = rho0 sqrt(sig2_zero1 sig2_zero2) + rho12 sqrt(N1 N2 sig2_beta1 sig2_beta2)
    (pi12 weak + s12), so d log pdf_j / d rho0 = sqrt(sig2_zero1 sig2_zero2) E[g] and
    d log pdf_j / d rho12 = sqrt(N1_j N2_j sig2_beta1 sig2_beta2) (pi12 weak_j E[g] + E[g s12]),
    the expectations over the draws weighted by their densities at the tag."""
    pi12, sb1, sb2, s01, s02 = params[2], params[3], params[4], params[6], params[7]
    grad = np.zeros(2)
    for j in range(weights.shape[0]):
        if weights[j] != 0.0:
            root = math.sqrt(n1[j] * n2[j] * sb1 * sb2)
            grad[0] += weights[j] * root * (pi12 * weak[j] * slope[j, 0] + slope[j, 1])
            grad[1] += weights[j] * slope[j, 0]
    grad[1] *= math.sqrt(s01 * s02)
    return grad


@njit
def weighted_total(weights, tag_logpdf):
    """``sum_j w_j log pdf(z_j)`` over the tags with w_j != 0 (in tag order)."""
    total = 0.0
    for j in range(tag_logpdf.shape[0]):
        if weights[j] != 0.0:
            total += weights[j] * tag_logpdf[j]
    return total
