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
