"""GWAS by marginal linear regression on genotype blocks (what ``plink --linear`` computes).

For each SNP j, the model y = C alpha + x_j beta_j + e is fitted by least squares, with x_j
the raw A1 allele count (per-allele effect, as plink reports it) and C the intercept plus the
optional covariates. With Q an orthonormal basis of C, y_r = y - Q Q'y and
x_r = x - Q Q'x:

    beta = x' y_r / (x'x - |Q'x|^2),    sigma2 = (y_r'y_r - beta x'y_r) / (n - c - 1),
    se = sqrt(sigma2 / (x'x - |Q'x|^2)),  z = beta / se (plink's T statistic),
    p = 2 P(t_{n-c-1} > |z|).

All per-SNP sums come from one pass of :func:`bayesmix.kernels.gwas.genotype_cross_products`
over each float32 block: no loop over SNPs in Python, no n x M matrix. As plink does, a
sample with a missing genotype is left out of that SNP's regression (N per SNP): those SNPs
are fitted by :func:`bayesmix.kernels.gwas.complete_case_regression` (normal equations over
the observed samples). Samples with a missing phenotype (NaN) are dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import stdtr

from bayesmix.errors import InputError
from bayesmix.io.sumstats import CANONICAL_COLUMNS
from bayesmix.kernels.gwas import complete_case_regression, genotype_cross_products

#: bytes of float32 genotypes per block (the number of SNPs per block adapts to n).
BLOCK_BYTES = 64 * 2**20


def marginal_gwas(genotypes, y, *, covariates=None, block_size: int | None = None,
                  progress: bool = False):
    """Per-SNP marginal regression of ``y`` on each SNP of ``genotypes``.

    Parameters
    ----------
    genotypes : :class:`~bayesmix.io.plink.Genotypes`.
    y : (n,) or (n, T) phenotypes of ``genotypes.samples`` in order; NaN = missing.
    covariates : (n, c) covariates (no intercept column: one is always added), or None.
    block_size : SNPs per block (default: as many as fit in :data:`BLOCK_BYTES`).
    progress : progress over blocks (:mod:`bayesmix.progress`; False: none).

    Returns
    -------
    DataFrame (list of DataFrames for 2-D ``y``) with the canonical summary-statistics
    columns of :mod:`bayesmix.io.sumstats`: SNP CHR BP A1 A2 FREQ (A1 frequency in the
    analysed samples) BETA (per-allele effect of A1, phenotype units) SE Z P N INFO (NaN).
    """
    y = np.asarray(y, dtype=np.float64)
    single = y.ndim == 1
    y = y.reshape(len(y), -1)
    n = genotypes.n_samples
    if y.shape[0] != n:
        raise InputError(f"{y.shape[0]} phenotype values for {n} genotyped samples",
                         genotypes.prefix)
    if np.isinf(y).any():
        raise InputError("phenotype values must be finite (NaN marks a missing value)")
    cov = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, dtype=np.float64)
    if cov.shape[0] != n:
        raise InputError(f"{cov.shape[0]} covariate rows for {n} genotyped samples",
                         genotypes.prefix)
    cov = cov.reshape(n, -1)
    if not np.isfinite(cov).all():
        raise InputError("covariates contain NaN or inf; drop or impute those samples first")
    observed = ~np.isnan(y)
    if (observed == observed[:, :1]).all():
        results = _regress(genotypes, y, cov, observed[:, 0], block_size, progress)
    else:
        results = [_regress(genotypes, y[:, [t]], cov, observed[:, t], block_size, progress)[0]
                   for t in range(y.shape[1])]
    return results[0] if single else results


def _regress(genotypes, y, cov, rows, block_size, progress) -> list[pd.DataFrame]:
    """Regress every column of ``y`` (same observed ``rows``) on each SNP."""
    n = int(rows.sum())
    basis = np.column_stack([np.ones(n), cov[rows]])
    q, r = np.linalg.qr(basis)
    rank = int((np.abs(np.diag(r)) > 1e-10 * np.abs(r[0, 0])).sum())
    if rank < basis.shape[1]:
        raise InputError("covariates are collinear (with each other or the intercept)")
    if n - basis.shape[1] - 1 < 1:
        raise InputError(f"{n} samples with phenotypes are too few for "
                         f"{basis.shape[1] - 1} covariates")
    yv = y[rows]
    y_res = yv - q @ (q.T @ yv)
    yy = (y_res**2).sum(axis=0)
    if (yy <= 1e-12 * (yv**2).sum(axis=0)).any():
        raise InputError("phenotype is constant after removing covariates")
    t = y.shape[1]
    projected = _Projected(np.ascontiguousarray(np.column_stack([y_res, q, np.ones(n)]).T),
                           yy, t, basis.shape[1])
    raw = (np.ascontiguousarray(basis.T), np.ascontiguousarray(yv.T))
    if block_size is None:
        block_size = max(1, BLOCK_BYTES // (4 * max(n, 1)))
    m = genotypes.n_snps
    beta, se = np.full((m, t), np.nan), np.full((m, t), np.nan)
    n_obs, x_sum = np.empty(m), np.empty(m)
    # plink drops a missing genotype per SNP (complete case); only SNPs with a missing call
    # in the analysed samples take the slower per-SNP normal-equations path
    may_miss = bool((genotypes.snps["n_obs"].to_numpy() < genotypes.n_samples).any())
    blocks = genotypes.iter_blocks(block_size, standardize=False, impute=not may_miss)
    from bayesmix.progress import track

    blocks = track(blocks, total=-(-m // block_size), desc="GWAS", unit="blocks",
                   progress=progress)
    for start, stop, x in blocks:
        if not rows.all():
            x = x[rows]
        where = np.arange(start, stop)
        incomplete = np.isnan(x).any(axis=0) if may_miss else np.zeros(stop - start, bool)
        if not incomplete.all():
            cols = where[~incomplete]
            block = x if not incomplete.any() else x[:, ~incomplete]
            beta[cols], se[cols], x_sum[cols] = projected.fit(np.asfortranarray(block))
            n_obs[cols] = n
        if incomplete.any():
            cols = where[incomplete]
            beta[cols], se[cols], n_obs[cols], x_sum[cols] = complete_case_regression(
                np.ascontiguousarray(x[:, incomplete].T), *raw)
    df = n_obs - basis.shape[1] - 1
    freq = x_sum / (2.0 * n_obs)
    snps = genotypes.snps
    out = []
    for trait in range(t):
        with np.errstate(invalid="ignore", divide="ignore"):
            z = beta[:, trait] / se[:, trait]
        table = pd.DataFrame({
            "SNP": snps["snp"].to_numpy(), "CHR": snps["chr"].to_numpy(),
            "BP": snps["bp"].to_numpy(), "A1": snps["a1"].to_numpy(),
            "A2": snps["a2"].to_numpy(), "FREQ": freq, "BETA": beta[:, trait],
            "SE": se[:, trait], "Z": z, "P": 2.0 * stdtr(df, -np.abs(z)), "N": n_obs,
            "INFO": np.full(m, np.nan),
        })
        out.append(table[CANONICAL_COLUMNS])
    return out


class _Projected:
    """Regression on SNP blocks without missing genotypes, covariates projected out.

    ``vectors`` stacks y_r (t rows), the orthonormal covariate basis Q (c rows) and a row of
    ones; ``yy`` = y_r'y_r per trait.
    """

    def __init__(self, vectors, yy, n_traits, n_basis):
        self.vectors, self.yy, self.t, self.c = vectors, yy, n_traits, n_basis
        self.df = vectors.shape[1] - n_basis - 1

    def fit(self, x):
        """(beta, se) of shape (k, t) and the sum of x per SNP, for an (n, k) float32 block."""
        xtv, xtx = genotype_cross_products(x, self.vectors)
        xty = xtv[:, :self.t]
        sxx = xtx - (xtv[:, self.t:self.t + self.c] ** 2).sum(axis=1)
        polymorphic = (sxx > 1e-8 * np.maximum(xtx, 1.0))[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = np.where(polymorphic, xty / sxx[:, None], np.nan)
            sigma2 = (self.yy - beta * xty) / self.df
            se = np.sqrt(sigma2 / sxx[:, None])
        return beta, se, xtv[:, -1]
