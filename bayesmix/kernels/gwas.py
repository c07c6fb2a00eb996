"""Numba kernel of the marginal-regression GWAS: genotype cross-products in one pass.

Plain arrays in and out (no pandas): ``x`` is an (n, k) float32 Fortran-order genotype block
(one column per SNP), ``vectors`` a (c, n) float64 C-order stack of per-sample vectors
(residualised phenotypes, covariate basis, a row of ones). Sums accumulate in float64, so
float32 genotypes never need an n x k float64 copy; each inner loop runs over contiguous
memory (one dot product per SNP and vector), which LLVM vectorises.
"""

from __future__ import annotations

import numpy as np

from bayesmix.kernels.jit import njit


@njit
def genotype_cross_products(x, vectors):
    """Return (x' vectors', column sums of squares of x): shapes (k, c) and (k,), float64."""
    n, k = x.shape
    c = vectors.shape[0]
    xtv = np.zeros((k, c))
    xtx = np.zeros(k)
    for j in range(k):
        ss = 0.0
        for i in range(n):
            xi = np.float64(x[i, j])
            ss += xi * xi
        xtx[j] = ss
        for col in range(c):
            acc = 0.0
            for i in range(n):
                acc += np.float64(x[i, j]) * vectors[col, i]
            xtv[j, col] = acc
    return xtv, xtx


@njit
def complete_case_regression(x_rows, design, y):
    """Per-SNP least squares y ~ design + x_j over the samples where x_j is observed.

    Parameters
    ----------
    x_rows : (k, n) float32, C order: one row of genotypes per SNP (the transpose of an
        (n, k) block); NaN marks a missing genotype. Rows, not Fortran-order columns: numba
        types a one-SNP Fortran block as C order and compiled the kernel (~5 s) a second time.
    design : (c, n) float64, C order: intercept and covariates, one row per column of C.
    y : (t, n) float64, C order: phenotypes (no missing values).

    Returns
    -------
    beta, se : (k, t) coefficient of x_j and its standard error (NaN if x_j is constant over
        its observed samples, the system is singular, or no residual degree of freedom).
    n_obs : (k,) samples with x_j observed.  x_sum : (k,) sum of x_j over them.

    Normal equations of [C, x_j] in float64, accumulated over the observed rows only.
    """
    k, n = x_rows.shape
    c = design.shape[0]
    t = y.shape[0]
    p = c + 1
    beta = np.full((k, t), np.nan)
    se = np.full((k, t), np.nan)
    n_obs = np.zeros(k, dtype=np.int64)
    x_sum = np.zeros(k)
    row = np.empty(p)
    for j in range(k):
        gram = np.zeros((p, p))
        rhs = np.zeros((p, t))
        yy = np.zeros(t)
        count = 0
        sx = 0.0
        sxx = 0.0
        for i in range(n):
            xi = np.float64(x_rows[j, i])
            if np.isnan(xi):
                continue
            count += 1
            sx += xi
            sxx += xi * xi
            for a in range(c):
                row[a] = design[a, i]
            row[c] = xi
            for a in range(p):
                for b in range(a, p):
                    gram[a, b] += row[a] * row[b]
                for s in range(t):
                    rhs[a, s] += row[a] * y[s, i]
            for s in range(t):
                yy[s] += y[s, i] * y[s, i]
        n_obs[j] = count
        x_sum[j] = sx
        df = count - p
        if df < 1 or sxx - sx * sx / count <= 1e-8 * max(sxx, 1.0):
            continue
        for a in range(p):
            for b in range(a):
                gram[a, b] = gram[b, a]
        # collinear design over these samples: the determinant of the gram matrix scaled to
        # unit diagonal (1 for orthogonal columns) vanishes
        scale = np.sqrt(np.diag(gram))
        if np.linalg.det(gram / np.outer(scale, scale)) < 1e-12:
            continue
        inverse = np.linalg.inv(gram)
        coef = inverse @ rhs
        for s in range(t):
            rss = yy[s]
            for a in range(p):
                rss -= coef[a, s] * rhs[a, s]
            beta[j, s] = coef[c, s]
            se[j, s] = np.sqrt(max(rss, 0.0) / df * inverse[c, c])
    return beta, se, n_obs, x_sum
