"""numba Gibbs sweeps over SNP effects for the Bayesian alphabet (individual genotypes).

Model (DESIGN.md): y* = X beta + e, e ~ N(0, sig2_e I), X a :class:`CompactGenotypes`
matrix (standardised or centred columns) and a normal-mixture prior per SNP,

    beta_j ~ sum_k pi_k N(0, gamma_k v_j),   gamma_k v_j = 0 meaning a point mass at 0,

where v_j is the slab variance of SNP j on the scale of X (sig2_beta for BayesC/R; H_j^S
sig2_beta for BayesS; a SNP-specific variance for BayesB). For each SNP the sweep forms
rhs = x_j'e + x_j'x_j beta_j, draws the component from its marginal likelihood

    log p(k) = log pi_k - 1/2 log(gamma_k v_j lhs_k / sig2_e) + rhs^2 / (2 sig2_e lhs_k),
    lhs_k = x_j'x_j + sig2_e / (gamma_k v_j),

then beta_j | k ~ N(rhs / lhs_k, sig2_e / lhs_k), and updates the residual vector
e -= x_j (beta_new - beta_old) only when beta_j changed. Hyperparameters are not touched
here: the conjugate updates live in :mod:`bayesmix.inference.gibbs`.
"""

from __future__ import annotations

import numpy as np

from bayesmix.kernels.genotype_matrix import column_axpy, column_dot
from bayesmix.kernels.jit import njit


@njit
def _draw_component(log_w, k_max, u):
    """Index k with probability exp(log_w[k]) / sum, for k < k_max, from a uniform u."""
    top = log_w[0]
    for k in range(1, k_max):
        if log_w[k] > top:
            top = log_w[k]
    total = 0.0
    for k in range(k_max):
        log_w[k] = np.exp(log_w[k] - top)
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
    k = _draw_component(log_w, n_comp, rng.random())
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
                         beta, comp, gamma, snp_var, log_pi, sig2_e, rng):
    """One single-site Gibbs pass over all SNPs (BayesC, BayesR, BayesS, BayesB).

    Parameters
    ----------
    codes, center, scale, missing_ptr, missing_idx, xtx, colsum : the arrays of a
        :class:`bayesmix.kernels.genotype_matrix.CompactGenotypes`.
    resid : (n,) float64, updated in place; y - fixed effects - X beta.
    beta : (M,) float64, updated in place; effects on the scale of X.
    comp : (M,) int8/int64, updated in place; mixture component of each SNP.
    gamma : (K,) float64; component variance multipliers (0 = point mass at zero).
    snp_var : (M,) float64; slab variance v_j of each SNP on the scale of X.
    log_pi : (K,) float64; log mixture weights (-inf allowed).
    sig2_e : residual variance.
    rng : numpy.random.Generator.

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
        sum_r = _update_snp(codes, j, center, scale, missing_ptr, missing_idx, xtx, colsum,
                            resid, sum_r, beta, comp, gamma, snp_var[j], log_pi, sig2_e, rng, log_w)
        if beta[j] != 0.0:
            n_nonzero += 1
    return n_nonzero
