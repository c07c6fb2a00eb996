"""The compact genotype matrix of the Gibbs samplers: int8 allele counts, standardised on the fly.

:class:`CompactGenotypes` holds the arrays that the numba kernels of
:mod:`bayesmix.kernels.genotype_matrix` read (its docstring has the scales: x_ij =
scale_j (g_ij - center_j), 0 for a missing genotype).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesmix.kernels.genotype_matrix import column_moments, genotype_matvec, genotype_rmatvec


@dataclass
class CompactGenotypes:
    """An n x M standardised (or centred) genotype matrix held as int8 allele counts.

    Attributes
    ----------
    codes : (n, M) int8, Fortran order; A1 counts, 0 where missing.
    center : (M,) float64; 2 p_j, the mean A1 count over observed genotypes.
    scale : (M,) float64; 1 / sqrt(2 p_j (1 - p_j)) when standardised, 1 when centred only,
        0 for monomorphic SNPs.
    missing_ptr : (M + 1,) int64 and missing_idx : int32; rows of missing genotypes per SNP.
    xtx : (M,) float64; x_j'x_j of the (standardised) column.
    colsum : (M,) float64; sum_i x_ij (0 up to rounding).
    standardized : bool; True if columns are scaled to unit heterozygosity.
    """

    codes: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    missing_ptr: np.ndarray
    missing_idx: np.ndarray
    xtx: np.ndarray
    colsum: np.ndarray
    standardized: bool = True

    @property
    def n_samples(self) -> int:
        return self.codes.shape[0]

    @property
    def n_snps(self) -> int:
        return self.codes.shape[1]

    @property
    def freq(self) -> np.ndarray:
        """A1 frequency p_j over observed genotypes (float64)."""
        return self.center / 2.0

    @property
    def heterozygosity(self) -> np.ndarray:
        """H_j = 2 p_j (1 - p_j) (float64)."""
        p = self.freq
        return 2.0 * p * (1.0 - p)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.codes, self.center, self.scale, self.missing_ptr,
                                      self.missing_idx, self.xtx, self.colsum))

    @classmethod
    def from_dosages(cls, dosages, *, standardize: bool = True) -> "CompactGenotypes":
        """Build from an (n, M) array of A1 counts; NaN (or any non-integer) marks missing.

        Non-integer values are what a mean-imputing reader leaves for missing genotypes;
        treating them as missing reproduces mean imputation exactly.
        """
        return cls.from_blocks(np.shape(dosages)[0], [np.asarray(dosages)], standardize=standardize)

    @classmethod
    def from_plink(cls, genotypes, *, standardize: bool = True, block_size: int = 1024):
        """Build from a :class:`bayesmix.io.plink.Genotypes` (read in SNP blocks)."""
        blocks = (b for _, _, b in genotypes.iter_blocks(block_size, standardize=False))
        return cls.from_blocks(genotypes.n_samples, blocks, standardize=standardize,
                               n_snps=genotypes.n_snps)

    @classmethod
    def from_blocks(cls, n: int, blocks, *, standardize: bool = True,
                    n_snps: int | None = None) -> "CompactGenotypes":
        """Build from an iterable of (n, k) A1-count blocks (consecutive SNPs).

        With ``n_snps`` given the int8 matrix is filled in place (peak memory n x M bytes);
        otherwise blocks are collected and joined (twice that, briefly).
        """
        code_blocks, miss_rows, miss_counts = [], [], []
        codes = None if n_snps is None else np.zeros((n, n_snps), dtype=np.int8, order="F")
        filled = 0
        for block in blocks:
            block = np.asarray(block, dtype=np.float64)
            if block.ndim != 2 or block.shape[0] != n:
                raise ValueError(f"genotype block of shape {block.shape}, expected ({n}, k)")
            rounded = np.rint(block)
            missing = ~np.isfinite(block) | (np.abs(block - rounded) > 1e-6) | (rounded < 0) | (rounded > 2)
            block_codes = np.where(missing, 0, rounded).astype(np.int8)
            if codes is None:
                code_blocks.append(block_codes)
            else:
                if filled + block.shape[1] > n_snps:
                    raise ValueError(f"more than n_snps = {n_snps} columns in the blocks")
                codes[:, filled:filled + block.shape[1]] = block_codes
            filled += block.shape[1]
            for j in range(block.shape[1]):
                rows = np.flatnonzero(missing[:, j]).astype(np.int32)
                miss_rows.append(rows)
                miss_counts.append(len(rows))
        if codes is None:
            codes = (np.asfortranarray(np.concatenate(code_blocks, axis=1)) if code_blocks
                     else np.zeros((n, 0), np.int8, order="F"))
        elif filled != n_snps:
            raise ValueError(f"blocks held {filled} SNPs, expected n_snps = {n_snps}")
        m = codes.shape[1]
        missing_ptr = np.zeros(m + 1, dtype=np.int64)
        missing_ptr[1:] = np.cumsum(miss_counts)
        missing_idx = np.concatenate(miss_rows) if miss_rows else np.zeros(0, np.int32)
        center, scale, xtx, colsum = np.empty(m), np.empty(m), np.empty(m), np.empty(m)
        column_moments(codes, missing_ptr, missing_idx, standardize, center, scale, xtx, colsum)
        return cls(codes, center, scale, missing_ptr, missing_idx.astype(np.int32), xtx, colsum,
                   bool(standardize))

    def dense(self, columns=slice(None)) -> np.ndarray:
        """The (n, k) float64 design matrix of the given columns (for tests and small data)."""
        cols = np.arange(self.n_snps)[columns]
        out = np.empty((self.n_samples, len(cols)))
        for k, j in enumerate(cols):
            x = (self.codes[:, j] - self.center[j]) * self.scale[j]
            x[self.missing_idx[self.missing_ptr[j]:self.missing_ptr[j + 1]]] = 0.0
            out[:, k] = x
        return out

    def matvec(self, beta) -> np.ndarray:
        """X beta (length n, float64); skips zero entries of ``beta``."""
        out = np.zeros(self.n_samples)
        genotype_matvec(self.codes, self.center, self.scale, self.missing_ptr, self.missing_idx,
                        np.ascontiguousarray(beta, dtype=np.float64), out)
        return out

    def rmatvec(self, v) -> np.ndarray:
        """X' v (length M, float64)."""
        out = np.empty(self.n_snps)
        genotype_rmatvec(self.codes, self.center, self.scale, self.missing_ptr, self.missing_idx,
                         np.ascontiguousarray(v, dtype=np.float64), out)
        return out
