"""Gibbs sweep and likelihood of SBayes on eigen-decomposed block LD (SBayesRC's likelihood).

Scale: standardised genotypes and phenotype (as :mod:`bayesmix.kernels.sbayes`). LD block b
of m_b SNPs keeps k_b leading eigenpairs, R_b ~ U_b diag(lambda_b) U_b'. With the rotated
marginal effects w_b = diag(lambda_b)^-1/2 U_b' b*_b (k_b values) and

    Q_b = diag(lambda_b)^1/2 U_b'   (k_b x m_b; Q_b'Q_b = U_b diag(lambda_b) U_b'),

the model is the regression w_b = Q_b beta_b + e_b, e_b ~ N(0, sig2_b / n_b I), a residual
variance sig2_b per block and n_b the block's GWAS sample size. Multiplying by sqrt(n_b)
makes it individual-level data with k_b observations, design X_b = sqrt(n_b) Q_b and
residual variance sig2_b, so SNP j's conditional is the summary-data one of
:func:`bayesmix.kernels.sbayes._draw_snp` with

    r_j = (X'y - X'X beta)_j = n_b q_j'e_b,   d_j = (X'X)_jj = n_b q_j'q_j,   ve = sig2_b,

where q_j is column j of Q_b and e_b = w_b - Q_b beta_b the block's residual in the rotated
space, updated by e_b -= q_j (beta_new - beta_old): O(k_b) per SNP.

Arrays: ``block_ptr`` (B + 1) SNP ranges of the blocks, ``rank_ptr`` (B + 1) ranges of the
rotated values (w, e) of each block, ``q_ptr`` (B + 1) start of each block's Q in
``q_values``, which holds Q_b' row-major (m_b x k_b: row j is q_j, contiguous) in float32.
"""

from __future__ import annotations

import math

import numpy as np

from bayesmix.kernels.jit import njit
from bayesmix.kernels.random import uniform_at
from bayesmix.kernels.sbayes import _draw_snp_j, balanced_runs, sweep_in_threads


@njit
def _sweep_blocks(first, last, block_ptr, rank_ptr, q_ptr, q_values, n_block, qq, resid, beta,
                  comp, mixture, snp_var_scale, vare_block, uniforms, effect_uniforms, counts,
                  ssq, snp_weights):
    """Sweep the SNPs of blocks ``first..last-1`` in order; ``counts`` and ``ssq`` (K) are
    incremented. See :func:`eigen_sweep` for the arguments."""
    for b in range(first, last):
        lo, hi = block_ptr[b], block_ptr[b + 1]
        r0, k = rank_ptr[b], rank_ptr[b + 1] - rank_ptr[b]
        nb = n_block[b]
        e = resid[r0:r0 + k]
        for j in range(lo, hi):
            row = q_values[q_ptr[b] + (j - lo) * k:q_ptr[b] + (j - lo + 1) * k]
            dot = 0.0
            for t in range(k):
                dot += row[t] * e[t]
            chosen, new = _draw_snp_j(j, nb * dot, nb * qq[j], vare_block[b], beta[j], mixture,
                                      snp_weights, snp_var_scale[j], uniform_at(uniforms, j),
                                      uniform_at(effect_uniforms, j))
            delta = new - beta[j]
            beta[j], comp[j] = new, chosen
            counts[chosen] += 1
            ssq[chosen] += new * new / snp_var_scale[j]
            if delta != 0.0:
                for t in range(k):
                    e[t] -= row[t] * delta


@njit
def eigen_sweep(block_ptr, rank_ptr, q_ptr, q_values, n_block, qq, resid, beta, comp, mixture,
                snp_var_scale, vare_block, uniforms, effect_uniforms, snp_weights=None):
    """One Gibbs sweep over all SNPs in order, updating ``beta``, ``comp`` and ``resid`` in place.

    Parameters (see the module docstring for the layout)
    ----------
    block_ptr, rank_ptr, q_ptr : int64[B + 1].
    q_values : float32[sum_b m_b k_b], the Q_b' of the blocks.
    n_block : float64[B], n_b.
    qq : float64[M], q_j'q_j (the LD diagonal the decomposition keeps, <= 1).
    resid : float64[sum_b k_b], e = w - Q beta, kept up to date.
    beta, comp : standardised effects and mixture components (M), updated in place.
    mixture, snp_var_scale, uniforms, effect_uniforms, snp_weights : as in
        :func:`bayesmix.kernels.sbayes.sbayes_sweep`.
    vare_block : float64[B], the residual variance sig2_b of each block.

    Returns (counts, ssq): per component, the number of SNPs in it after the sweep and their
    sum of beta_j^2 / snp_var_scale_j.
    """
    n_comp = len(mixture[0])
    counts = np.zeros(n_comp, np.int64)
    ssq = np.zeros(n_comp)
    _sweep_blocks(0, block_ptr.shape[0] - 1, block_ptr, rank_ptr, q_ptr, q_values, n_block, qq,
                  resid, beta, comp, mixture, snp_var_scale, vare_block, uniforms,
                  effect_uniforms, counts, ssq, snp_weights)
    return counts, ssq


def eigen_sweep_threads(block_ptr, rank_ptr, q_ptr, q_values, n_block, qq, resid, beta, comp,
                        mixture, snp_var_scale, vare_block, uniforms, effect_uniforms,
                        snp_weights=None, *, threads: int = 2):
    """:func:`eigen_sweep` in ``threads`` parallel threads, each sweeping a contiguous run of
    blocks holding about the same number of eigenvector entries (the blocks share nothing;
    the kernel releases the GIL). The draws are identical to the serial sweep's."""
    runs = balanced_runs(np.asarray(q_ptr, np.int64), threads)

    def sweep_run(i, counts, ssq):
        _sweep_blocks(runs[i][0], runs[i][1], block_ptr, rank_ptr, q_ptr, q_values, n_block, qq,
                      resid, beta, comp, mixture, snp_var_scale, vare_block, uniforms,
                      effect_uniforms, counts, ssq, snp_weights)

    return sweep_in_threads(len(runs), len(mixture[0]), sweep_run)


@njit
def eigen_fitted(block_ptr, rank_ptr, q_ptr, q_values, beta):
    """Q beta: per block Q_b beta_b (sum_b k_b values), over the non-zero effects only."""
    out = np.zeros(rank_ptr[-1])
    for b in range(block_ptr.shape[0] - 1):
        lo, hi = block_ptr[b], block_ptr[b + 1]
        r0, k = rank_ptr[b], rank_ptr[b + 1] - rank_ptr[b]
        for j in range(lo, hi):
            if beta[j] != 0.0:
                base = q_ptr[b] + (j - lo) * k
                for t in range(k):
                    out[r0 + t] += q_values[base + t] * beta[j]
    return out


@njit
def eigen_transposed(block_ptr, rank_ptr, q_ptr, q_values, v):
    """Q'v: per block Q_b' v_b, one value per SNP (M), for ``v`` of the rotated space
    (sum_b k_b values)."""
    out = np.zeros(block_ptr[-1])
    for b in range(block_ptr.shape[0] - 1):
        r0, k = rank_ptr[b], rank_ptr[b + 1] - rank_ptr[b]
        for j in range(block_ptr[b], block_ptr[b + 1]):
            base = q_ptr[b] + (j - block_ptr[b]) * k
            acc = 0.0
            for t in range(k):
                acc += q_values[base + t] * v[r0 + t]
            out[j] = acc
    return out


@njit
def snp_sums_of_squares(block_ptr, rank_ptr, q_ptr, q_values):
    """q_j'q_j of every SNP (M): the LD diagonal the kept eigenvectors reproduce."""
    out = np.zeros(block_ptr[-1])
    for b in range(block_ptr.shape[0] - 1):
        k = rank_ptr[b + 1] - rank_ptr[b]
        for j in range(block_ptr[b], block_ptr[b + 1]):
            base = q_ptr[b] + (j - block_ptr[b]) * k
            acc = 0.0
            for t in range(k):
                q = np.float64(q_values[base + t])
                acc += q * q
            out[j] = acc
    return out


@njit
def block_sums_of_squares(rank_ptr, values):
    """Per block, the sum of squares of its rotated ``values`` (B)."""
    out = np.zeros(rank_ptr.shape[0] - 1)
    for b in range(out.shape[0]):
        acc = 0.0
        for t in range(rank_ptr[b], rank_ptr[b + 1]):
            acc += values[t] * values[t]
        out[b] = acc
    return out


@njit
def eigen_loglik(theta, block_ptr, rank_ptr, q_ptr, q_values, n_block, w):
    """Log-likelihood of the eigen model and its gradient in one pass.

    ``theta = (beta_1..beta_M, sig2_1..sig2_B)`` (standardised effects, per-block residual
    variances). With e_b = w_b - Q_b beta_b,

        logp = sum_b -k_b/2 log(2 pi sig2_b / n_b) - n_b e_b'e_b / (2 sig2_b),

    d logp / d beta_j = n_b q_j'e_b / sig2_b and d logp / d sig2_b = -k_b / (2 sig2_b) +
    n_b e_b'e_b / (2 sig2_b^2).
    """
    m = block_ptr[-1]
    n_blocks = block_ptr.shape[0] - 1
    beta = theta[:m]
    e = w - eigen_fitted(block_ptr, rank_ptr, q_ptr, q_values, beta)
    grad = np.zeros(m + n_blocks)
    logp = 0.0
    for b in range(n_blocks):
        lo, hi = block_ptr[b], block_ptr[b + 1]
        r0, k = rank_ptr[b], rank_ptr[b + 1] - rank_ptr[b]
        sig2, nb = theta[m + b], n_block[b]
        sse = 0.0
        for t in range(r0, r0 + k):
            sse += e[t] * e[t]
        logp += -0.5 * k * math.log(2.0 * math.pi * sig2 / nb) - 0.5 * nb * sse / sig2
        grad[m + b] = -0.5 * k / sig2 + 0.5 * nb * sse / (sig2 * sig2)
        for j in range(lo, hi):
            base = q_ptr[b] + (j - lo) * k
            dot = 0.0
            for t in range(k):
                dot += q_values[base + t] * e[r0 + t]
            grad[j] = nb * dot / sig2
    return logp, grad
