"""Joint tail probabilities of the bivariate MiXeR models (numba): bivariate normal upper
orthant probabilities and their sums over tags and mixture components (fast model) or causal
set draws (full model), for the model curves of the conditional Q-Q plot
(:mod:`bayesmix.plots.bivariate`).

Upper orthant probability of a standard bivariate normal (X, Y) with correlation r = sin(theta):

    U(h, k; r) = P(X > h, Y > k),    dU / dtheta = g(theta) / (2 pi),
    g(theta) = exp(-(h^2 + k^2 - 2 h k sin theta) / (2 cos^2 theta))

(the derivative of the bivariate normal CDF in r is its density). U is integrated in theta
from the nearest closed-form anchor:

- |r| <= ``R_SWITCH``: from r = 0, U = Phi(-h) Phi(-k) + (1 / 2 pi) int_0^asin(r) g; the
  integrand is smooth there (cos theta >= 0.6);
- r > ``R_SWITCH``: from r = 1, U = Phi(-max(h, k)) - I / (2 pi); r < -``R_SWITCH``: from
  r = -1, U = max(0, Phi(-k) - Phi(h)) + I / (2 pi). With x = cos theta, D = |h - sgn(r) k|
  and P = sgn(r) h k,

      I = int_0^X exp(-D^2 / (2 x^2)) exp(-P / 2) f(x) dx,   X = sqrt(1 - r^2),
      f(x) = exp(-P x^2 / (2 (1 + sqrt(1 - x^2))^2)) / sqrt(1 - x^2) = 1 + c1 x^2 + O(x^4),
      c1 = 1/2 - P/8.

  The factor exp(-D^2 / (2 x^2)) is nearly a step at x ~ D when h ~ k; its integrals against
  1 and x^2 are closed form (F(X) = X exp(-D^2 / 2X^2) - D sqrt(2 pi) Phi(-D / X), and
  int x^2 exp(-D^2 / 2x^2) = (X^3 exp(-D^2 / 2X^2) - D^2 F(X)) / 3), so quadrature only sees
  the remainder f - 1 - c1 x^2 = O(x^4), which the step cannot spoil.

Both integrals use a 20-point Gauss-Legendre rule (:func:`bvn_upper`, :func:`bvn_abs_tail`).
Against adaptive quadrature of
int_h^inf phi(x) Phi((r x - k) / sqrt(1 - r^2)) dx the error relative to U(h, k; |r|) was
at most 3e-10 over 6,000 random points with 0 <= h <= 12, 0 <= k <= 7, |r| < 1, including
|r| within 1e-6 of 1 and h ~ k (tests/test_mixer_bivariate_plots.py asserts 1e-8).

The model curves' sums (:func:`conditional_tail_sums`, :func:`full_conditional_tail_sums`)
evaluate the middle integral of each mixture component at every (h, k) of their grid with
the fewest nodes of :data:`TAIL_RULES` that its exponent allows: over [0, theta] the
exponent -(h^2 + k^2 -+ 2 h k sin t) / (2 cos^2 t) moves by at most
V = (h^2 + k^2) tan^2(theta) / 2 + 2 h k sin(theta) / cos^2(theta), taken at the grid's
largest h and k; 8 nodes for V <= 2, 12 for V <= 24, else 20. Against the 20-node rule on
300,000 random (h <= 8, k <= 5, |r| <= 0.8) the relative error of the |z| tail was at most
2.8e-10 (8 nodes) and 4.7e-11 (12 nodes). Components of tags with much signal (z-score
standard deviations of several units) have small h and k and take the short rules: the full
model's curves in docs/mixer-bivariate.md's test2 (5,000 tags, 50 draws, both directions)
took 19 s with 20 nodes everywhere and about 9 s with these rules (the whole command 22 ->
11.7 s), the curves equal to 1e-16 in -log10 p.

The exponentials of the node loops are :func:`~bayesmix.kernels.vector_math.vector_exp`
(within 2 ulp of ``math.exp``), which LLVM vectorises across the nodes where it keeps
``math.exp`` a scalar libm call: the model curves of that fit (full, 50 draws, both
directions) 2.0 -> 0.94 s per direction on 2 threads, the fast model's 1.0 -> 0.45 s, the
curves again equal to 1e-16; test2 on the page 14.8 -> 10.4 s.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from bayesmix.kernels.jit import njit
from bayesmix.kernels.vector_math import vector_exp
from bayesmix.kernels.mixer_bivariate import (FULL_DRAW_CHUNKS, clear_tag, draw_covariance,
                                              draw_ld_sums, draw_scratch, full_causal_counts,
                                              full_setting, null_covariance)

#: Gauss-Legendre rule on [-1, 1] of both integrals
GL_X, GL_W = np.polynomial.legendre.leggauss(20)


def middle_rules(counts=(8, 12, 20), max_variation=(2.0, 24.0, math.inf)) -> tuple:
    """Gauss-Legendre rules of the middle integral for the tail sums (module docstring):
    (nodes (R, n_max), weights (R, n_max), node counts (R,), the largest exponent variation
    V each is used for (R,)); rule r fills the first counts[r] columns. The last rule (V up
    to infinity) also serves the paths near |r| = 1."""
    n_max = max(counts)
    nodes, weights = np.zeros((len(counts), n_max)), np.zeros((len(counts), n_max))
    for r, n in enumerate(counts):
        nodes[r, :n], weights[r, :n] = np.polynomial.legendre.leggauss(n)
    return nodes, weights, np.asarray(counts, np.int64), np.asarray(max_variation, np.float64)


#: the rules of :func:`conditional_tail_sums` and :func:`full_conditional_tail_sums`
TAIL_RULES = middle_rules()
#: |r| above which U is integrated from r = +-1 instead of r = 0
R_SWITCH = 0.8
SQRT_2PI = math.sqrt(2.0 * math.pi)


@njit
def _upper_normal(x):
    """Phi(-x) = P(N(0, 1) > x)."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


@njit
def _middle_nodes(r, gl_x, sin_t, half_sec2):
    """Gauss-Legendre nodes t_i on [0, asin|r|]: fills sin(t_i) and 1 / (2 cos^2 t_i);
    returns asin|r|."""
    theta = math.asin(abs(r))
    for i in range(gl_x.shape[0]):
        t = 0.5 * theta * (gl_x[i] + 1.0)
        ct = math.cos(t)
        sin_t[i] = math.sin(t)
        half_sec2[i] = 0.5 / (ct * ct)
    return theta


@njit
def bvn_upper(h, k, r, gl_x, gl_w):
    """P(X > h, Y > k) for a standard bivariate normal with correlation r (|r| < 1); see the
    module docstring. ``gl_x``, ``gl_w``: Gauss-Legendre rule on [-1, 1] (:data:`GL_X`)."""
    if abs(r) <= R_SWITCH:
        sin_t = np.empty(gl_x.shape[0])
        half_sec2 = np.empty(gl_x.shape[0])
        theta = math.copysign(_middle_nodes(r, gl_x, sin_t, half_sec2), r)
        hh = h * h + k * k
        hk2 = math.copysign(2.0 * h * k, r)  # sin(t) has the sign of r along the path
        total = 0.0
        for i in range(gl_x.shape[0]):
            total += gl_w[i] * math.exp((hk2 * sin_t[i] - hh) * half_sec2[i])
        return _upper_normal(h) * _upper_normal(k) + 0.5 * theta * total / (2.0 * math.pi)
    sign = 1.0 if r > 0 else -1.0
    d = abs(h - sign * k)
    p = sign * h * k
    big_x = math.sqrt((1.0 - r) * (1.0 + r))
    c1 = 0.5 - p / 8.0
    rest = 0.0
    for i in range(gl_x.shape[0]):
        x = 0.5 * big_x * (gl_x[i] + 1.0)
        x2 = x * x
        sq = math.sqrt(1.0 - x2)
        f = math.exp(-p * x2 / (2.0 * (1.0 + sq) ** 2)) / sq
        rest += gl_w[i] * math.exp(-d * d / (2.0 * x2) - 0.5 * p) * (f - 1.0 - c1 * x2)
    rest *= 0.5 * big_x
    e_end = math.exp(-d * d / (2.0 * big_x * big_x) - 0.5 * p)
    step = big_x * e_end - d * SQRT_2PI * _upper_normal(d / big_x) * math.exp(-0.5 * p)
    integral = step + c1 * (big_x ** 3 * e_end - d * d * step) / 3.0 + rest
    if r > 0:
        upper = _upper_normal(max(h, k)) - integral / (2.0 * math.pi)
    else:
        upper = max(0.0, _upper_normal(k) - _upper_normal(-h)) + integral / (2.0 * math.pi)
    # far beyond the checked range (h, k > 12) the terms cancel or overflow: keep U inside
    # its bounds 0 <= U <= min(Phi(-h), Phi(-k)) (and a NaN out of the sums)
    if not upper > 0.0:
        return 0.0
    return min(upper, _upper_normal(max(h, k)))


@njit
def _abs_tail_middle(h, k, theta, sin_t, half_sec2, gl_w):
    """P(|X| > h, |Y| > k) = 2 [U(h, k; r) + U(h, k; -r)] for |r| = sin(theta) <=
    ``R_SWITCH``: 4 Phi(-h) Phi(-k) + (1 / 2 pi) int_0^theta (g(t) - g(-t)) dt (both signs of
    r share the nodes; the sum does not depend on the sign)."""
    hh = h * h + k * k
    hk2 = 2.0 * h * k
    total = 0.0
    for i in range(gl_w.shape[0]):
        a = hk2 * sin_t[i] * half_sec2[i]
        base = -hh * half_sec2[i]
        total += gl_w[i] * (math.exp(base + a) - math.exp(base - a))
    return 4.0 * _upper_normal(h) * _upper_normal(k) + theta * total / (2.0 * math.pi)


@njit
def bvn_abs_tail(h, k, r, gl_x, gl_w):
    """P(|X| > h, |Y| > k) for a standard bivariate normal with correlation r (|r| < 1),
    by the same paths as :func:`conditional_tail_sums`."""
    if abs(r) <= R_SWITCH:
        sin_t = np.empty(gl_x.shape[0])
        half_sec2 = np.empty(gl_x.shape[0])
        theta = _middle_nodes(r, gl_x, sin_t, half_sec2)
        return _abs_tail_middle(h, k, theta, sin_t, half_sec2, gl_w)
    return 2.0 * (bvn_upper(h, k, r, gl_x, gl_w) + bvn_upper(h, k, -r, gl_x, gl_w))


#: the factored middle path of :func:`_add_component` is used for h^2 + k^2 <= FACTOR_MAX_SQ:
#: at |r| <= R_SWITCH (cos^2 t > 0.36) every factor and every partial product of the four,
#: in any order, stays a normal double (exponents within [-695, 556]: (h^2 + k^2) / (2 cos^2 t)
#: and 2 h k sin t / (2 cos^2 t) <= (h^2 + k^2) 0.8 / 0.72), so the compiler may reassociate
#: the product; beyond it the per-node exponentials are used
FACTOR_MAX_SQ = 500.0


@njit
def tail_scratch(n_nodes, n_strata):
    """Scratch arrays of :func:`_add_component` for rules of at most ``n_nodes`` nodes and
    ``n_strata`` |z2| thresholds."""
    return (np.empty(n_nodes), np.empty(n_nodes), np.empty(n_nodes), np.empty(n_nodes),
            np.empty((n_strata, n_nodes)), np.empty(n_strata))


@njit
def _add_component(joint, marginal, pw, var1, cov, var2, t, s, rules, scratch):
    """Add ``pw`` x the tails of N(0, [[var1, cov], [cov, var2]]) to ``joint`` (S, G) and
    ``marginal`` (S,) (see :func:`conditional_tail_sums`); ``rules``: :func:`middle_rules`
    (the middle integral takes the first rule its exponent's variation allows, module
    docstring); ``scratch``: :func:`tail_scratch`.

    For |r| <= ``R_SWITCH`` the integrand of :func:`_abs_tail_middle` at node t_n,
    exp(-(h^2 + k^2) c_n) 2 sinh(2 h k sin(t_n) c_n) with c_n = 1 / (2 cos^2 t_n), is
    evaluated as exp(-h^2 c_n) exp(-k^2 c_n) (e - 1 / e), e = exp(2 h k sin(t_n) c_n): the
    first factor once per grid value h, the second once per stratum, so one exponential per
    (h, k, node) instead of two, and the normal tails Phi(-h), Phi(-k) once each.
    """
    sin_t, half_sec2, h_factor, h_cross, k_factor, k_upper = scratch
    sd1 = math.sqrt(var1)
    sd2 = math.sqrt(var2)
    rho = cov / (sd1 * sd2)
    if not abs(rho) < 1.0:
        return  # degenerate component: zero density in the likelihood as well
    middle = abs(rho) <= R_SWITCH
    rule_x, rule_w, rule_n, rule_v = rules
    last = rule_n.shape[0] - 1
    gl_x, gl_w = rule_x[last, :rule_n[last]], rule_w[last, :rule_n[last]]
    theta = 0.0
    if middle:
        h_max, k_max = np.max(t) / sd1, np.max(s) / sd2
        sin_max = abs(rho)
        cos2_max = 1.0 - sin_max * sin_max
        variation = ((h_max * h_max + k_max * k_max) * sin_max * sin_max / (2.0 * cos2_max)
                     + 2.0 * h_max * k_max * sin_max / cos2_max)
        r = 0
        while r < last and not variation <= rule_v[r]:
            r += 1
        gl_x, gl_w = rule_x[r, :rule_n[r]], rule_w[r, :rule_n[r]]
        theta = _middle_nodes(rho, gl_x, sin_t, half_sec2)
    n_nodes = gl_w.shape[0]
    for i in range(s.shape[0]):
        k = s[i] / sd2
        k_upper[i] = _upper_normal(k)
        marginal[i] += pw * 2.0 * k_upper[i]
        if middle and k * k <= FACTOR_MAX_SQ:
            for n in range(n_nodes):
                k_factor[i, n] = vector_exp(-k * k * half_sec2[n])
    for g in range(t.shape[0]):
        h = t[g] / sd1
        h_upper = _upper_normal(h)
        factored = middle and h * h <= FACTOR_MAX_SQ
        if factored:
            for n in range(n_nodes):
                h_factor[n] = vector_exp(-h * h * half_sec2[n])
                h_cross[n] = 2.0 * h * sin_t[n] * half_sec2[n]
        for i in range(s.shape[0]):
            k = s[i] / sd2
            if k == 0.0:
                tail = 2.0 * h_upper
            elif factored and h * h + k * k <= FACTOR_MAX_SQ:
                total = 0.0
                for n in range(n_nodes):
                    e = vector_exp(h_cross[n] * k)
                    total += gl_w[n] * h_factor[n] * k_factor[i, n] * (e - 1.0 / e)
                tail = 4.0 * h_upper * k_upper[i] + theta * total / (2.0 * math.pi)
            elif middle:
                tail = _abs_tail_middle(h, k, theta, sin_t, half_sec2, gl_w)
            else:
                tail = 2.0 * (bvn_upper(h, k, rho, gl_x, gl_w) + bvn_upper(h, k, -rho, gl_x, gl_w))
            joint[i, g] += pw * tail


@njit
def conditional_tail_sums(weights, var1, cov, var2, tag_weights, t, s, rules):
    """Weighted joint and marginal tail probabilities of a per-tag mixture of bivariate
    normals (zero mean), summed over tags.

    Parameters
    ----------
    weights, var1, cov, var2 : (T, B) mixture weights and covariance entries of each tag's
        B components (z-score scale: var1 = var(z1), cov = cov(z1, z2), var2 = var(z2)).
    tag_weights : (T,) tag weights w_j (pruning weights); tags with w_j = 0 are skipped.
    t : (G,) thresholds on |z1|, >= 0.
    s : (S,) thresholds on |z2|, >= 0 (0: no condition, the marginal tail of z1).
    rules : Gauss-Legendre rules on [-1, 1], :data:`TAIL_RULES` (:func:`middle_rules`).

    Returns
    -------
    joint : (S, G) sum_j w_j sum_b weights_jb P_jb(|z1| > t_g, |z2| > s_i).
    marginal : (S,) sum_j w_j sum_b weights_jb P_jb(|z2| > s_i).
    """
    joint = np.zeros((s.shape[0], t.shape[0]))
    marginal = np.zeros(s.shape[0])
    scratch = tail_scratch(rules[0].shape[1], s.shape[0])
    for j in range(weights.shape[0]):
        if tag_weights[j] == 0.0:
            continue
        for b in range(weights.shape[1]):
            pw = weights[j, b] * tag_weights[j]
            if pw != 0.0:
                _add_component(joint, marginal, pw, var1[j, b], cov[j, b], var2[j, b], t, s,
                               rules, scratch)
    return joint, marginal


@njit(parallel=True)
def full_conditional_tail_sums(n1, n2, weak, col_ptr, col_tags, col_r2, het, params, n_draws,
                               seed, tag_weights, swap, t, s, rules):
    """:func:`conditional_tail_sums` of the full (sampling) model: tag j's z-scores are the
    average over draws k < ``n_draws`` of N(0, Sigma_j(k)), the causal sets of draw k being
    those of :func:`bayesmix.kernels.mixer_bivariate.full_tag_logpdf` with the same ``seed``
    (arguments as there; ``params`` in ``PARAM_NAMES`` order). ``swap``: exchange the traits'
    roles (t then thresholds |z2|, s thresholds |z1|). Tags outside the LD of every causal
    SNP of a draw have their null covariance
    (:func:`bayesmix.kernels.mixer_bivariate.null_covariance`), added once per tag with its
    share of draws; tags with weak = 0 share the residual covariance and are added together.

    The draws run in the likelihood's fixed chunks (draw k in chunk k mod
    ``FULL_DRAW_CHUNKS``) in parallel, summed in chunk order: the result does not depend on
    the thread count. Memory O(chunks x T).
    """
    n_tags = n1.shape[0]
    n_chunks = FULL_DRAW_CHUNKS
    joints = np.zeros((n_chunks, s.shape[0], t.shape[0]))
    marginals = np.zeros((n_chunks, s.shape[0]))
    n_touched_draws = np.zeros((n_chunks, n_tags), dtype=np.int64)
    counts = full_causal_counts(params, het.shape[0])
    sb1, sb2, sq_b, a0, b0, c0 = full_setting(params, n1, n2, weak)
    for chunk in numba.prange(n_chunks):
        joint, marginal = joints[chunk], marginals[chunk]
        scratch = tail_scratch(rules[0].shape[1], s.shape[0])
        s_sum, touched, is_touched = draw_scratch(n_tags)
        for k in range(chunk, n_draws, n_chunks):
            n_touched = draw_ld_sums(k, counts, seed, col_ptr, col_tags, col_r2, het, s_sum,
                                     touched, is_touched)
            for e in range(n_touched):
                j = touched[e]
                if tag_weights[j] != 0.0:
                    a, bb, cc = draw_covariance(j, s_sum[0, j], s_sum[1, j], s_sum[2, j], n1,
                                                n2, a0, b0, c0, sb1, sb2, sq_b)
                    if swap:
                        a, cc = cc, a
                    _add_component(joint, marginal, tag_weights[j] / n_draws, a, bb, cc, t,
                                   s, rules, scratch)
                    n_touched_draws[chunk, j] += 1
                clear_tag(s_sum, is_touched, j)
    joint = np.zeros((s.shape[0], t.shape[0]))
    marginal = np.zeros(s.shape[0])
    for chunk in range(n_chunks):
        joint += joints[chunk]
        marginal += marginals[chunk]
    scratch = tail_scratch(rules[0].shape[1], s.shape[0])
    pooled = 0.0  # null share of the tags with weak = 0 (null covariance Sigma_0 for all)
    for j in range(n_tags):
        n_null = n_draws
        for chunk in range(n_chunks):
            n_null -= n_touched_draws[chunk, j]
        if tag_weights[j] == 0.0 or n_null == 0:
            continue
        share = tag_weights[j] * n_null / n_draws
        if weak[j] == 0.0:
            pooled += share
            continue
        a, cc = (c0[j], a0[j]) if swap else (a0[j], c0[j])
        _add_component(joint, marginal, share, a, b0[j], cc, t, s, rules, scratch)
    if pooled > 0.0:
        a, bb, cc = null_covariance(0.0, 0.0, 0.0, params)
        if swap:
            a, cc = cc, a
        _add_component(joint, marginal, pooled, a, bb, cc, t, s, rules, scratch)
    return joint, marginal
