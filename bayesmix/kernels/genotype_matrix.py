"""Kernels of the compact genotype matrix: int8 allele counts, standardised on the fly.

The matrix is a :class:`bayesmix.prepare.compact_genotypes.CompactGenotypes`.

A column of the design matrix is x_ij = scale_j (g_ij - center_j) for an observed genotype
g_ij in {0, 1, 2} (A1 counts) and x_ij = 0 for a missing one (mean imputation), with
center_j = 2 p_j (the A1 mean over observed genotypes) and scale_j = 1 / sqrt(2 p_j (1 - p_j))
(standardised) or 1 (centred per-allele counts). The matrix takes n x M bytes (a quarter of
float32); missing genotypes are listed per SNP in CSR form (``missing_ptr``,
``missing_idx``) and stored as 0 in ``codes``.

Because center_j is the observed mean, every column sums to zero, so the sum of a residual
vector does not change when effects change; :func:`column_dot` uses that sum to subtract the
centring in O(1).
"""

from __future__ import annotations

import numpy as np

from bayesmix.kernels.jit import njit


@njit
def column_moments(codes, missing_ptr, missing_idx, standardize, center, scale, xtx, colsum):
    """Fill center, scale, xtx and colsum (float64[M]) of the int8 columns in place."""
    n, m = codes.shape
    for j in range(m):
        n_missing = missing_ptr[j + 1] - missing_ptr[j]
        n_obs = n - n_missing
        total = 0.0
        for i in range(n):
            total += codes[i, j]
        mean = total / n_obs if n_obs > 0 else 0.0
        center[j] = mean
        p = mean / 2.0
        het = 2.0 * p * (1.0 - p)
        if het <= 1e-12 or n_obs == 0:
            scale[j] = 0.0
        elif standardize:
            scale[j] = 1.0 / np.sqrt(het)
        else:
            scale[j] = 1.0
        ss = 0.0
        s = 0.0
        for i in range(n):
            d = codes[i, j] - mean
            ss += d * d
            s += d
        for k in range(missing_ptr[j], missing_ptr[j + 1]):  # missing rows contribute 0
            d = -mean
            ss -= d * d
            s -= d
        xtx[j] = ss * scale[j] * scale[j]
        colsum[j] = s * scale[j]


@njit
def column_dot(codes, j, center_j, scale_j, missing_ptr, missing_idx, v, sum_v):
    """x_j' v for the standardised column j; ``sum_v`` must equal v.sum()."""
    n = codes.shape[0]
    s = 0.0
    for i in range(n):
        s += codes[i, j] * v[i]
    observed_sum = sum_v
    for k in range(missing_ptr[j], missing_ptr[j + 1]):
        observed_sum -= v[missing_idx[k]]
    return scale_j * (s - center_j * observed_sum)


@njit
def column_axpy(codes, j, center_j, scale_j, missing_ptr, missing_idx, a, v):
    """v += a x_j in place for the standardised column j."""
    n = codes.shape[0]
    c = a * scale_j
    offset = c * center_j
    for i in range(n):
        v[i] += c * codes[i, j] - offset
    for k in range(missing_ptr[j], missing_ptr[j + 1]):
        v[missing_idx[k]] += offset  # missing genotypes have x_ij = 0


@njit
def genotype_matvec(codes, center, scale, missing_ptr, missing_idx, beta, out):
    """out += X beta, skipping zero effects."""
    for j in range(codes.shape[1]):
        if beta[j] != 0.0:
            column_axpy(codes, j, center[j], scale[j], missing_ptr, missing_idx, beta[j], out)


@njit
def genotype_rmatvec(codes, center, scale, missing_ptr, missing_idx, v, out):
    """out = X' v."""
    sum_v = 0.0
    for i in range(v.shape[0]):
        sum_v += v[i]
    for j in range(codes.shape[1]):
        out[j] = column_dot(codes, j, center[j], scale[j], missing_ptr, missing_idx, v, sum_v)
