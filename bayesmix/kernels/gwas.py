"""Numba kernel of the marginal-regression GWAS: genotype cross-products in one pass.

Plain arrays in and out (no pandas): ``x`` is an (n, k) float32 Fortran-order genotype block
(one column per SNP), ``a`` an (n, c) float64 C-order matrix of per-sample vectors
(residualised phenotypes, covariate basis, a column of ones). Sums accumulate in float64, so
float32 genotypes never need an n x k float64 copy.
"""

from __future__ import annotations

import numpy as np

from bayesmix.kernels.jit import njit


@njit
def genotype_cross_products(x, a):
    """Return (x' a, column sums of squares of x): shapes (k, c) and (k,), float64."""
    n, k = x.shape
    c = a.shape[1]
    xta = np.zeros((k, c))
    xtx = np.zeros(k)
    for j in range(k):
        ss = 0.0
        for i in range(n):
            xi = np.float64(x[i, j])
            ss += xi * xi
            for col in range(c):
                xta[j, col] += xi * a[i, col]
        xtx[j] = ss
    return xta, xtx
