"""GWAS statistics rotated into the eigen space of block LD: the data of SBayes on eigen LD.

Scale (docs/design.md "SBayes"): standardised genotypes and phenotype. For LD block b
(SNPs of an :class:`~bayesmix.ld.eigen.EigenBlocks`) with kept eigenpairs
R_b ~ U_b diag(lambda_b) U_b' and standardised marginal effects b*_b
(:func:`~bayesmix.prepare.summary_data.standardised_effects`),

    w_b = diag(lambda_b)^-1/2 U_b' b*_b,   Q_b = diag(lambda_b)^1/2 U_b',

so that w_b = Q_b beta_b + e_b, e_b ~ N(0, sig2_b / n_b I) (:mod:`bayesmix.kernels.sbayes_eigen`).

SNPs of a block without GWAS statistics: the decomposition is that of the block's LD
restricted to the SNPs with statistics, R_oo ~ U_o diag(lambda) U_o' (U_o the rows of the
observed SNPs), re-decomposed exactly from the thin SVD of U_o diag(lambda)^1/2 (no new LD
is needed; the kept rank can only fall). GCTB's answer is ``--impute-summary``
(:func:`bayesmix.prepare.impute_summary.impute_summary`), which fills them in first.

``cutoff`` (GCTB's ``--ldm-eigen-cutoff``) keeps, per block, the fewest leading eigenvalues
whose sum reaches that share of the sum of the positive eigenvalues; it can only lower the
share the folder was built with.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.harmonise import QCReport, harmonise
from bayesmix.io.sumstats import require_sample_size
from bayesmix.kernels.sbayes_eigen import snp_sums_of_squares
from bayesmix.ld.eigen import kept_rank
from bayesmix.prepare.summary_data import MAX_VP_RATIO, PerSnpStatistics, per_snp_columns

# eigenvalues of a re-decomposed block below this share of its largest are numerically zero
RELATIVE_EIGENVALUE_FLOOR = 1e-10


@dataclass
class EigenSummaryData(PerSnpStatistics):
    """The rotated statistics and the Q_b of every block (see the module docstring).

    Attributes
    ----------
    stats : DataFrame, one row per SNP in block order: SNP CHR BP A1 A2 FREQ BETA SE Z N H V
        B_STD (as :class:`~bayesmix.prepare.summary_data.SummaryData`).
    block_ids : list of the blocks' names.
    block_ptr, rank_ptr, q_ptr : int64[B + 1], the layout of :mod:`bayesmix.kernels.sbayes_eigen`.
    q_values : float32, Q_b' of each block row-major (m_b x k_b).
    qq : float64[M], q_j'q_j, the LD diagonal the kept eigenpairs reproduce (<= 1).
    w : float64[sum_b k_b], the rotated marginal effects.
    eigenvalues : float64[sum_b k_b], lambda of each kept eigenvector (descending per block).
    share_total : float64[B], per block the eigenvalue sum the cut-off is a share of (the
        folder's sum of positive eigenvalues; that of the re-decomposition for blocks with
        SNPs missing).
    n_block : float64[B], n_b = median GWAS sample size of the block's SNPs.
    n : float64[M], per-SNP GWAS sample size.  nobs : median n.
    vp : median per-SNP phenotypic variance (phenotype units^2; 1.0 when unknown).
    cutoff : the eigenvalue share kept.  n_ref : size of the LD panel (None when unknown).
    qc : QCReport of the harmonisation.  notes : further lines for the log.
    noise_weights : float64[sum_b k_b] or None, d_t of the residual variance per eigen
        direction (:mod:`bayesmix.prepare.eigen_noise`); when set, ``w`` and ``q_values`` are
        divided by sqrt(d_t) and ``qq`` is that of the divided Q.
    unweighted_qq : float64[M] or None, the LD diagonal the eigenvectors keep when ``qq`` is
        that of noise-weighted Q (None: ``qq`` is it).
    """

    stats: pd.DataFrame
    block_ids: list
    block_ptr: np.ndarray
    rank_ptr: np.ndarray
    q_ptr: np.ndarray
    q_values: np.ndarray
    qq: np.ndarray
    w: np.ndarray
    eigenvalues: np.ndarray
    share_total: np.ndarray
    n_block: np.ndarray
    n: np.ndarray
    nobs: float
    vp: float
    cutoff: float
    n_ref: int | None = None
    qc: QCReport | None = None
    notes: list = field(default_factory=list)
    design_columns: list = field(default_factory=list)  # no fixed effects in summary data
    noise_weights: np.ndarray | None = None
    unweighted_qq: np.ndarray | None = None

    @property
    def n_blocks(self) -> int:
        return len(self.block_ptr) - 1

    @property
    def ranks(self) -> np.ndarray:
        """k_b, the eigenpairs kept per block."""
        return np.diff(self.rank_ptr)

    @property
    def ld_diagonal(self) -> np.ndarray:
        """q_j'q_j of the unweighted eigenvectors (M): the LD diagonal they keep (<= 1)."""
        return self.qq if self.unweighted_qq is None else self.unweighted_qq

    def squared_norm(self, rotated: np.ndarray) -> float:
        """|v|^2 of a vector of the rotated space given as held (divided by sqrt(d_t) when
        noise-weighted), e.g. |Q beta|^2 from the fitted values, or |w|^2."""
        rotated = np.asarray(rotated, np.float64)
        if self.noise_weights is None:
            return float(rotated @ rotated)
        return float(rotated @ (self.noise_weights * rotated))

    @property
    def block_of_snp(self) -> np.ndarray:
        """Block index of every SNP (M)."""
        return np.repeat(np.arange(self.n_blocks), np.diff(self.block_ptr))

    def q_block(self, b: int) -> np.ndarray:
        """Q_b' of block b as a float64 (m_b x k_b) array."""
        m_b = int(self.block_ptr[b + 1] - self.block_ptr[b])
        k = int(self.ranks[b])
        start = int(self.q_ptr[b])
        return np.asarray(self.q_values[start:start + m_b * k], np.float64).reshape(m_b, k)

    def at_cutoff(self, cutoff: float) -> "EigenSummaryData":
        """The same statistics on fewer eigenvectors: per block the fewest leading ones whose
        eigenvalues sum to more than ``cutoff`` of :attr:`share_total` (:func:`kept_rank`),
        what :func:`prepare_eigen_data` gives at that cut-off (w_b's entry t depends on
        eigenvector t alone, so w and Q are truncated, not recomputed). ``self`` when
        ``cutoff`` is not below :attr:`cutoff`."""
        if cutoff >= self.cutoff * (1 - 1e-6):
            return self
        if self.noise_weights is not None:
            raise ValueError("choose the cut-off before weighting the noise (the weights are "
                             "fitted on the kept directions)")
        ranks = np.empty(self.n_blocks, np.int64)
        for b in range(self.n_blocks):
            values = self.eigenvalues[self.rank_ptr[b]:self.rank_ptr[b + 1]]
            ranks[b] = kept_rank(values, cutoff, self.share_total[b])[0]
        sizes = np.diff(self.block_ptr)
        rank_ptr = np.concatenate([[0], np.cumsum(ranks)])
        q_ptr = np.concatenate([[0], np.cumsum(sizes * ranks)])
        q_values = np.empty(int(q_ptr[-1]), self.q_values.dtype)
        kept = np.zeros(int(self.rank_ptr[-1]), bool)
        for b in range(self.n_blocks):
            start = int(self.q_ptr[b])
            block = self.q_values[start:start + sizes[b] * self.ranks[b]]
            q_values[q_ptr[b]:q_ptr[b + 1]] = (
                block.reshape(sizes[b], self.ranks[b])[:, :ranks[b]].ravel())
            kept[self.rank_ptr[b]:self.rank_ptr[b] + ranks[b]] = True
        return replace(self, rank_ptr=rank_ptr, q_ptr=q_ptr, q_values=q_values,
                       qq=snp_sums_of_squares(self.block_ptr, rank_ptr, q_ptr, q_values),
                       w=self.w[kept], eigenvalues=self.eigenvalues[kept], cutoff=float(cutoff))

    def format_summary(self) -> str:
        """What the model sees, for the log: blocks, ranks, sample sizes."""
        ranks, sizes = self.ranks, np.diff(self.block_ptr)
        return "\n".join([
            "Data summary (eigen-decomposed LD):",
            f"  {self.n_snps} SNPs in {self.n_blocks} LD blocks (median {np.median(sizes):.0f} "
            f"SNPs, largest {sizes.max()}), {int(ranks.sum())} eigenvectors kept (median "
            f"{np.median(ranks):.0f} per block) at an eigenvalue share of {self.cutoff:g}",
            f"  LD diagonal kept by the eigenvectors: mean {self.qq.mean():.4f}, "
            f"min {self.qq.min():.4f}",
            f"  Median of per-SNP phenotypic variance: {self.vp:.6g}",
            f"  Median sample size: {self.nobs:.0f}"
            + (f"; LD panel of {self.n_ref} people" if self.n_ref else "")])


def restricted_decomposition(values, vectors, observed, cutoff: float) -> tuple:
    """Eigenpairs of U[observed] diag(values) U[observed]' (the kept LD of the observed SNPs),
    truncated at ``cutoff``: from the thin SVD of U[observed] diag(values)^1/2.
    Returns (eigenvalues descending, eigenvectors (m_o, k), the sum of the positive
    eigenvalues the cut-off is a share of)."""
    values = np.asarray(values, np.float64)
    factor = np.asarray(vectors, np.float64)[observed] * np.sqrt(np.maximum(values, 0.0))
    if factor.size == 0:
        return np.zeros(0), np.zeros((int(np.sum(observed)), 0)), 0.0
    left, singular, _ = np.linalg.svd(factor, full_matrices=False)
    new_values = singular**2
    keep = new_values > RELATIVE_EIGENVALUE_FLOOR * max(float(new_values.max(initial=0.0)), 1e-300)
    new_values, left = new_values[keep], left[:, keep]
    k, total = kept_rank(new_values, cutoff)
    return new_values[:k], left[:, :k], total


def prepare_eigen_data(sumstats: pd.DataFrame, eigen, *, cutoff: float | None = None,
                       impute_n: bool = False, max_vp_ratio: float | None = MAX_VP_RATIO,
                       **harmonise_options) -> EigenSummaryData:
    """Harmonise GWAS statistics to the SNPs of ``eigen`` and rotate them block by block.

    Parameters
    ----------
    sumstats : canonical table from :func:`bayesmix.io.sumstats.read_sumstats` (Z or BETA/SE,
        and N).
    eigen : :class:`~bayesmix.ld.eigen.EigenBlocks` (one or several chromosomes).
    cutoff : eigenvalue share to keep per block (None: all the folder keeps). Must not exceed
        the share the folder was built with.
    impute_n, max_vp_ratio, **harmonise_options : as in
        :func:`~bayesmix.prepare.summary_data.prepare_summary_data`.

    SNPs of the statistics absent from the LD are dropped (QC report); blocks with SNPs
    without statistics are re-decomposed on the observed ones (module docstring; counted in
    ``qc.notes``). Blocks left without any observed SNP, or without a positive eigenvalue,
    are dropped.
    """
    built = float(eigen.meta.get("prop", 1.0))
    cutoff = built if cutoff is None else float(cutoff)
    if not 0 < cutoff <= 1:
        raise InputError(f"the eigenvalue cut-off must be in (0, 1], not {cutoff}")
    if cutoff > built * (1 + 1e-9):
        raise InputError(f"the eigenvalue cut-off {cutoff:g} is above the {built:g} the LD "
                         "eigen folder was built with; build it again with a higher cut-off")
    source = sumstats.attrs.get("path")
    require_sample_size(sumstats, "add an N column, or write a .ma with N (bayesmix munge "
                        "--n N)")
    aligned, report = harmonise(sumstats, eigen.snps, fill_freq=True, impute_n=impute_n,
                                max_vp_ratio=None if impute_n else max_vp_ratio,
                                **harmonise_options)
    if aligned.empty:
        raise InputError("no SNP left after matching the summary statistics to the LD eigen "
                         f"folder ({len(eigen.snps)} SNPs); QC:\n{report}", source)
    ref_index = aligned["REF_INDEX"].to_numpy()
    row_of_ref = np.full(len(eigen.snps), -1, np.int64)
    row_of_ref[ref_index] = np.arange(len(aligned))
    columns = per_snp_columns(aligned.drop(columns="REF_INDEX"),
                              eigen.snps["freq"].to_numpy(np.float64)[ref_index])
    b_std = columns["B_STD"].to_numpy(np.float64)
    n_all = columns["N"].to_numpy(np.float64)

    order, ids, block_ptr, rank_ptr, q_ptr = [], [], [0], [0], [0]
    w_parts, value_parts, share_total, n_block = [], [], [], []
    # Q of every block, filled in place: no block has more entries than its eigenvectors, and
    # the pages never written are never resident (one copy of Q, not parts plus their join)
    q_values = np.empty(int(eigen.vector_ptr[-1]), np.float32)
    block_names = eigen.meta.get("blocks", [str(i) for i in range(eigen.n_blocks)])
    redone = dropped_snps = 0
    for b in range(eigen.n_blocks):
        lo, hi = int(eigen.block_ptr[b]), int(eigen.block_ptr[b + 1])
        rows = row_of_ref[lo:hi]
        observed = rows >= 0
        if not observed.any():
            continue
        if observed.all():
            values, vectors = eigen.kept(b, cutoff)
            total = float(eigen.positive_sum[b])
        else:
            redone += 1
            values, vectors, total = restricted_decomposition(
                *eigen.kept(b), observed, cutoff if cutoff < built * (1 - 1e-6) else 1.0)
        rows = rows[observed]
        if len(values) == 0:
            dropped_snps += len(rows)
            continue
        q = q_values[q_ptr[-1]:q_ptr[-1] + vectors.size].reshape(vectors.shape)
        q[:] = vectors * np.sqrt(values)  # Q_b' (m_b x k_b), float32
        order.append(rows)
        ids.append(block_names[b])
        block_ptr.append(block_ptr[-1] + len(rows))
        rank_ptr.append(rank_ptr[-1] + len(values))
        q_ptr.append(q_ptr[-1] + q.size)
        w_parts.append((vectors.T @ b_std[rows]) / np.sqrt(values))
        value_parts.append(values)
        share_total.append(total)
        n_block.append(float(np.median(n_all[rows])))
    if not order:
        raise InputError("no LD block has SNPs with summary statistics", source)
    order = np.concatenate(order)
    stats = columns.iloc[order].reset_index(drop=True)
    n = stats["N"].to_numpy(np.float64)
    missing = len(eigen.snps) - len(aligned)
    report.notes.append(f"{missing} of {len(eigen.snps)} LD SNPs have no summary statistics "
                        f"after QC; {redone} blocks were re-decomposed without them "
                        "(--impute-summary imputes them instead)")
    if dropped_snps:
        report.steps.append(("in an LD block without a positive eigenvalue", dropped_snps))
    v = stats["V"].to_numpy(np.float64)
    n_ref = eigen.meta.get("n_samples")
    block_ptr, rank_ptr, q_ptr = (np.asarray(p, np.int64) for p in (block_ptr, rank_ptr, q_ptr))
    q_values = q_values[:q_ptr[-1]]
    return EigenSummaryData(
        stats=stats, block_ids=ids, block_ptr=block_ptr, rank_ptr=rank_ptr, q_ptr=q_ptr,
        q_values=q_values, qq=snp_sums_of_squares(block_ptr, rank_ptr, q_ptr, q_values),
        w=np.concatenate(w_parts), eigenvalues=np.concatenate(value_parts),
        share_total=np.asarray(share_total, np.float64), n_block=np.asarray(n_block), n=n,
        nobs=float(np.median(n)),
        vp=float(np.median(v)) if np.isfinite(v).all() else 1.0, cutoff=cutoff,
        n_ref=int(n_ref) if n_ref else None, qc=report)
