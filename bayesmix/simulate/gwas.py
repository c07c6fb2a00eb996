"""GWAS by marginal linear regression on genotype blocks (what ``plink --linear`` computes).

For each SNP j, the model y = C alpha + x_j beta_j + e is fitted by least squares, with x_j
the raw A1 allele count (per-allele effect, as plink reports it) and C the intercept plus the
optional covariates. With Q an orthonormal basis of C, y_r = y - Q Q'y and
x_r = x - Q Q'x:

    beta = x' y_r / (x'x - |Q'x|^2),    sigma2 = (y_r'y_r - beta x'y_r) / (n - c - 1),
    se = sqrt(sigma2 / (x'x - |Q'x|^2)),  z = beta / se (plink's T statistic),
    p = 2 P(t_{n-c-1} > |z|).

All per-SNP sums come from one pass of :func:`bayesmix.kernels.gwas.genotype_cross_products`
over each float32 block: no loop over SNPs in Python, no n x M matrix. Missing genotypes
are mean-imputed (:meth:`~bayesmix.io.plink.Genotypes.read`), unlike plink, which drops them
per SNP; samples with a missing phenotype (NaN) are dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bayesmix.errors import InputError
from bayesmix.io.sumstats import CANONICAL_COLUMNS
from bayesmix.kernels.gwas import genotype_cross_products

#: float64 bytes per genotype block the regression may hold (block columns adapt to n).
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
    progress : show a tqdm progress bar over blocks.

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
    cov = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, dtype=np.float64)
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
    df = n - basis.shape[1] - 1
    if df < 1:
        raise InputError(f"{n} samples with phenotypes are too few for "
                         f"{basis.shape[1] - 1} covariates")
    yv = y[rows]
    y_res = yv - q @ (q.T @ yv)
    yy = (y_res**2).sum(axis=0)
    if (yy <= 1e-12 * (yv**2).sum(axis=0)).any():
        raise InputError("phenotype is constant after removing covariates")
    t = y.shape[1]
    vectors = np.ascontiguousarray(np.column_stack([y_res, q, np.ones(n)]).T)
    if block_size is None:
        block_size = max(1, BLOCK_BYTES // (8 * max(n, 1)))
    m = genotypes.n_snps
    xty = np.empty((m, t))
    qtx2 = np.empty(m)
    xsum = np.empty(m)
    xtx = np.empty(m)
    all_rows = rows.all()
    blocks = genotypes.iter_blocks(block_size, standardize=False)
    if progress:
        from tqdm import tqdm

        blocks = tqdm(blocks, total=-(-m // block_size), unit="block", desc="GWAS")
    for start, stop, x in blocks:
        if not all_rows:
            x = np.asfortranarray(x[rows])
        xta, xx = genotype_cross_products(x, vectors)
        xty[start:stop] = xta[:, :t]
        qtx2[start:stop] = (xta[:, t:t + basis.shape[1]] ** 2).sum(axis=1)
        xsum[start:stop] = xta[:, -1]
        xtx[start:stop] = xx
    sxx = xtx - qtx2
    polymorphic = sxx > 1e-8 * np.maximum(xtx, 1.0)
    freq = xsum / (2.0 * n)
    snps = genotypes.snps
    out = []
    for trait in range(t):
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = np.where(polymorphic, xty[:, trait] / sxx, np.nan)
            sigma2 = (yy[trait] - beta * xty[:, trait]) / df
            se = np.sqrt(sigma2 / sxx)
            z = beta / se
        p = 2.0 * stats.t.sf(np.abs(z), df)
        table = pd.DataFrame({
            "SNP": snps["snp"].to_numpy(), "CHR": snps["chr"].to_numpy(),
            "BP": snps["bp"].to_numpy(), "A1": snps["a1"].to_numpy(),
            "A2": snps["a2"].to_numpy(), "FREQ": freq, "BETA": beta, "SE": se, "Z": z, "P": p,
            "N": np.full(m, float(n)), "INFO": np.full(m, np.nan),
        })
        out.append(table[CANONICAL_COLUMNS])
    return out
