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
(of a not-quite-PSD matrix) are clipped to 0, and e_c = V diag(sqrt(lambda)) u. A component
larger than ``max_block`` SNPs (a thresholded chromosome-wide matrix is often one component)
is cut into contiguous pieces of at most ``max_block`` SNPs, because an eigen-decomposition
costs O(size^3): the noise then keeps R exactly within each piece and drops the (weak,
long-range) noise correlation between pieces; R b always uses the whole matrix.

An LD store that keeps the LD below its threshold only as per-SNP weak-LD sums
(``LDMatrix.weak_ld``, the r2 kind) adds that part of the signal as
:func:`weak_ld_signal`, independently per SNP, as the convolve likelihood models it: with
the store's fourth-moment sums (``weak_ld4``) as pseudo-SNPs carrying the effects of random
SNPs, so a sparse trait's weak-LD signal is sparse too; without them as a Gaussian of the
variance the weak pairs give. Data drawn from such a store then match the model fitted with
it as in-sample LD (``--ld-in-sample``: the stored sums are then the truth, not noisy
estimates of a population's to calibrate). A Gaussian draw does not: at N = 1e6 it is
most of a null tag's variance, and a 40-causal trait drawn that way was fitted with ~300
causal SNPs and sig2_zero 2.7.

Pieces: :class:`LDSampler` (a given R, factorised once for repeated draws) and
:func:`draw_from_genotype_blocks` (block-diagonal R built block by block from genotypes,
never held) both return an :class:`LDDraw` (R b, independent noise, b'R b), from which
:meth:`LDDraw.zscores` applies N, an h2 rescaling and rho0. :func:`sumstats_table` turns z
into per-allele summary statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtr
from scipy.sparse.csgraph import connected_components

from bayesmix.errors import InputError
from bayesmix.io.sumstats import CANONICAL_COLUMNS
from bayesmix.kernels.blas import single_threaded_blas
from bayesmix.ld.weak_ld import weak_fourth_moments


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


#: Largest LD block (SNPs) eigen-decomposed whole when drawing noise; see the module docstring.
MAX_NOISE_BLOCK = 2000


def ld_blocks(ld, max_block: int | None = None) -> list[np.ndarray]:
    """Index arrays of the connected components of R (its LD blocks), in order of first SNP;
    with ``max_block``, components larger than that are cut into contiguous, near-equal
    pieces of at most ``max_block`` SNPs."""
    matrix = as_sparse_ld(ld)
    _, labels = connected_components(matrix, directed=False)
    order = np.argsort(labels, kind="stable")
    splits = np.flatnonzero(np.diff(labels[order])) + 1
    blocks = sorted(np.split(order, splits), key=lambda idx: idx[0])
    if max_block is None:
        return blocks
    pieces = []
    for idx in blocks:
        n_pieces = -(-len(idx) // max_block)
        pieces.extend(np.array_split(idx, n_pieces))
    return pieces


def psd_root(block: np.ndarray) -> tuple[np.ndarray, float]:
    """Root L of one LD block after clipping its negative eigenvalues, rescaled by row to keep
    the block's diagonal: R_c = V diag(lambda) V', L0 = V diag(sqrt(max(lambda, 0))), L = S L0
    with S = diag(sqrt(R_jj / (L0 L0')_jj)), so L L' is positive semi-definite with the
    diagonal of R_c. Returns L and the sum of the clipped eigenvalues (<= 0).

    Clipping alone adds sum_k |lambda_k| V_jk^2 to SNP j's noise variance, more where the LD
    is dense: on the shipped chr22's MiXeR LD (r^2 >= 0.05 within 10 Mb) 1.05 for the quarter
    of SNPs with the lowest LD scores and 1.12 for the highest, a slope along the LD score
    that a fit reads as heritability. A PSD matrix is unchanged (S = I)."""
    with single_threaded_blas():
        eigenvalues, vectors = np.linalg.eigh(block)
    clipped = float(eigenvalues[eigenvalues < 0].sum())
    root = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    if clipped < 0:
        kept = np.einsum("ij,ij->i", root, root)
        target = np.diagonal(block)
        root *= np.sqrt(np.divide(target, kept, out=np.ones_like(kept), where=kept > 0))[:, None]
    return root, clipped


@dataclass
class LDDraw:
    """The random ingredients of z for given effects, before N, scale and rho0 are applied.

    Attributes
    ----------
    rb : (M, T) R b_std per trait.
    noise : (M, T) independent N(0, R) vectors, one per trait.
    genetic_cov : (T, T) b' R b: genetic (co)variances the effects explain given LD.
    clipped : sum of clipped negative eigenvalues of R (0 for a PSD matrix).
    """

    rb: np.ndarray
    noise: np.ndarray
    genetic_cov: np.ndarray
    clipped: float

    def zscores(self, n, *, scale=1.0, rho0: float = 0.0) -> np.ndarray:
        """z = sqrt(N) R (scale b) + e, shape (M, T); for two traits
        e_2 = rho0 noise_1 + sqrt(1 - rho0^2) noise_2, so cov(e_1, e_2) = rho0 R.

        ``n``: scalar, per-SNP (M,), per-trait pair, or (M, T). ``scale`` multiplies each
        trait's effects (e.g. to reach a target h2 = scale^2 b'Rb).
        """
        m, n_traits = self.rb.shape
        if not -1.0 <= rho0 <= 1.0:
            raise InputError(f"rho0 must be in [-1, 1], got {rho0}")
        n = _per_snp_and_trait(n, m, n_traits)
        noise = self.noise.copy()
        if n_traits == 2:
            noise[:, 1] = rho0 * noise[:, 0] + np.sqrt(1.0 - rho0**2) * noise[:, 1]
        scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (n_traits,))
        return np.sqrt(n) * self.rb * scale + noise


def _per_snp_and_trait(n, m: int, n_traits: int) -> np.ndarray:
    """GWAS sample sizes broadcast to (M, T): scalar, (M,), (T,) pair, or (M, T)."""
    n = np.asarray(n, dtype=np.float64)
    if n_traits == 2 and n.shape == (2,):
        n = n[None, :]
    elif n.ndim == 1:
        n = n[:, None]
    if n.ndim > 2 or not all(d in (1, s) for d, s in zip(n.shape, (m, n_traits))):
        raise InputError(f"GWAS sample size of shape {n.shape} does not fit {m} SNPs x "
                         f"{n_traits} traits")
    if not (np.isfinite(n) & (n > 0)).all():
        raise InputError("GWAS sample sizes must be positive")
    return np.broadcast_to(n, (m, n_traits))


def _as_effect_columns(b_std) -> np.ndarray:
    b = np.asarray(b_std, dtype=np.float64)
    return b.reshape(len(b), -1)


class LDSampler:
    """R factorised once, block by block (:func:`psd_root` of each connected component, cut
    into pieces of at most ``max_block`` SNPs), for repeated draws of z-scores. ``clipped``
    sums the clipped negative eigenvalues; ``n_cut`` counts components that were cut."""

    def __init__(self, ld, max_block: int = MAX_NOISE_BLOCK):
        self.weak = getattr(ld, "weak_ld", None)
        self.weak4 = None
        if self.weak is not None:
            self.weak4 = weak_fourth_moments(self.weak, getattr(ld, "weak_ld4", None),
                                             getattr(ld, "meta", {}).get("r2min"))
            freq = ld.snps["freq"].to_numpy(dtype=np.float64)
            self.het = 2.0 * freq * (1.0 - freq)
        self.matrix = as_sparse_ld(ld)
        self.blocks = []
        self.clipped = 0.0
        self.n_cut = sum(len(idx) > max_block for idx in ld_blocks(self.matrix))
        for idx in ld_blocks(self.matrix, max_block):
            root, clipped = psd_root(self.matrix[idx][:, idx].toarray())
            self.clipped += clipped
            self.blocks.append((idx, root))

    @property
    def n_snps(self) -> int:
        return self.matrix.shape[0]

    def noise(self, rng: np.random.Generator, *, n_traits: int = 1, rho0: float = 0.0) -> np.ndarray:
        """e ~ N(0, R), shape (M,); or (M, 2) with cov(e_1, e_2) = rho0 R for two traits."""
        if n_traits not in (1, 2):
            raise InputError(f"n_traits must be 1 or 2, got {n_traits}")
        draw = self.draw(np.zeros((self.n_snps, n_traits)), rng)
        noise = draw.zscores(1.0, rho0=rho0)
        return noise[:, 0] if n_traits == 1 else noise

    def draw(self, b_std, rng: np.random.Generator) -> LDDraw:
        """R b (plus :func:`weak_ld_signal` when the store has weak-LD sums) and one
        independent N(0, R) noise vector per trait (column of ``b_std``)."""
        b = _as_effect_columns(b_std)
        if b.shape[0] != self.n_snps:
            raise InputError(f"{b.shape[0]} effects for an LD matrix of {self.n_snps} SNPs")
        if b.shape[1] not in (1, 2):
            raise InputError(f"effects for 1 or 2 traits expected, got {b.shape[1]}")
        noise = np.zeros(b.shape)
        for idx, root in self.blocks:
            noise[idx] = root @ rng.standard_normal((len(idx), b.shape[1]))
        rb = self.matrix @ b
        genetic_cov = b.T @ rb
        if self.weak is not None:
            rb = rb + weak_ld_signal(self.weak, self.het, b, rng, self.weak4)
        return LDDraw(rb, noise, genetic_cov, self.clipped)

    def zscores(self, b_std, n, *, rng: np.random.Generator, rho0: float = 0.0) -> np.ndarray:
        """z = sqrt(N) R b + e, e ~ N(0, R): see :func:`sumstats_from_ld`."""
        z = self.draw(b_std, rng).zscores(n, rho0=rho0)
        return z[:, 0] if np.ndim(b_std) == 1 else z


#: expected nonzero pseudo-SNP terms of a SNP above which :func:`weak_ld_signal` draws their
#: sum as a Gaussian: the excess kurtosis of a sum of n independent terms is 1/n of one
#: term's, and a polygenic trait's terms drawn one by one cost time and memory in proportion
PSEUDO_SNP_GAUSSIAN_ABOVE = 100.0

#: pseudo-SNP terms :func:`weak_ld_signal` draws at a time (~100 MB of work arrays)
PSEUDO_SNP_TERMS_PER_CHUNK = 1 << 22


def weak_ld_signal(weak, het, b_std, rng: np.random.Generator, weak4=None) -> np.ndarray:
    """The part of R b carried by LD below a store's threshold, (M, T), drawn per SNP.

    SNP j's part is sum_i r_ij b_i over its weak-LD partners i; of those the store keeps
    only weak_j = sum_i H_i r_ij^2 (``LDMatrix.weak_ld``) and, where it has them, the
    fourth-moment sums weak4_j = sum_i H_i^2 r_ij^4 (``weak_ld4``, capped by
    :func:`bayesmix.ld.weak_ld.weak_fourth_moments`). Per-allele effects are
    beta_i = b_i / sqrt(H_i), and C = mean_i beta_i beta_i' is their (co)variance over the M
    SNPs.

    - With weak4_j > 0 the part is drawn as the convolve likelihood models it
      (:func:`bayesmix.kernels.mixer.weak_pseudo_snps`): nu_j = weak_j^2 / weak4_j
      pseudo-partners (floor(nu_j), plus one with probability its fraction), each of LD
      x_j = weak4_j / weak_j in H r^2 units, carrying the per-allele effects of a reference
      SNP drawn uniformly (all traits' effects of the same SNP) times a random sign (that
      of r): the sum of +-sqrt(x_j) beta over them. Its covariance is weak_j C, and a
      sparse trait's part is sparse: most SNPs get none of the few causal effects, as real
      weak LD gives. Beyond :data:`PSEUDO_SNP_GAUSSIAN_ABOVE` expected nonzero terms the
      sum is drawn as a Gaussian of the same covariance.
    - Without (weak4 None or 0) it is N(0, weak_j C): the fast, full and bivariate
      likelihoods' Gaussian weak LD.
    """
    b = _as_effect_columns(b_std)
    het = np.asarray(het, dtype=np.float64)
    weak = np.asarray(weak, dtype=np.float64)
    weak4 = np.zeros_like(weak) if weak4 is None else np.asarray(weak4, dtype=np.float64)
    per_allele = np.divide(b, np.sqrt(het)[:, None], out=np.zeros_like(b),
                           where=het[:, None] > 0)
    cov = per_allele.T @ per_allele / len(b)
    root, _ = psd_root(cov)
    pseudo = (weak4 > 0.0) & (weak > 0.0)
    if not pseudo.any():   # Gaussian throughout (the draws of a store without weak4)
        return np.sqrt(weak)[:, None] * (rng.standard_normal(b.shape) @ root.T)
    nonzero = np.flatnonzero(np.any(per_allele != 0.0, axis=1))
    x = np.divide(weak4, weak, out=np.zeros_like(weak), where=pseudo)
    nu = np.divide(weak * weak, weak4, out=np.zeros_like(weak), where=pseudo)
    count = np.floor(nu)
    count += rng.random(len(nu)) < nu - count
    share = len(nonzero) / len(b)
    hits = rng.binomial(count.astype(np.int64), share)
    gaussian = ~pseudo | (nu * share > PSEUDO_SNP_GAUSSIAN_ABOVE)
    signal = np.zeros(b.shape)
    signal[gaussian] = np.sqrt(weak[gaussian])[:, None] * (
        rng.standard_normal((int(gaussian.sum()), b.shape[1])) @ root.T)
    drawn = np.flatnonzero(~gaussian & (hits > 0))
    ends = np.cumsum(hits[drawn])
    cuts = np.searchsorted(ends, np.arange(1, ends[-1] // PSEUDO_SNP_TERMS_PER_CHUNK + 1)
                           * PSEUDO_SNP_TERMS_PER_CHUNK, side="right") if len(drawn) else []
    for rows in np.split(drawn, cuts) if len(drawn) else []:
        n_terms = hits[rows]
        picks = nonzero[rng.integers(len(nonzero), size=int(n_terms.sum()))]
        owner = np.repeat(np.arange(len(rows)), n_terms)
        sign = rng.choice(np.array([-1.0, 1.0]), size=len(picks))   # the sign of r_ij
        for t in range(b.shape[1]):
            sums = np.bincount(owner, weights=sign * per_allele[picks, t], minlength=len(rows))
            signal[rows, t] = np.sqrt(x[rows]) * sums
    return signal


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


def draw_from_genotype_blocks(genotypes, b_std, *, rng: np.random.Generator,
                              block_size: int = 200, progress: bool = False) -> LDDraw:
    """:class:`LDDraw` for the block-diagonal LD of :func:`block_diagonal_ld`, one block at a
    time: each block's R_c is built from the genotypes, used and dropped, so memory is
    O(M + block_size^2) whatever the number of SNPs (no M x M matrix, not even sparse).
    Same blocks, values (float64) and random stream as ``LDSampler(block_diagonal_ld(...,
    dtype=np.float64)).draw(b_std, rng)``. ``progress``: progress over blocks
    (:mod:`bayesmix.progress`).
    """
    b = _as_effect_columns(b_std)
    if b.shape[0] != genotypes.n_snps:
        raise InputError(f"{b.shape[0]} effects for {genotypes.n_snps} SNPs", genotypes.prefix)
    rb = np.zeros(b.shape)
    noise = np.zeros(b.shape)
    clipped = 0.0
    from bayesmix.progress import track

    bounds = block_bounds(genotypes, block_size)
    for start, stop in track(bounds, desc="LD blocks", unit="blocks", progress=progress):
        r = block_correlation(genotypes, start, stop)
        root, block_clipped = psd_root(r)
        clipped += block_clipped
        rb[start:stop] = r @ b[start:stop]
        noise[start:stop] = root @ rng.standard_normal((stop - start, b.shape[1]))
    return LDDraw(rb, noise, b.T @ rb, clipped)


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
        "BETA": z * se, "SE": se, "Z": z, "P": 2.0 * ndtr(-np.abs(z)), "N": n,
        "INFO": np.full(len(z), np.nan),
    })
    return table[CANONICAL_COLUMNS]


def block_bounds(genotypes, block_size: int) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` SNP ranges of at most ``block_size`` that never cross a
    chromosome boundary."""
    if block_size < 1:
        raise InputError(f"block_size must be positive, got {block_size}")
    chrom = genotypes.snps["chr"].to_numpy()
    starts = np.flatnonzero(np.r_[True, chrom[1:] != chrom[:-1]])
    bounds = []
    for begin, end in zip(starts, np.r_[starts[1:], len(chrom)]):
        bounds += [(s, min(s + block_size, end)) for s in range(begin, end, block_size)]
    return bounds


def block_correlation(genotypes, start: int, stop: int) -> np.ndarray:
    """Pearson correlations (float64) of SNPs ``start:stop`` over the samples, from the
    mean-imputed allele counts; monomorphic SNPs get 1 on the diagonal and 0 elsewhere."""
    x = genotypes.read(slice(start, stop), standardize=False).astype(np.float64)
    x -= x.mean(axis=0)
    with single_threaded_blas():
        cross = x.T @ x
    norm = np.sqrt(np.diag(cross))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(np.outer(norm, norm) > 0, cross / np.outer(norm, norm), 0.0)
    np.fill_diagonal(r, 1.0)
    return r


def block_diagonal_ld(genotypes, block_size: int = 200, *, dtype=np.float32) -> sp.csr_array:
    """Block-diagonal reference R from genotypes: correlations within contiguous blocks.

    Blocks are :func:`block_bounds` (``block_size`` SNPs, restarting at each chromosome);
    entries between blocks are 0; each block is :func:`block_correlation`, so PSD with unit
    diagonal. For simulations: a simple stand-in for LD-block structure (for large M,
    :func:`draw_from_genotype_blocks` avoids holding the matrix).
    """
    blocks = [sp.coo_array(block_correlation(genotypes, start, stop).astype(dtype))
              for start, stop in block_bounds(genotypes, block_size)]
    return sp.csr_array(sp.block_diag(blocks, format="csr"))
