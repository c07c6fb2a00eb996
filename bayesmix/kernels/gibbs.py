"""numba Gibbs sweeps over SNP effects for the Bayesian alphabet (individual genotypes).

Model (docs/design.md): y* = X beta + e, e ~ N(0, sig2_e I), X a :class:`CompactGenotypes`
matrix (standardised or centred columns) and a normal-mixture prior per SNP,

    beta_j ~ sum_k pi_k N(0, gamma_k v_j),   gamma_k v_j = 0 meaning a point mass at 0,

where v_j is the slab variance of SNP j on the scale of X (sig2_beta for BayesC/R; H_j^S
sig2_beta for BayesS; a SNP-specific variance for BayesB; any per-SNP expression of a
composed prior) and the weights pi_k are shared by all SNPs or, for a composed prior
(annotation-dependent weights), given per SNP as pi_jk. For each SNP the sweep forms
rhs = x_j'e + x_j'x_j beta_j, draws the component from its marginal likelihood

    log p(k) = log pi_k - 1/2 log(gamma_k v_j lhs_k / sig2_e) + rhs^2 / (2 sig2_e lhs_k),
    lhs_k = x_j'x_j + sig2_e / (gamma_k v_j),

then beta_j | k ~ N(rhs / lhs_k, sig2_e / lhs_k), and updates the residual vector
e -= x_j (beta_new - beta_old) only when beta_j changed. Hyperparameters are not touched
here: the conjugate updates live in :mod:`bayesmix.inference.gibbs`.
"""

from __future__ import annotations

import math

import numpy as np
from numba.core import types
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.extending import overload

from bayesmix.kernels.genotype_matrix import column_axpy, column_dot
from bayesmix.kernels.jit import njit


def with_item(seq, k, value):
    """``seq`` with element k set to ``value``: an array is changed in place (and returned), a
    tuple is replaced by a new one. In numba code a tuple of floats stays in registers, so
    per-SNP scratch held in a tuple costs no heap allocation (a small array per draw cost
    ~100 ns, as much as the rest of an exact SBayes draw)."""
    if isinstance(seq, np.ndarray):
        seq[k] = value
        return seq
    return seq[:k] + (value,) + seq[k + 1:]


@overload(with_item)
def _with_item(seq, k, value):
    if isinstance(seq, types.Array):
        def in_place(seq, k, value):
            seq[k] = value
            return seq
        return in_place
    if isinstance(seq, types.UniTuple):
        return lambda seq, k, value: tuple_setitem(seq, k, value)
    return None


@njit
def draw_component(log_w, k_max, u):
    """Index k with probability exp(log_w[k]) / sum, for k < k_max, from a uniform u.
    ``log_w``: a float array (overwritten with the unnormalised weights) or a tuple of
    floats (:func:`with_item`)."""
    top = log_w[0]
    for k in range(1, k_max):
        if log_w[k] > top:
            top = log_w[k]
    total = 0.0
    for k in range(k_max):
        log_w = with_item(log_w, k, np.exp(log_w[k] - top))
        total += log_w[k]
    target = u * total
    acc = 0.0
    for k in range(k_max):
        acc += log_w[k]
        if target < acc:
            return k
    return k_max - 1


@njit
def _update_snp(codes, j, center, scale, missing_ptr, missing_idx, xtx, colsum, resid, sum_r,
                beta, comp, gamma, var_j, log_pi, sig2_e, rng, log_w):
    """Gibbs update of (comp_j, beta_j); returns the new sum of the residuals."""
    n_comp = gamma.shape[0]
    old = beta[j]
    informative = xtx[j] > 0.0
    rhs = 0.0
    if informative:
        rhs = column_dot(codes, j, center[j], scale[j], missing_ptr, missing_idx, resid, sum_r)
        rhs += xtx[j] * old
    for k in range(n_comp):
        v = gamma[k] * var_j
        if v <= 0.0:
            log_w[k] = log_pi[k]
        elif informative:
            lhs = xtx[j] + sig2_e / v
            log_w[k] = log_pi[k] - 0.5 * np.log(v * lhs / sig2_e) + 0.5 * rhs * rhs / (sig2_e * lhs)
        else:
            log_w[k] = log_pi[k]
    k = draw_component(log_w, n_comp, rng.random())
    v = gamma[k] * var_j
    new = 0.0
    if v > 0.0:
        if informative:
            lhs = xtx[j] + sig2_e / v
            new = rhs / lhs + np.sqrt(sig2_e / lhs) * rng.standard_normal()
        else:
            new = np.sqrt(v) * rng.standard_normal()
    comp[j] = k
    if new != old:
        change = old - new
        if informative:
            column_axpy(codes, j, center[j], scale[j], missing_ptr, missing_idx, change, resid)
            sum_r += change * colsum[j]
        beta[j] = new
    return sum_r


@njit
def sweep_normal_mixture(codes, center, scale, missing_ptr, missing_idx, xtx, colsum, resid,
                         beta, comp, gamma, snp_var, log_pi, sig2_e, rng, snp_log_weights=None):
    """One single-site Gibbs pass over all SNPs (BayesC, BayesR, BayesS, BayesB).

    Parameters
    ----------
    codes, center, scale, missing_ptr, missing_idx, xtx, colsum : the arrays of a
        :class:`bayesmix.prepare.compact_genotypes.CompactGenotypes`.
    resid : (n,) float64, updated in place; y - fixed effects - X beta.
    beta : (M,) float64, updated in place; effects on the scale of X.
    comp : (M,) int8/int64, updated in place; mixture component of each SNP.
    gamma : (K,) float64; component variance multipliers (0 = point mass at zero).
    snp_var : (M,) float64; slab variance v_j of each SNP on the scale of X.
    log_pi : (K,) float64; log mixture weights shared by all SNPs (-inf allowed).
    sig2_e : residual variance.
    rng : numpy.random.Generator.
    snp_log_weights : None, or (M, K) float64 log mixture weights of each SNP (rows
        normalised; -inf allowed), used instead of ``log_pi``.

    Returns
    -------
    int : the number of non-zero effects after the pass.
    """
    log_w = np.empty(gamma.shape[0])
    sum_r = 0.0
    for i in range(resid.shape[0]):
        sum_r += resid[i]
    n_nonzero = 0
    for j in range(beta.shape[0]):
        if snp_log_weights is None:
            weights_j = log_pi
        else:
            weights_j = snp_log_weights[j]
        sum_r = _update_snp(codes, j, center, scale, missing_ptr, missing_idx, xtx, colsum,
                            resid, sum_r, beta, comp, gamma, snp_var[j], weights_j, sig2_e, rng,
                            log_w)
        if beta[j] != 0.0:
            n_nonzero += 1
    return n_nonzero


@njit
def _cumulative_weights(log_pi, pi_cum):
    """pi_cum[k] = sum_{l <= k} exp(log_pi[l]) (the mixture weights' running sums)."""
    acc = 0.0
    for k in range(log_pi.shape[0]):
        acc += np.exp(log_pi[k])
        pi_cum[k] = acc


@njit
def _draw_from_prior(j, beta, comp, gamma, var_j, pi_cum, rng):
    """(comp_j, beta_j) from the mixture prior (running sums ``pi_cum`` of its weights): the
    pseudo-prior of an inactive window."""
    u = rng.random() * pi_cum[pi_cum.shape[0] - 1]
    k = 0
    while k < pi_cum.shape[0] - 1 and u >= pi_cum[k]:
        k += 1
    comp[j] = k
    v = gamma[k] * var_j
    beta[j] = np.sqrt(v) * rng.standard_normal() if v > 0.0 else 0.0


@njit
def sweep_nested_windows(codes, center, scale, missing_ptr, missing_idx, xtx, colsum, resid,
                         beta, comp, window_ptr, window_on, gamma, snp_var, log_pi,
                         log_odds_window, sig2_e, rng, snp_log_weights=None):
    """One Gibbs pass of BayesN/NS over windows of SNPs (GCTB's nested model).

    Augmented parametrisation: every SNP keeps a component c_j and an effect b_j with the
    mixture prior; window w has an indicator delta_w ~ Bernoulli(pi_w) and the effect in the
    likelihood is delta_w b_j. Per window:

    1. delta_w | b_w: with u = X_w b_w (only non-zero b_j, so O(n nnz_w)) and r the residual
       without the window, log odds = logit(pi_w) + (2 r'u - u'u) / (2 sig2_e). A window whose
       b_w are all 0 draws delta_w from its prior at no cost.
    2. delta_w = 1: the usual single-site sweep over the window's SNPs.
       delta_w = 0: (c_j, b_j) are drawn from the prior, with no genotype work - empty
       windows are skipped.

    ``resid`` holds y - fixed effects - sum_w delta_w X_w b_w and is updated in place, as are
    ``beta`` (b), ``comp`` and ``window_on``. ``log_odds_window`` = log(pi_w / (1 - pi_w)).
    Other parameters (``snp_log_weights``: per-SNP weights instead of ``log_pi``) as in
    :func:`sweep_normal_mixture`.

    Returns
    -------
    (int, int) : effects non-zero in the likelihood (delta_w b_j != 0), active windows.
    """
    n = resid.shape[0]
    n_comp = gamma.shape[0]
    log_w = np.empty(n_comp)
    pi_cum = np.empty(n_comp)
    _cumulative_weights(log_pi, pi_cum)
    u = np.zeros(n)
    sum_r = 0.0
    for i in range(n):
        sum_r += resid[i]
    n_nonzero = 0
    n_on = 0
    for w in range(window_ptr.shape[0] - 1):
        start, stop = window_ptr[w], window_ptr[w + 1]
        nnz = 0
        for j in range(start, stop):
            if beta[j] != 0.0:
                nnz += 1
        if nnz == 0:
            window_on[w] = 1 if rng.random() < 1.0 / (1.0 + np.exp(-log_odds_window)) else 0
        else:
            for i in range(n):
                u[i] = 0.0
            for j in range(start, stop):
                if beta[j] != 0.0:
                    column_axpy(codes, j, center[j], scale[j], missing_ptr, missing_idx, beta[j], u)
            was_on = window_on[w]
            ru = 0.0
            uu = 0.0
            for i in range(n):
                r = resid[i] + was_on * u[i]
                ru += r * u[i]
                uu += u[i] * u[i]
            log_odds = log_odds_window + (2.0 * ru - uu) / (2.0 * sig2_e)
            on = 1 if rng.random() < 1.0 / (1.0 + np.exp(-log_odds)) else 0
            if on != was_on:
                sign = 1.0 if was_on == 1 else -1.0  # switching off adds u back to r
                for i in range(n):
                    resid[i] += sign * u[i]
                for j in range(start, stop):
                    if beta[j] != 0.0:
                        sum_r += sign * beta[j] * colsum[j]
                window_on[w] = on
        if window_on[w] == 1:
            n_on += 1
            for j in range(start, stop):
                if snp_log_weights is None:
                    weights_j = log_pi
                else:
                    weights_j = snp_log_weights[j]
                sum_r = _update_snp(codes, j, center, scale, missing_ptr, missing_idx, xtx,
                                    colsum, resid, sum_r, beta, comp, gamma, snp_var[j],
                                    weights_j, sig2_e, rng, log_w)
                if beta[j] != 0.0:
                    n_nonzero += 1
        else:
            for j in range(start, stop):
                if snp_log_weights is not None:
                    _cumulative_weights(snp_log_weights[j], pi_cum)
                _draw_from_prior(j, beta, comp, gamma, snp_var[j], pi_cum, rng)
    return n_nonzero, n_on


@njit
def accumulate_snp_draw(beta, comp, sum_beta, sum_beta2, nonzero, comp_counts):
    """Add one draw of the effects ``beta`` (M,) and components ``comp`` (M,) to the running
    per-SNP sums: sum_beta += beta, sum_beta2 += beta^2, nonzero += (beta != 0) and
    comp_counts[j, comp_j] += 1 (one pass; the chain driver's online SNP summaries)."""
    for j in range(beta.shape[0]):
        b = beta[j]
        sum_beta[j] += b
        sum_beta2[j] += b * b
        if b != 0.0:
            nonzero[j] += 1
        comp_counts[j, comp[j]] += 1


@njit
def component_counts(comp, n_components):
    """Number of SNPs in each mixture component: int64[n_components] from comp (M,) with
    labels in 0..n_components-1 (a label outside raises ValueError).

    Labels other than 0 are counted and component 0 gets the rest: most SNPs are in the
    zero component, so the loop is a predictable branch per SNP, not an increment of one
    counter per SNP (whose store-to-load chain made it 4x slower)."""
    counts = np.zeros(n_components, np.int64)
    outside = 0
    for j in range(comp.shape[0]):
        c = comp[j]
        if c != 0:
            if 0 < c < n_components:
                counts[c] += 1
            else:
                outside += 1
    if outside:
        raise ValueError("a component label is outside 0..n_components-1")
    counts[0] = comp.shape[0] - counts[1:].sum()
    return counts


@njit
def slab_sum_of_squares(beta, comp, gamma, slab_var, sig2_beta):
    """(k, sum_j beta_j^2 / w_j) over the k SNPs with relative prior variance
    w_j = gamma[comp_j] slab_var_j / sig2_beta > 0: the data of sig2_beta's conjugate update.

    SNPs in a component with gamma_k <= 0 (the zero component: most SNPs) are skipped
    before any arithmetic."""
    k = 0
    total = 0.0
    for j in range(beta.shape[0]):
        g = gamma[comp[j]]
        if g > 0.0:
            w = g * slab_var[j] / sig2_beta
            if w > 0.0:
                k += 1
                total += beta[j] * beta[j] / w
    return k, total


@njit
def annotation_component_sums(annotations, comp, n_free):
    """S[a, k - 1] = sum of A_ja over the SNPs j in component k >= 1: with f of
    :func:`annotation_softmax`, the log-likelihood of the components under annotation
    weights pi_j = softmax([0, A_j theta]) is l(theta) = sum(theta * S) - f(theta).

    Parameters: annotations (M, A) float64, comp (M,) integers in 0..n_free, n_free = K - 1.
    Returns float64 (A, K - 1).
    """
    m, n_a = annotations.shape
    sums = np.zeros((n_a, n_free))
    for j in range(m):
        k = comp[j]
        if k > 0:
            for a in range(n_a):
                sums[a, k - 1] += annotations[j, a]
    return sums


@njit
def annotation_softmax(annotations_t, theta):
    """Annotation weights pi_j = softmax([0, eta_j]), eta_jk = A_j theta[:, k-1] (k >= 1),
    with the normaliser of the components' log-likelihood and its derivatives.

    Parameters: annotations_t (A, M) float64, the annotation matrix transposed (C order, so
    the sums over SNPs run along memory); theta (A, K-1) float64.

    Returns (f, log_w, w, mean_w, grad, hess):
    f = sum_j log(1 + sum_k exp(eta_jk)), so that the components' log-likelihood is
    l(theta) = sum(theta * S) - f(theta) (:func:`annotation_component_sums`);
    log_w, w (M, K): log pi_jk and pi_jk; mean_w (K,): the mean of pi_jk over SNPs;
    grad (A, K-1): df/dtheta[a, k] = sum_j A_ja p_jk; hess (A (K-1), A (K-1)) over
    theta.ravel(): d2f/dtheta[a, k] dtheta[b, l] = sum_j A_ja A_jb p_jk (delta_kl - p_jl),
    with p_jk = pi_jk (k, l >= 1). One exp per SNP and component and one log per SNP.
    """
    n_a, m = annotations_t.shape
    n_free = theta.shape[1]
    n_k = n_free + 1
    log_w = np.zeros((m, n_k))
    for k in range(n_free):  # eta, summed along the SNPs (vectorised)
        for a in range(n_a):
            t = theta[a, k]
            row = annotations_t[a]
            for j in range(m):
                log_w[j, k + 1] += row[j] * t
    w = np.empty((m, n_k))
    p = np.empty((n_free, m))  # pi_jk, k >= 1, component-major for the derivatives
    mean_w = np.zeros(n_k)
    total = 0.0
    for j in range(m):
        top = 0.0
        for k in range(1, n_k):
            if log_w[j, k] > top:
                top = log_w[j, k]
        norm = 0.0
        for k in range(n_k):
            x = log_w[j, k] - top
            w[j, k] = 1.0 if x == 0.0 else math.exp(x)  # the largest needs no exp
            norm += w[j, k]
        shift = top + math.log(norm)
        total += shift
        for k in range(n_k):
            log_w[j, k] -= shift
            w[j, k] /= norm
            mean_w[k] += w[j, k]
        for k in range(n_free):
            p[k, j] = w[j, k + 1]
    size = n_a * n_free
    grad = np.zeros((n_a, n_free))
    hess = np.zeros((size, size))
    c = np.empty(m)
    for k in range(n_free):
        for a in range(n_a):
            grad[a, k] = np.dot(annotations_t[a], p[k])
        for l in range(k, n_free):
            for j in range(m):
                c[j] = p[k, j] * ((1.0 if k == l else 0.0) - p[l, j])
            for a in range(n_a):
                ca = annotations_t[a] * c
                for b in range(n_a):
                    if l > k or b >= a:
                        value = np.dot(ca, annotations_t[b])
                        hess[a * n_free + k, b * n_free + l] = value
                        hess[b * n_free + l, a * n_free + k] = value
    return total, log_w, w, mean_w / m, grad, hess
