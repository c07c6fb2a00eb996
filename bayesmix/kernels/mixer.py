"""MiXeR univariate likelihood kernels on plain arrays (numba).

Model (docs/design.md "MiXeR"): per-allele effects beta_i ~ (1 - pi) delta_0 + pi N(0, sig2_beta)
over M reference SNPs; the z-score of tag SNP j is z_j = delta_j + eps_j with
eps_j ~ N(0, sig2_zero) and delta_j = sqrt(N_j) sum_i sqrt(H_i) r_ij beta_i, so a causal
reference SNP i adds variance N_j sig2_beta H_i r_ij^2 to z_j.

LD enters as the tag x reference CSR matrix of r^2 (``indptr``, ``indices``, ``r2``; rows are
tags, columns reference SNPs, only r^2 >= r2min stored) and ``het`` = H_i = 2 p_i (1 - p_i) of
the reference SNPs. The full (sampling) model needs the transposed store (CSC of the same
matrix, see :func:`transpose_csr`).

The LD the r2min threshold drops enters through ``weak`` (J,): tag j's weak-LD sum
sum_i H_i r~_ij^2 over the reference SNPs of its window below the threshold
(:attr:`bayesmix.ld.store.LDMatrix.weak_ld`). Many SNPs each in weak LD with the tag add
approximately Gaussian signal of expected variance N_j pi sig2_beta weak_j, so every kernel
uses the per-tag null variance ``s0_j = sig2_zero + N_j pi sig2_beta weak_j``
(:func:`null_variance`) where MiXeR uses sig2_zero alone (weak = 0 gives MiXeR's model).
For sparse traits that Gaussian is too light-tailed: a tag's weak LD then holds a few causal
SNPs or none, so the variance they add is itself random, with variance pi (1 - pi)
sum_i H_i^2 r~_ij^4 (``weak4``, :attr:`bayesmix.ld.store.LDMatrix.weak_ld4`). Where ``weak4`` is
given (> 0), the convolve kernels replace the Gaussian by nu_j equal "pseudo-SNPs" of LD
x_j = weak4_j / weak_j, nu_j = weak_j^2 / weak4_j, which match both moments
(:func:`weak_pseudo_snps`); ``weak4 = 0`` keeps the Gaussian.

Every ``*_logp_grad`` kernel returns the weighted log-likelihood sum_j w_j log p(z_j) and its
gradient with respect to the natural parameters ``(pi, sig2_beta, sig2_zero)`` as a length-3
array. With ``censor_z > 0`` a tag with |z_j| > censor_z contributes log P(|z| > censor_z)
(right-censoring through the CDF) instead of its density.
"""

from __future__ import annotations

import cmath
import math

import numba
import numpy as np

from bayesmix.kernels.jit import njit
from bayesmix.kernels.random import GOLDEN_GAMMA, mix64
from bayesmix.kernels.vector_math import SIN_LIMIT, vector_exp, vector_sin

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
#: Gauss-Legendre rule (nodes, weights on [-1, 1]) used per panel by the convolve kernel.
GL_NODES, GL_WEIGHTS = np.polynomial.legendre.leggauss(8)
#: the convolve quadrature's first panel is [0, LOW_PANEL / sqrt(max_i a_i + sig2_zero / 2)]
LOW_PANEL = 0.2


# ---------------------------------------------------------------------------------------------
# LD summaries and layout
# ---------------------------------------------------------------------------------------------
@njit
def ld_moments(indptr, indices, r2, het):
    """Per-tag LD moments ``l_j = sum_i H_i r_ij^2`` and ``l4_j = sum_i H_i^2 r_ij^4``.

    ``l`` is the (heterozygosity-weighted) LD score: the infinitesimal model's z variance is
    ``sig2_zero + N_j sig2_beta l_j``.
    """
    n_tags = indptr.shape[0] - 1
    l2 = np.zeros(n_tags)
    l4 = np.zeros(n_tags)
    for j in range(n_tags):
        for e in range(indptr[j], indptr[j + 1]):
            x = het[indices[e]] * r2[e]
            l2[j] += x
            l4[j] += x * x
    return l2, l4


@njit
def transpose_csr(indptr, indices, values, n_cols):
    """Transpose a CSR matrix: returns ``(col_indptr (int64), row_indices (int32), values)``."""
    counts = np.zeros(n_cols + 1, dtype=np.int64)
    for e in range(indices.shape[0]):
        counts[indices[e] + 1] += 1
    col_indptr = np.cumsum(counts)
    fill = col_indptr[:-1].copy()
    rows = np.empty(indices.shape[0], dtype=np.int32)
    out = np.empty(values.shape[0], dtype=values.dtype)
    for j in range(indptr.shape[0] - 1):
        for e in range(indptr[j], indptr[j + 1]):
            c = indices[e]
            rows[fill[c]] = j
            out[fill[c]] = values[e]
            fill[c] += 1
    return col_indptr, rows, out


# ---------------------------------------------------------------------------------------------
# Gaussian pieces: log density (or log survival when censored) and its derivative in variance
# ---------------------------------------------------------------------------------------------
@njit
def normal_term(z, var, censor_z):
    """``(log p, d log p / d var)`` of N(0, var) at z; log P(|Z| > censor_z) if |z| > censor_z > 0."""
    if censor_z > 0.0 and abs(z) > censor_z:
        x = censor_z / math.sqrt(2.0 * var)
        surv = math.erfc(x)
        # d erfc(x)/d var = (2/sqrt(pi)) exp(-x^2) x / (2 var)
        return math.log(surv), math.exp(-x * x) * x / (math.sqrt(math.pi) * var * surv)
    return (-LOG_SQRT_2PI - 0.5 * math.log(var) - 0.5 * z * z / var,
            0.5 * (z * z / var - 1.0) / var)


@njit
def null_variance(n_j, weak_j, pi, sig2_beta, sig2_zero):
    """``(s0_j, d s0_j / d pi, d s0_j / d sig2_beta)`` of s0_j = sig2_zero + N_j pi sig2_beta
    weak_j (d s0_j / d sig2_zero = 1)."""
    x = n_j * weak_j
    return sig2_zero + x * pi * sig2_beta, x * sig2_beta, x * pi


@njit
def weak_pseudo_snps(weak_j, weak4_j):
    """``(gaussian_j, nu_j, x_j)``: tag j's weak LD as ``nu_j`` pseudo-SNPs of LD ``x_j``
    (H r^2 units) that match the mean N pi sig2_beta weak_j and the variance
    N^2 pi (1 - pi) sig2_beta^2 weak4_j of the signal variance they add, nothing left to the
    Gaussian (``gaussian_j = 0``); without ``weak4_j`` (<= 0) all of ``weak_j`` stays
    Gaussian (``nu_j = 0``)."""
    if weak4_j > 0.0 and weak_j > 0.0:
        return 0.0, weak_j * weak_j / weak4_j, weak4_j / weak_j
    return weak_j, 0.0, 0.0


#: tags per chunk of the parallel likelihood sums: the chunks are fixed, and their partial
#: sums are added in order, so a likelihood does not depend on the number of threads
TAG_CHUNK = 256


@njit
def _n_tag_chunks(n_tags):
    return max((n_tags + TAG_CHUNK - 1) // TAG_CHUNK, 1)


@njit
def _chunk_totals(sums):
    """(logp, grad) from per-chunk partial sums (chunks, 4) of log p and its gradient."""
    total = 0.0
    grad = np.zeros(3)
    for c in range(sums.shape[0]):
        total += sums[c, 0]
        for k in range(3):
            grad[k] += sums[c, k + 1]
    return total, grad


# ---------------------------------------------------------------------------------------------
# fast (moments) model; infinitesimal = fast at pi = 1
# ---------------------------------------------------------------------------------------------
@njit(parallel=True)
def fast_logp_grad(z, n, w, weak, l2, l4, pi, sig2_beta, sig2_zero, censor_z):
    """Weighted log-likelihood of the 2-component moments model and its gradient.

    z_j ~ (1 - q_j) N(0, s0_j) + q_j N(0, s0_j + eta_j N_j sig2_beta) with
    q_j = pi l_j / eta_j and eta_j = pi l_j + (1 - pi) l4_j / l_j (``l2``/``l4`` from
    :func:`ld_moments`; s0_j from :func:`null_variance`). At pi = 1 this is the infinitesimal
    model z_j ~ N(0, sig2_zero + N_j sig2_beta (l_j + weak_j)).

    Returns ``(logp, grad)``, grad = d logp / d (pi, sig2_beta, sig2_zero).
    """
    sums = np.zeros((_n_tag_chunks(z.shape[0]), 4))
    for c in numba.prange(sums.shape[0]):
        for j in range(c * TAG_CHUNK, min((c + 1) * TAG_CHUNK, z.shape[0])):
            lp, d_pi, d_sb, d_s0 = _fast_tag(z[j], n[j], weak[j], l2[j], l4[j], pi, sig2_beta,
                                             sig2_zero, censor_z)
            sums[c, 0] += w[j] * lp
            sums[c, 1] += w[j] * d_pi
            sums[c, 2] += w[j] * d_sb
            sums[c, 3] += w[j] * d_s0
    return _chunk_totals(sums)


@njit
def _fast_tag(z, n, weak, l2, l4, pi, sig2_beta, sig2_zero, censor_z):
    """log p(z_j) of the moments model and its derivatives in (pi, sig2_beta, sig2_zero)."""
    s0, ds0_pi, ds0_sb = null_variance(n, weak, pi, sig2_beta, sig2_zero)
    lp0, d0 = normal_term(z, s0, censor_z)
    if l2 <= 0.0:
        return lp0, d0 * ds0_pi, d0 * ds0_sb, d0
    tail = l4 / l2
    eta = pi * l2 + (1.0 - pi) * tail
    q = pi * l2 / eta
    deta = l2 - tail
    dq = l2 / eta - pi * l2 * deta / (eta * eta)
    var1 = s0 + eta * n * sig2_beta
    lp1, d1 = normal_term(z, var1, censor_z)
    if q >= 1.0:  # pi = 1: the derivative from below, where the null weight vanishes
        return (lp1, dq * (1.0 - math.exp(lp0 - lp1)) + d1 * deta * n * sig2_beta + d1 * ds0_pi,
                d1 * (eta * n + ds0_sb), d1)
    a0 = math.log1p(-q) + lp0
    a1 = math.log(q) + lp1
    m = max(a0, a1)
    e0 = math.exp(a0 - m)
    e1 = math.exp(a1 - m)
    s = e0 + e1
    r0 = e0 / s
    r1 = e1 / s
    d_s0 = r0 * d0 + r1 * d1
    return (m + math.log(s),
            r0 * (-dq / (1.0 - q)) + r1 * (dq / q + d1 * deta * n * sig2_beta) + d_s0 * ds0_pi,
            r1 * d1 * eta * n + d_s0 * ds0_sb, d_s0)


# ---------------------------------------------------------------------------------------------
# full (sampling) model: K causal sets from a keyed pseudo-random permutation
# ---------------------------------------------------------------------------------------------
#: Feistel rounds of :func:`permuted_index`. 4 rounds left pair (and, at M = 10, single-item)
#: inclusion frequencies measurably non-uniform for M <= 50 (chi-square p < 1e-19); 12 rounds
#: pass those tests at no measurable cost (the LD reads dominate the full model).
FEISTEL_ROUNDS = 12


@njit
def permuted_index(rank, draw, seed, n_items):
    """Position ``rank`` of the ``draw``-th pseudo-random permutation of ``range(n_items)``.

    A :data:`FEISTEL_ROUNDS`-round Feistel network keyed by (seed, draw) with cycle walking:
    a bijection of [0, n_items), computed in O(1) memory, so causal set k of size c is
    ``{permuted_index(r, k, seed, M) for r < c}``. Sets are nested in c, hence in pi.
    """
    half = 1
    while (np.uint64(1) << np.uint64(2 * half)) < np.uint64(n_items):
        half += 1
    mask = (np.uint64(1) << np.uint64(half)) - np.uint64(1)
    shift = np.uint64(half)
    key = mix64(np.uint64(seed) * GOLDEN_GAMMA + np.uint64(draw))
    v = np.uint64(rank)
    while True:
        left = v >> shift
        right = v & mask
        for rnd in range(FEISTEL_ROUNDS):
            f = mix64(key + np.uint64(rnd) * np.uint64(0xD1B54A32D192ED03) + right) & mask
            left, right = right, left ^ f
        v = (left << shift) | right
        if v < np.uint64(n_items):
            return np.int64(v)


@njit
def n_causal_draw(pi, n_ref):
    """Size of each sampled causal set: round(pi * M), so the objective is deterministic."""
    return int(pi * n_ref + 0.5)


@njit(parallel=True)
def full_logp_grad(z, n, w, weak, col_indptr, col_rows, col_r2, het, pi, sig2_beta, sig2_zero,
                   n_draws, seed, censor_z, n_chunks):
    """Weighted log-likelihood of the sampling ("full") model and its gradient.

    p(z_j) = (1/K) sum_k N(z_j; 0, s0_j + N_j sig2_beta sum_{i in C_k} H_i r_ij^2), with
    K = ``n_draws`` causal sets C_k of round(pi M) reference SNPs from
    :func:`permuted_index` (same ``seed`` -> same sets -> deterministic objective). The LD
    store is read column-wise (``col_*`` from :func:`transpose_csr`): each draw touches only
    the columns of its causal SNPs, memory is O(LD store + n_chunks x tags). Draws are split in
    ``n_chunks`` fixed chunks run in parallel, so results do not depend on the thread count.

    Returns ``(logp, grad)``; d logp / d pi is undefined (the objective is piecewise constant
    in pi, in steps of 1/M) and returned as NaN, never as a misleading 0.
    """
    n_tags = z.shape[0]
    n_ref = het.shape[0]
    n_c = n_causal_draw(pi, n_ref)
    # per chunk: running max of log p, sum of exp(log p - max), the same weighted by
    # d log p / d sig2_beta and d log p / d sig2_zero, and how many draws touched the tag
    acc_m = np.full((n_chunks, n_tags), -np.inf)
    acc_s = np.zeros((n_chunks, n_tags))
    acc_b = np.zeros((n_chunks, n_tags))
    acc_0 = np.zeros((n_chunks, n_tags))
    touched_count = np.zeros((n_chunks, n_tags), dtype=np.int64)
    for c in numba.prange(n_chunks):
        signal = np.zeros(n_tags)
        touched = np.empty(n_tags, dtype=np.int64)
        for k in range(c, n_draws, n_chunks):
            n_touched = 0
            for rank in range(n_c):
                i = permuted_index(rank, k, seed, n_ref)
                h = het[i]
                for e in range(col_indptr[i], col_indptr[i + 1]):
                    j = col_rows[e]
                    if signal[j] == 0.0:
                        touched[n_touched] = j
                        n_touched += 1
                        signal[j] = 1e-300  # mark as touched even if H_i r^2 == 0
                    signal[j] += h * col_r2[e]
            for t in range(n_touched):
                j = touched[t]
                var = null_variance(n[j], weak[j], pi, sig2_beta, sig2_zero)[0] + (
                    n[j] * sig2_beta * signal[j])
                lp, dv = normal_term(z[j], var, censor_z)
                m = acc_m[c, j]
                if lp > m:
                    scale = math.exp(m - lp)
                    acc_s[c, j] *= scale
                    acc_b[c, j] *= scale
                    acc_0[c, j] *= scale
                    acc_m[c, j] = lp
                    m = lp
                p = math.exp(lp - m)
                acc_s[c, j] += p
                acc_b[c, j] += p * dv * n[j] * signal[j]
                acc_0[c, j] += p * dv
                touched_count[c, j] += 1
                signal[j] = 0.0
    total = 0.0
    g_sb = 0.0
    g_s0 = 0.0
    for j in range(n_tags):
        s0, _, ds0_sb = null_variance(n[j], weak[j], pi, sig2_beta, sig2_zero)
        lp0, d0 = normal_term(z[j], s0, censor_z)
        n_null = n_draws
        m = lp0
        for c in range(n_chunks):
            n_null -= touched_count[c, j]
            if acc_m[c, j] > m:
                m = acc_m[c, j]
        s = 0.0
        sb = 0.0
        acc_d0 = 0.0
        for c in range(n_chunks):
            if touched_count[c, j] > 0:
                f = math.exp(acc_m[c, j] - m)
                s += acc_s[c, j] * f
                sb += acc_b[c, j] * f
                acc_d0 += acc_0[c, j] * f
        f0 = n_null * math.exp(lp0 - m)
        s += f0
        acc_d0 += f0 * d0
        total += w[j] * (m + math.log(s / n_draws))
        g_sb += w[j] * (sb + acc_d0 * ds0_sb) / s
        g_s0 += w[j] * acc_d0 / s
    grad = np.empty(3)
    grad[0] = np.nan
    grad[1] = g_sb
    grad[2] = g_s0
    return total, grad


# ---------------------------------------------------------------------------------------------
# convolve (exact) model: characteristic function inverted by quadrature
# ---------------------------------------------------------------------------------------------
@njit
def _panel_edges(t_max, t_low, freq, wide_freq=0.0, wide_reach=0.0):
    """Quadrature panels on [0, t_max]: [0, t_low], then octaves up to t_max, each of them cut
    so that no panel spans more than half a period of cos(f t). f is ``freq``, or on a panel
    starting at t0 up to min(``wide_freq``, ``wide_reach`` / t0^2) (the frequencies of
    components too wide to matter beyond t0, :func:`_tilted_tag`)."""
    n_oct = 0
    t = t_max
    while t > t_low * 1.000001:
        t *= 0.5
        n_oct += 1
    edges = [0.0]
    lo = t_max / 2.0 ** n_oct
    m = max(1, int(math.ceil(lo * max(freq, wide_freq) / math.pi)))
    for s in range(1, m + 1):
        edges.append(lo * s / m)
    for _ in range(n_oct):
        hi = 2.0 * lo
        f = max(freq, min(wide_freq, wide_reach / (lo * lo)))
        m = max(1, int(math.ceil((hi - lo) * f / math.pi)))
        for s in range(1, m + 1):
            edges.append(lo + (hi - lo) * s / m)
        lo = hi
    return edges


#: log p below which :func:`_convolve_tag` recomputes a tag along the saddle-point contour
#: (:func:`_tilted_tag`). The direct quadrature sums O(1) terms that cancel down to p, so its
#: rounding (~1e-16 absolute) is ~3e-10 of p at this level (the most the switch moves log p)
#: and swamps p below ~1e-15: against enumeration of a 3-SNP row, |z| = 30 at sig2_beta 2e-4
#: came out 1.4 nats off, |z| = 20 at 2e-6 124 nats.
TILT_BELOW_LOG_P = -15.0


@njit
def _cexpm1(w):
    """e^w - 1 for complex w, accurate also for small |w|:
    e^a cos b - 1 = expm1(a) cos b - 2 sin^2(b / 2)."""
    half_sin = math.sin(0.5 * w.imag)
    return complex(math.expm1(w.real) * math.cos(w.imag) - 2.0 * half_sin * half_sin,
                   math.exp(w.real) * math.sin(w.imag))


@njit
def _clog1p(x):
    """log(1 + x) for complex x, accurate also for small |x|."""
    re = x.real
    return complex(0.5 * math.log1p(re * (2.0 + re) + x.imag * x.imag),
                   math.atan2(x.imag, 1.0 + re))


@njit
def _snp_log_mgf(w, pi):
    """One SNP's factor f = 1 - pi + pi e^w of z's moment generating function at u, with
    w = u^2 a_i complex: ``(log f, d log f / d pi, pi e^w / f)``, the last being
    d log f / d w. Exact for small |w|, no overflow for large Re w."""
    if w.real <= 0.0:
        em = _cexpm1(w)
        f = 1.0 + pi * em
        return _clog1p(pi * em), em / f, pi * (em + 1.0) / f
    back = cmath.exp(-w)
    g = pi + (1.0 - pi) * back      # f = e^w g
    return w + cmath.log(g), (1.0 - back) / g, pi / g


@njit
def _cumulants(theta, half_n_sb, ld_het_r2, weak_nu, weak_x, pi, s0):
    """K(theta), K'(theta), K''(theta) of z's cumulant generating function
    K(u) = u^2 s0 / 2 + sum_i log(1 - pi + pi e^(u^2 a_i)) at real theta, with
    a_i = ``half_n_sb`` H_i r_ij^2 over the row and ``weak_nu`` pseudo-SNPs of LD ``weak_x``."""
    t2 = theta * theta
    k0 = 0.5 * t2 * s0
    k1 = theta * s0
    k2 = s0
    for e in range(ld_het_r2.shape[0] + 1):
        if e < ld_het_r2.shape[0]:
            a = half_n_sb * ld_het_r2[e]
            mult = 1.0
        elif weak_nu > 0.0:
            a = half_n_sb * weak_x
            mult = weak_nu
        else:
            break
        log_f, _, resp = _snp_log_mgf(complex(t2 * a, 0.0), pi)
        rho = resp.real     # d log f / d w, in (0, 1)
        k0 += mult * log_f.real
        k1 += mult * 2.0 * theta * a * rho
        k2 += mult * (2.0 * a * rho + 4.0 * t2 * a * a * rho * (1.0 - rho))
    return k0, k1, k2


@njit
def _saddle_point(c, half_n_sb, ld_het_r2, weak_nu, weak_x, pi, s0):
    """``(theta, K(theta), K''(theta))`` at the saddle point K'(theta) = c > 0
    (:func:`_cumulants`), to 1e-9 relative (any theta > 0 serves :func:`_tilted_tag`; near
    the saddle point nothing cancels): Newton on the bracket [0, c / s0] (K'(theta) >=
    theta s0), bisecting where a step leaves it or halves it less than bisection would."""
    lo = 0.0
    hi = c / s0
    theta = 0.5 * hi
    width = hi
    for _ in range(200):
        k0, k1, k2 = _cumulants(theta, half_n_sb, ld_het_r2, weak_nu, weak_x, pi, s0)
        excess = k1 - c
        if excess > 0.0:
            hi = theta
        else:
            lo = theta
        if abs(excess) <= 1e-9 * c or hi - lo <= 1e-12 * hi:
            return theta, k0, k2
        step = theta - excess / k2
        if not lo < step < hi or abs(2.0 * excess) > abs(width * k2):
            step = 0.5 * (lo + hi)
        width = abs(step - theta)
        theta = step
    k0, _, k2 = _cumulants(theta, half_n_sb, ld_het_r2, weak_nu, weak_x, pi, s0)
    return theta, k0, k2


@njit
def _log_envelope(s, theta, half_n_sb, ld_het_r2, weak_nu, weak_x, pi, s0, k_theta):
    """log of a bound on |M(theta + i s)| / M(theta), decreasing in s: each Gaussian
    component's |e^((theta + i s)^2 v / 2)| is e^((theta^2 - s^2) v / 2)."""
    d2 = theta * theta - s * s
    out = 0.5 * d2 * s0 - k_theta
    for e in range(ld_het_r2.shape[0]):
        out += _snp_log_mgf(complex(d2 * half_n_sb * ld_het_r2[e], 0.0), pi)[0].real
    if weak_nu > 0.0:
        out += weak_nu * _snp_log_mgf(complex(d2 * half_n_sb * weak_x, 0.0), pi)[0].real
    return out


@njit
def _tilted_tag(z, n_j, ld_het_r2, weak_nu, weak_x, pi, sig2_beta, sig2_zero, censor_z, gl_x,
                gl_w, tail_log, with_grad):
    """:func:`_convolve_tag` (same arguments and result) along the saddle-point contour, for
    tags far in the tails, at 20-70x its cost (complex exp, log and atan2 per partner and
    node).

    With z's moment generating function M(u) = e^K(u) (:func:`_cumulants`) and u = theta + i s,
    p(z) = (1/pi_c) Re int_0^inf M(u) e^(-u |z|) ds and
    P(|Z| > c) = (2/pi_c) Re int_0^inf M(u) e^(-u c) / u ds for any theta > 0. At the saddle
    point K'(theta) = |z| (or c) the integrand, scaled by M(theta) e^(-theta |z|), is 1 at
    s = 0 and decays without the cancellation that limits the direct inversion: p is resolved
    to relative precision however far in the tail. It is a sum over causal configurations of
    damped cosines e^(-s^2 v / 2) cos(s (theta v - |z|)) of weight <= 1 (v the configuration's
    variance), which sets the quadrature's panels. The gradient differentiates under the
    integral at fixed theta (the integral does not depend on theta)."""
    censored = censor_z > 0.0 and abs(z) > censor_z
    c = censor_z if censored else abs(z)
    half_n = 0.5 * n_j
    hs = half_n * sig2_beta
    theta, k_theta, k2 = _saddle_point(c, hs, ld_het_r2, weak_nu, weak_x, pi, sig2_zero)
    a_max = hs * weak_x if weak_nu > 0.0 else 0.0
    v_max = sig2_zero + 2.0 * hs * weak_x * weak_nu
    for e in range(ld_het_r2.shape[0]):
        a_max = max(a_max, hs * ld_het_r2[e])
        v_max += 2.0 * hs * ld_het_r2[e]
    s_lo = 0.0
    s_hi = math.sqrt(2.0 * tail_log / sig2_zero)   # the bound is at most e^(-s^2 s0 / 2)
    while s_hi - s_lo > 1e-2 * s_hi:
        s = 0.5 * (s_lo + s_hi)
        if _log_envelope(s, theta, hs, ld_het_r2, weak_nu, weak_x, pi, sig2_zero,
                         k_theta) > -tail_log:
            s_lo = s
        else:
            s_hi = s
    s_low = min(s_hi, LOW_PANEL / math.sqrt(max(0.5 * k2, a_max + 0.5 * sig2_zero)))
    edges = _panel_edges(s_hi, s_low, c, theta * v_max - c, 2.0 * theta * tail_log)
    log_scale = k_theta - theta * c
    val = 0.0
    g_pi = 0.0
    g_sb = 0.0
    g_s0 = 0.0
    for b in range(len(edges) - 1):
        half = 0.5 * (edges[b + 1] - edges[b])
        mid = 0.5 * (edges[b + 1] + edges[b])
        for q in range(gl_x.shape[0]):
            u = complex(theta, mid + half * gl_x[q])
            u2 = u * u
            log_h = 0.5 * u2 * sig2_zero - u * c - log_scale
            d_pi = 0j
            d_w = 0j    # sum_i (d log f_i / d w_i) H_i r_ij^2
            for e in range(ld_het_r2.shape[0]):
                log_f, dpi, resp = _snp_log_mgf(u2 * hs * ld_het_r2[e], pi)
                log_h += log_f
                d_pi += dpi
                d_w += resp * ld_het_r2[e]
            if weak_nu > 0.0:
                log_f, dpi, resp = _snp_log_mgf(u2 * hs * weak_x, pi)
                log_h += weak_nu * log_f
                d_pi += weak_nu * dpi
                d_w += weak_nu * resp * weak_x
            h = cmath.exp(log_h)
            if censored:
                h /= u
            wq = half * gl_w[q]
            val += wq * h.real
            if with_grad:
                g_pi += wq * (h * d_pi).real
                g_sb += wq * (h * d_w * u2).real * half_n
                g_s0 += wq * (h * u2).real * 0.5
    lp = log_scale + math.log(max(val, 1e-300) * (2.0 if censored else 1.0) / math.pi)
    if not with_grad or not val > 0.0:
        return lp, 0.0, 0.0, 0.0
    return lp, g_pi / val, g_sb / val, g_s0 / val


@njit
def _convolve_tag(z, n_j, ld_het_r2, weak_nu, weak_x, pi, sig2_beta, sig2_zero, censor_z, gl_x,
                  gl_w, tail_log, with_grad=True):
    """log p(z_j) and its gradient for one tag from its LD row (values H_i r_ij^2) and
    ``weak_nu`` pseudo-SNPs of LD ``weak_x`` (:func:`weak_pseudo_snps`; 0 for none).

    p = (1 - pi)^m N(z; 0, sig2_zero) + (1/pi_c) int_0^inf cos(t z) psi(t) dt, where
    psi(t) = exp(-t^2 sig2_zero / 2) [prod_i (1 - pi + pi exp(-t^2 a_i)) - (1 - pi)^m] and
    a_i = N_j sig2_beta H_i r_ij^2 / 2 over the row and the pseudo-SNPs (a real power nu of
    their common factor; m = row length + nu): the all-null part of the characteristic
    function is a Gaussian handled in closed form, so only the components with at least one
    causal variant (wider than N(0, sig2_zero)) are integrated numerically. Censored tags use
    P(|Z| > c) = 1 - (2/pi_c) int_0^inf sin(t c)/t phi(t) dt in the same way.
    Those integrals cancel down to p, so a tag whose p is below e^TILT_BELOW_LOG_P is
    recomputed along the saddle-point contour (:func:`_tilted_tag`).
    With ``with_grad=False`` the gradient terms are skipped (about half the work) and 0.
    """
    m_ld = ld_het_r2.shape[0]
    m_all = m_ld + weak_nu
    censored = censor_z > 0.0 and abs(z) > censor_z
    a_max = 0.5 * n_j * sig2_beta * weak_x if weak_nu > 0.0 else 0.0
    for e in range(m_ld):
        a_max = max(a_max, 0.5 * n_j * sig2_beta * ld_het_r2[e])
    t_max = math.sqrt(2.0 * tail_log / sig2_zero)
    t_low = min(t_max, LOW_PANEL / math.sqrt(a_max + 0.5 * sig2_zero))
    freq = censor_z if censored else abs(z)
    edges = _panel_edges(t_max, t_low, freq)
    log_q0 = m_all * math.log1p(-pi) if pi < 1.0 else -np.inf
    q0 = math.exp(log_q0)
    # d q0 / d pi
    dq0 = -m_all * math.exp((m_all - 1.0) * math.log1p(-pi)) if pi < 1.0 else 0.0
    # closed-form all-null Gaussian part
    lp0, d0 = normal_term(z, sig2_zero, censor_z)
    p0 = math.exp(lp0)
    val = q0 * p0
    d_pi = dq0 * p0
    d_sb = 0.0
    d_s0 = q0 * p0 * d0
    # numerical part
    i_val = 0.0
    i_pi = 0.0
    i_sb = 0.0
    i_s0 = 0.0
    for b in range(len(edges) - 1):
        half = 0.5 * (edges[b + 1] - edges[b])
        mid = 0.5 * (edges[b + 1] + edges[b])
        for q in range(gl_x.shape[0]):
            t = mid + half * gl_x[q]
            t2 = t * t
            prod = 1.0
            s_pi = 0.0
            s_sb = 0.0
            scale = -t2 * 0.5 * n_j
            if with_grad:
                for e in range(m_ld):
                    ex = vector_exp(scale * sig2_beta * ld_het_r2[e])
                    f = 1.0 - pi + pi * ex
                    prod *= f
                    inv = 1.0 / f
                    s_pi += (ex - 1.0) * inv
                    s_sb += pi * ex * scale * ld_het_r2[e] * inv
            else:
                for e in range(m_ld):
                    prod *= 1.0 - pi + pi * vector_exp(scale * sig2_beta * ld_het_r2[e])
            if weak_nu > 0.0:   # f^nu, f = 1 + pi (e^u - 1): expm1/log1p keep a tiny x exact
                em = math.expm1(scale * sig2_beta * weak_x)
                prod *= math.exp(weak_nu * math.log1p(pi * em))
                if with_grad:
                    f = 1.0 + pi * em
                    s_pi += weak_nu * em / f
                    s_sb += weak_nu * pi * (1.0 + em) * scale * weak_x / f
            g = math.exp(-0.5 * t2 * sig2_zero)
            psi = g * (prod - q0)
            # d psi: derivatives of prod are prod * s_*, of q0 closed form
            dpsi_pi = g * (prod * s_pi - dq0)
            dpsi_sb = g * prod * s_sb
            dpsi_s0 = -0.5 * t2 * psi
            if censored:
                kern = -math.sin(t * censor_z) / t
            else:
                kern = math.cos(t * z)
            wq = half * gl_w[q] * kern / math.pi
            if censored:
                wq *= 2.0
            i_val += wq * psi
            i_pi += wq * dpsi_pi
            i_sb += wq * dpsi_sb
            i_s0 += wq * dpsi_s0
    if censored:
        # P(|Z| > c) of the non-null part is (1 - q0) + (2/pi) int (-sin(tc)/t) psi dt
        i_val += 1.0 - q0
        i_pi -= dq0
    p = val + i_val
    if not p > math.exp(TILT_BELOW_LOG_P):  # beyond the direct inversion's resolution
        return _tilted_tag(z, n_j, ld_het_r2, weak_nu, weak_x, pi, sig2_beta, sig2_zero,
                           censor_z, gl_x, gl_w, tail_log, with_grad)
    if not with_grad:
        return math.log(p), 0.0, 0.0, 0.0
    return math.log(p), (d_pi + i_pi) / p, (d_sb + i_sb) / p, (d_s0 + i_s0) / p


@njit
def _convolve_tag_at(j, z, n, weak, weak4, indptr, indices, r2, het, pi, sig2_beta, sig2_zero,
                     censor_z, gl_x, gl_w, tail_log, with_grad):
    """:func:`_convolve_tag` of tag j from the likelihood's arrays (its LD row as H_i r_ij^2,
    its weak LD as pseudo-SNPs or in s0_j): log p and d log p / d (pi, sig2_beta, sig2_zero)."""
    lo = indptr[j]
    hi = indptr[j + 1]
    row = np.empty(hi - lo)
    for e in range(lo, hi):
        row[e - lo] = het[indices[e]] * r2[e]
    gaussian, nu, x = weak_pseudo_snps(weak[j], weak4[j])
    s0, ds0_pi, ds0_sb = null_variance(n[j], gaussian, pi, sig2_beta, sig2_zero)
    lp, d1, d2, d3 = _convolve_tag(z[j], n[j], row, nu, x, pi, sig2_beta, s0, censor_z, gl_x,
                                   gl_w, tail_log, with_grad)
    return lp, d1 + d3 * ds0_pi, d2 + d3 * ds0_sb, d3


@njit(parallel=True)
def convolve_logp_grad(z, n, w, weak, weak4, indptr, indices, r2, het, pi, sig2_beta,
                       sig2_zero, censor_z, gl_x, gl_w, tail_log, with_grad=True):
    """Weighted exact log-likelihood (characteristic-function inversion) and its gradient.

    ``gl_x``, ``gl_w``: Gauss-Legendre rule on [-1, 1] used per panel (:data:`GL_NODES`);
    ``tail_log``: the integral is cut where exp(-t^2 sig2_zero / 2) < exp(-tail_log).
    Each tag's weak LD enters as pseudo-SNPs where ``weak4`` is given, else in its null
    variance s0_j (:func:`weak_pseudo_snps`, :func:`null_variance`; ``_convolve_tag``'s
    sig2_zero). Smooth in all three parameters. Returns ``(logp, grad)`` in
    (pi, sig2_beta, sig2_zero);
    ``with_grad=False`` skips the gradient (returned as zeros) at about half the cost.
    """
    sums = np.zeros((_n_tag_chunks(z.shape[0]), 4))
    for c in numba.prange(sums.shape[0]):
        for j in range(c * TAG_CHUNK, min((c + 1) * TAG_CHUNK, z.shape[0])):
            lp, g_pi, g_sb, g_s0 = _convolve_tag_at(j, z, n, weak, weak4, indptr, indices, r2,
                                                    het, pi, sig2_beta, sig2_zero, censor_z,
                                                    gl_x, gl_w, tail_log, with_grad)
            sums[c, 0] += w[j] * lp
            sums[c, 1] += w[j] * g_pi
            sums[c, 2] += w[j] * g_sb
            sums[c, 3] += w[j] * g_s0
    return _chunk_totals(sums)


@njit(parallel=True)
def convolve_tail_probabilities(tags, n, weak, weak4, indptr, indices, r2, het, pi,
                                sig2_beta, sig2_zero, thresholds, gl_x, gl_w, tail_log):
    """Exact P(|z_j| > c) for each tag in ``tags`` and each c in ``thresholds``: (T, C).

    One characteristic-function evaluation per quadrature node serves every threshold
    (panels resolve the largest c): P = (1 - pi)^m P0(|Z| > c) + (1 - (1 - pi)^m)
    - (2/pi_c) int_0^inf sin(t c)/t psi(t) dt with psi as in :func:`_convolve_tag` and the
    tag's weak LD as in :func:`convolve_logp_grad`.
    For model Q-Q curves; values are clipped to [0, 1].
    """
    n_thr = thresholds.shape[0]
    c_max = 0.0
    for c in range(n_thr):
        c_max = max(c_max, thresholds[c])
    out = np.empty((tags.shape[0], n_thr))
    for k in numba.prange(tags.shape[0]):
        j = tags[k]
        gaussian, nu, x = weak_pseudo_snps(weak[j], weak4[j])
        s0 = null_variance(n[j], gaussian, pi, sig2_beta, sig2_zero)[0]
        lo = indptr[j]
        m_all = indptr[j + 1] - lo + nu
        a_max = 0.5 * n[j] * sig2_beta * x
        for e in range(lo, indptr[j + 1]):
            a_max = max(a_max, 0.5 * n[j] * sig2_beta * het[indices[e]] * r2[e])
        t_max = math.sqrt(2.0 * tail_log / s0)
        t_low = min(t_max, LOW_PANEL / math.sqrt(a_max + 0.5 * s0))
        edges = _panel_edges(t_max, t_low, c_max)
        q0 = math.exp(m_all * math.log1p(-pi)) if pi < 1.0 else 0.0
        acc = np.zeros(n_thr)
        in_sin_range = t_max * c_max <= SIN_LIMIT  # so far for Q-Q thresholds, always
        for b in range(len(edges) - 1):
            half = 0.5 * (edges[b + 1] - edges[b])
            mid = 0.5 * (edges[b + 1] + edges[b])
            for q in range(gl_x.shape[0]):
                t = mid + half * gl_x[q]
                scale = -t * t * 0.5 * n[j] * sig2_beta
                prod = 1.0
                for e in range(lo, indptr[j + 1]):
                    prod *= 1.0 - pi + pi * vector_exp(scale * het[indices[e]] * r2[e])
                if nu > 0.0:
                    prod *= math.exp(nu * math.log1p(pi * math.expm1(scale * x)))
                psi = math.exp(-0.5 * t * t * s0) * (prod - q0)
                wq = 2.0 * half * gl_w[q] * psi / (math.pi * t)
                if in_sin_range:  # one sine per (node, threshold): most of the work
                    for c in range(n_thr):
                        acc[c] -= wq * vector_sin(t * thresholds[c])
                else:
                    for c in range(n_thr):
                        acc[c] -= wq * math.sin(t * thresholds[c])
        for c in range(n_thr):
            null_tail = math.erfc(thresholds[c] / math.sqrt(2.0 * s0))
            out[k, c] = min(1.0, max(0.0, q0 * null_tail + (1.0 - q0) + acc[c]))
    return out
