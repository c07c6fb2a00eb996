"""GWAS summary statistics drawn directly from an LD matrix, standing in for a GWAS of N people.

Model (standardised scale, phenotype variance 1, R the SNP correlation matrix of the
reference panel, b the standardised joint effects ``Effects.b_std``):

    z = sqrt(N) R b + e,    e ~ N(0, R).

Given b, ``E[z_j^2] = N (R b)_j^2 + R_jj``. If the b_i are independent with mean 0 and
variance v_i (a prior), ``E[z_j^2] = R_jj + N sum_i r_ij^2 v_i``; for the MiXeR prior
(v_i = pi sig2_beta H_i) that is ``1 + N pi sig2_beta l_j`` with l_j = sum_i H_i r_ij^2, and
for BayesC (v_i = h2 / M) ``1 + N h2 L_j / M`` with the LD score L_j = sum_i r_ij^2.

Two traits with sample overlap: e_1, e_2 each ~ N(0, R) with cov(e_1, e_2) = rho0 R, where
``rho0 = N_s / sqrt(N_1 N_2) * corr(y_1, y_2)`` (:func:`overlap_rho0`). The noise is drawn
block by block over the connected components of R (the LD blocks of a block-diagonal
matrix): each block's R_c = V diag(lambda) V' is eigen-decomposed, tiny negative eigenvalues
(of a not-quite-PSD matrix) are clipped to 0, and e_c = V diag(sqrt(lambda)) u.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats
from scipy.sparse.csgraph import connected_components

from bayesmix.errors import InputError
from bayesmix.io.sumstats import CANONICAL_COLUMNS


def single_threaded_blas():
    """Limit BLAS to one thread: LD blocks are small, and a threaded BLAS on a busy machine
    spins (eigh of 100 x 100 blocks measured 20x slower with 2 threads under load)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def as_sparse_ld(ld) -> sp.csr_array:
    """R as a square CSR matrix: from a dense array, any scipy.sparse matrix, or an object
    with ``.to_scipy()`` (:class:`bayesmix.ld` matrices)."""
    if hasattr(ld, "to_scipy"):
        ld = ld.to_scipy()
    matrix = sp.csr_array(ld, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise InputError(f"the LD matrix must be square (reference = tag SNPs), got shape "
                         f"{matrix.shape}")
    return matrix


def ld_blocks(ld) -> list[np.ndarray]:
    """Index arrays of the connected components of R (its LD blocks), in order of first SNP."""
    matrix = as_sparse_ld(ld)
    n_blocks, labels = connected_components(matrix, directed=False)
    order = np.argsort(labels, kind="stable")
    splits = np.flatnonzero(np.diff(labels[order])) + 1
    blocks = np.split(order, splits)
    return sorted(blocks, key=lambda idx: idx[0])


class LDSampler:
    """R factorised once, block by block, for repeated draws of z-scores.

    Each connected component (LD block) R_c = V diag(lambda) V' keeps its root
    V diag(sqrt(max(lambda, 0))): eigenvalues below 0 (rounding, or an indefinite thresholded
    matrix) are clipped, so the noise covariance is the nearest PSD version of each block.
    ``clipped`` is the sum of the clipped (negative) eigenvalues, 0 for a PSD matrix.
    """

    def __init__(self, ld):
        self.matrix = as_sparse_ld(ld)
        self.blocks = []
        self.clipped = 0.0
        with single_threaded_blas():
            for idx in ld_blocks(self.matrix):
                eigenvalues, vectors = np.linalg.eigh(self.matrix[idx][:, idx].toarray())
                self.clipped += float(eigenvalues[eigenvalues < 0].sum())
                self.blocks.append((idx, vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))))

    @property
    def n_snps(self) -> int:
        return self.matrix.shape[0]

    def noise(self, rng: np.random.Generator, *, n_traits: int = 1, rho0: float = 0.0) -> np.ndarray:
        """e ~ N(0, R), shape (M,); or (M, 2) with cov(e_1, e_2) = rho0 R for two traits."""
        if n_traits not in (1, 2):
            raise InputError(f"n_traits must be 1 or 2, got {n_traits}")
        if not -1.0 <= rho0 <= 1.0:
            raise InputError(f"rho0 must be in [-1, 1], got {rho0}")
        noise = np.zeros((self.n_snps, n_traits))
        for idx, root in self.blocks:
            u = rng.standard_normal((len(idx), n_traits))
            if n_traits == 2:
                u[:, 1] = rho0 * u[:, 0] + np.sqrt(1.0 - rho0**2) * u[:, 1]
            noise[idx] = root @ u
        return noise[:, 0] if n_traits == 1 else noise

    def zscores(self, b_std, n, *, rng: np.random.Generator, rho0: float = 0.0) -> np.ndarray:
        """z = sqrt(N) R b + e, e ~ N(0, R): see :func:`sumstats_from_ld`."""
        b = np.asarray(b_std, dtype=np.float64)
        single = b.ndim == 1
        b = b.reshape(len(b), -1)
        m, n_traits = b.shape
        if m != self.n_snps:
            raise InputError(f"{m} effects for an LD matrix of {self.n_snps} SNPs")
        n = np.asarray(n, dtype=np.float64)
        if n_traits == 2 and n.shape == (2,):
            n = n[None, :]
        elif n.ndim == 1:
            n = n[:, None]
        if n.ndim > 2 or not all(d in (1, s) for d, s in zip(n.shape, (m, n_traits))):
            raise InputError(f"GWAS sample size of shape {n.shape} does not fit {m} SNPs x "
                             f"{n_traits} traits")
        n = np.broadcast_to(n, (m, n_traits))
        if not (np.isfinite(n) & (n > 0)).all():
            raise InputError("GWAS sample sizes must be positive")
        mean = np.sqrt(n) * (self.matrix @ b)
        z = mean + self.noise(rng, n_traits=n_traits, rho0=rho0).reshape(m, n_traits)
        return z[:, 0] if single else z


def sumstats_from_ld(ld, b_std, n, *, rng: np.random.Generator, rho0: float = 0.0) -> np.ndarray:
    """z-scores of a GWAS of ``n`` people: z = sqrt(N) R b + e, e ~ N(0, R).

    Parameters
    ----------
    ld : R, the reference SNP correlation matrix (dense, scipy.sparse, ``.to_scipy()``, or
        an :class:`LDSampler` to reuse its factorisation across draws).
    b_std : (M,) or (M, 2) standardised joint effects (``Effects.b_std``), one column per
        trait.
    n : GWAS sample size: a scalar, a per-SNP (M,) array, or for two traits a pair / an
        (M, 2) array.
    rho0 : correlation of the two traits' noise (sample overlap, :func:`overlap_rho0`).

    Returns
    -------
    z : same shape as ``b_std``.
    """
    sampler = ld if isinstance(ld, LDSampler) else LDSampler(ld)
    return sampler.zscores(b_std, n, rng=rng, rho0=rho0)


def overlap_rho0(n1: float, n2: float, n_shared: float, phenotype_corr: float) -> float:
    """Correlation of two GWAS' z-score noise from sample overlap (Bulik-Sullivan et al. 2015):
    rho0 = N_s / sqrt(N_1 N_2) * corr(y_1, y_2)."""
    if not 0 <= n_shared <= min(n1, n2):
        raise InputError(f"shared samples ({n_shared}) must be between 0 and min(N1, N2)")
    return float(n_shared / np.sqrt(n1 * n2) * phenotype_corr)


def genetic_variance(ld, b_std) -> np.ndarray:
    """b' R b per trait: the genetic variance (h2) the standardised effects explain given LD."""
    b = np.asarray(b_std, dtype=np.float64)
    rb = as_sparse_ld(ld) @ b
    return (b * rb).sum(axis=0)


def sumstats_table(z, n, snps: pd.DataFrame) -> pd.DataFrame:
    """Canonical summary-statistics table (:mod:`bayesmix.io.sumstats`) for drawn z-scores.

    ``snps`` has columns snp chr bp a1 a2 freq (A1 frequency). With phenotype variance 1 and
    H = 2p(1-p), the per-allele statistics are SE = 1 / sqrt(H (N + z^2)) and BETA = z SE,
    which make GCTB's per-SNP phenotypic variance H (N SE^2 + BETA^2) exactly 1.
    P is two-sided normal.
    """
    z = np.asarray(z, dtype=np.float64)
    n = np.broadcast_to(np.asarray(n, dtype=np.float64), z.shape)
    freq = snps["freq"].to_numpy(dtype=np.float64)
    het = 2.0 * freq * (1.0 - freq)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(het > 0, 1.0 / np.sqrt(het * (n + z**2)), np.nan)
    table = pd.DataFrame({
        "SNP": snps["snp"].to_numpy(), "CHR": snps["chr"].to_numpy(), "BP": snps["bp"].to_numpy(),
        "A1": snps["a1"].to_numpy(), "A2": snps["a2"].to_numpy(), "FREQ": freq,
        "BETA": z * se, "SE": se, "Z": z, "P": 2.0 * stats.norm.sf(np.abs(z)), "N": n,
        "INFO": np.full(len(z), np.nan),
    })
    return table[CANONICAL_COLUMNS]


def block_diagonal_ld(genotypes, block_size: int = 200, *, dtype=np.float32) -> sp.csr_array:
    """Block-diagonal reference R from genotypes: correlations within contiguous blocks.

    SNPs ``[k*block_size, (k+1)*block_size)`` form block k (blocks never cross a
    chromosome); entries between blocks are 0. Each block is X_c' X_c / n with X_c the
    mean-imputed genotypes: Pearson correlations, so every block is PSD with unit diagonal
    (monomorphic SNPs get 1 on the diagonal and 0 elsewhere). For simulations: a simple
    stand-in for LD-block structure.
    """
    if block_size < 1:
        raise InputError(f"block_size must be positive, got {block_size}")
    chrom = genotypes.snps["chr"].to_numpy()
    starts = np.flatnonzero(np.r_[True, chrom[1:] != chrom[:-1]])
    bounds = []
    for begin, end in zip(starts, np.r_[starts[1:], len(chrom)]):
        bounds += [(s, min(s + block_size, end)) for s in range(begin, end, block_size)]
    blocks = []
    for start, stop in bounds:
        x = genotypes.read(slice(start, stop), standardize=False).astype(np.float64)
        x -= x.mean(axis=0)
        with single_threaded_blas():
            cross = x.T @ x
        norm = np.sqrt(np.diag(cross))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(np.outer(norm, norm) > 0, cross / np.outer(norm, norm), 0.0)
        np.fill_diagonal(r, 1.0)
        blocks.append(r.astype(dtype))
    return sp.csr_array(sp.block_diag([sp.coo_array(b) for b in blocks], format="csr"))
