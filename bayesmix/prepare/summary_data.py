"""Summary-data normal equations for SBayes: GWAS statistics harmonised to a square LD matrix.

Scale (docs/design.md "SBayes"): genotypes standardised to variance 1 and the phenotype to
variance 1. For SNP j with per-allele effect b_j, its SE se_j, sample size n_j and A1
frequency p_j (H_j = 2 p_j (1 - p_j)):

- per-SNP phenotypic variance  V_j = H_j (n_j se_j^2 + b_j^2)  (phenotype units^2),
- standardised marginal effect  b*_j = b_j sqrt(H_j / V_j) = z_j / sqrt(n_j + z_j^2)
  (the exact least-squares coefficient of the standardised phenotype on the standardised
  genotype; needs only z and n, so an error in the GWAS frequency cannot distort it),
- X'y_j = n_j b*_j,   (X'X)_ij = sqrt(n_i n_j) R_ij,   y'y = nobs = median_j n_j
  (GCTB's median-based y'y, here on the standardised scale where y'y / n = 1).

Per-allele effects in phenotype units are b*_j sqrt(Vp / H_j) with Vp = median_j V_j (GCTB's
"median of per-SNP phenotypic variance"). The LD sampling variance of GCTB (used by the robust
residual variance of :mod:`bayesmix.models.sbayes`) is

    LDsamplVar_j = (n_j + n_ref) / M * sum_i (1 - r_ij^2)^2 / n_ref + (M - nnz_j) / M,

summed over the stored entries i of row j (nnz_j of them) for an LD panel of n_ref people.
It is the variance, in units of GenVar, that the difference between the GWAS sample's LD and
the reference's adds to SNP j's residual: an estimated r differs from the population's by
variance (1 - r^2)^2 / n in a sample of n people, so a GWAS sample and an independent
reference differ by (1 - r^2)^2 (1 / n_j + 1 / n_ref) per stored entry (the first term), and
an entry not stored is r = 0 in the model but has variance 1 / n_j in the GWAS sample (the
second). With in-sample LD (the reference panel IS the GWAS sample) the stored entries are
the GWAS sample's own and the first term is 0 (``ld_in_sample``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.harmonise import QCReport, harmonise
from bayesmix.io.sumstats import require_sample_size
from bayesmix.kernels.ld_band import band_row_statistics
from bayesmix.kernels.sbayes import row_ld_statistics
from bayesmix.ld.store import LDMatrix


class PerSnpStatistics:
    """What every summary-data container derives from its ``stats`` table (one row per SNP:
    SNP CHR BP A1 A2 FREQ H V B_STD ..., see :func:`per_snp_columns`) and its ``vp``."""

    @property
    def n_snps(self) -> int:
        return len(self.stats)

    @property
    def snps(self) -> pd.DataFrame:
        """SNP table chr, snp, bp, a1, a2 (A1 = effect allele of every effect reported)."""
        s = self.stats
        return pd.DataFrame({"chr": s["CHR"].astype(str).to_numpy(), "snp": s["SNP"].to_numpy(),
                             "bp": s["BP"].to_numpy(), "a1": s["A1"].to_numpy(),
                             "a2": s["A2"].to_numpy()})

    @property
    def freq(self) -> np.ndarray:
        """A1 frequency used for H (GWAS FREQ, else the LD reference's)."""
        return self.stats["FREQ"].to_numpy(np.float64)

    @property
    def het(self) -> np.ndarray:
        """H_j = 2 p_j (1 - p_j) of the A1 frequency used for per-allele conversions."""
        return self.stats["H"].to_numpy(np.float64)

    @property
    def prior_het(self) -> np.ndarray:
        """H_j of the prior's per-SNP weights (SBayesS's H_j^S, ``--unscale-genotype``): the
        A1 frequency's H_j here (as GCTB on eigen LD)."""
        return self.het

    def per_allele(self, beta_std) -> np.ndarray:
        """Standardised effects -> per-allele effects of A1 in phenotype units."""
        return np.asarray(beta_std) * np.sqrt(self.vp / self.het)


@dataclass
class SummaryData(PerSnpStatistics):
    """Normal equations of the summary-data model for the SNPs kept, in LD-matrix order.

    Attributes
    ----------
    stats : DataFrame, one row per SNP: SNP CHR BP A1 A2 FREQ (A1 frequency used for H) BETA SE
        Z N (per-allele GWAS statistics aligned to the LD A1), plus H, V (per-SNP phenotypic
        variance), B_STD (standardised marginal effect).
    ld : square LDMatrix of the same SNPs (R).
    n : float64[M], per-SNP GWAS sample size.
    xty : float64[M], X'y_j = n_j b*_j.
    xtx_diag : float64[M], (X'X)_jj = n_j R_jj.
    nobs : float, median n_j (the "number of individuals" of the summary-data model).
    yty : float, y'y = nobs on the standardised scale.
    vp : float, median_j V_j (phenotype units^2; 1.0 when b/se/freq are not available).
    ld_score : float64[M], sum_i r_ij^2 over the stored entries of row j.
    ld_sampling_var : float64[M], GCTB's LDsamplVar_j (NaN when the LD panel size is unknown;
        only the term of entries not stored when ``ld_in_sample``).
    ld_in_sample : bool, the LD was computed on the GWAS individuals themselves (see
        :func:`summary_data_from_aligned`).
    qc : QCReport of the harmonisation (and LD SNPs without statistics, in ``qc.notes``).
    """

    stats: pd.DataFrame
    ld: LDMatrix
    n: np.ndarray
    xty: np.ndarray
    xtx_diag: np.ndarray
    nobs: float
    yty: float
    vp: float
    ld_score: np.ndarray
    ld_sampling_var: np.ndarray
    ld_in_sample: bool = False
    qc: QCReport | None = None
    notes: list = field(default_factory=list)
    design_columns: list = field(default_factory=list)  # no fixed effects in summary data

    @cached_property
    def prior_het(self) -> np.ndarray:
        """H_j of the prior's per-SNP weights (SBayesS's H_j^S, ``--unscale-genotype``), as
        GCTB on an LD matrix (``Data::buildSparseMME``, where it is "more reliable than input
        allele frequencies"): the heterozygosity that gives SNP j the median phenotypic
        variance, Vp / (N_j SE_j^2 + BETA_j^2) = H_j Vp / V_j; H_j where V_j is unknown (no
        BETA and SE). Per-allele effects still use the frequency's H_j, as GCTB's."""
        v = self.stats["V"].to_numpy(np.float64)
        known = np.isfinite(v) & (v > 0)
        return np.where(known, self.vp * self.het / np.where(known, v, 1.0), self.het)

    def summary_table(self) -> pd.DataFrame:
        """GCTB's "Data summary": mean and SD over SNPs of the inputs of the model (the
        heterozygosity is the prior's, :attr:`prior_het`, as GCTB prints it)."""
        rows = {
            "GWAS SNP phenotypic variance": self.stats["V"],
            "GWAS SNP heterozygosity": self.prior_het,
            "GWAS SNP sample size": self.n,
            "GWAS SNP effect": self.stats["BETA"],
            "GWAS SNP SE": self.stats["SE"],
            "MME left-hand-side diagonals": self.xtx_diag,
            "MME right-hand-side": self.xty,
            "LD sampling variance": self.ld_sampling_var,
            "LD score": self.ld_score,
        }
        moments = [_mean_sd(np.asarray(v, np.float64)) for v in rows.values()]
        return pd.DataFrame(moments, columns=["mean", "sd"],
                            index=pd.Index(list(rows), name="statistic"))

    def format_summary(self) -> str:
        """The data summary as GCTB prints it (``Data summary:`` then mean/sd rows)."""
        lines = ["Data summary:", f"{'':>40} {'mean':>10} {'sd':>10}"]
        for name, (mean, sd) in self.summary_table().iterrows():
            lines.append(f"{name:>40} {mean:>10.4g} {sd:>10.4g}")
        lines.append(f"  Median of per-SNP phenotypic variance: {self.vp:.6g}")
        lines.append(f"  Number of SNPs: {self.n_snps}; median sample size: {self.nobs:.0f}")
        return "\n".join(lines)


def _mean_sd(values: np.ndarray) -> tuple[float, float]:
    """Mean and SD (ddof 1) of the finite values; NaN when there are none (e.g. the LD
    sampling variance of LD without a panel size), SD 0 for a single value."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.nan, np.nan
    return float(finite.mean()), float(finite.std(ddof=1)) if finite.size > 1 else 0.0


MAX_VP_RATIO = 4.0
"""Default of ``max_vp_ratio`` in :func:`prepare_summary_data`: a SNP whose per-SNP
phenotypic variance is 4 times above (or below) the median claims, with a sane SE, to explain
3/4 of the trait's variance alone (b*^2 = 1 - 1/4; see the function's docstring)."""

N_OUTLIER_SD = 3.0
"""Default of ``n_outlier_sd`` in :func:`prepare_summary_data`: GCTB's SBayes on an LD matrix
(``--ldm`` / ``--mldm``) always drops SNPs whose per-SNP N is more than 3 SD from the median N
(``Data::readGwasSummaryFile`` with ``removeOutlierN`` true, gctb.cpp's ``inputSnpInfo``)."""


def prepare_summary_data(sumstats: pd.DataFrame, ld: LDMatrix, *, impute_n: bool = False,
                         rsq: float | None = None, ld_in_sample: bool | None = None,
                         max_vp_ratio: float | None = MAX_VP_RATIO,
                         n_outlier_sd: float | None = N_OUTLIER_SD,
                         **harmonise_options) -> SummaryData:
    """Harmonise GWAS statistics to ``ld`` and build the summary-data normal equations.

    Parameters
    ----------
    sumstats : canonical table from :func:`bayesmix.io.sumstats.read_sumstats` (needs Z or
        BETA/SE, and N).
    ld : square LDMatrix (rows = columns = reference SNPs), e.g. ``LDMatrix.load(path)``.
    impute_n : GCTB's ``--impute-n`` (for files that give one average N for every SNP):
        after the other QC rules, each SNP's N becomes the one its BETA, SE and frequency
        imply, N_j = (Vy - H_j b_j^2) / (H_j se_j^2) with Vy = median_j H_j N_j (N_j se_j^2 +
        b_j^2) / median_j N_j, and SNPs whose imputed N is outside median +- 3 SD are
        dropped, iterated as GCTB does (:func:`bayesmix.io.impute_n.impute_per_snp_n`;
        counted in the QC report, details in ``qc.imputed_n``).
    rsq : GCTB's ``--rsq``: after matching, drop SNPs until no two kept SNPs have LD
        r^2 > ``rsq``, keeping the smaller GWAS p-value of a pair (the P column; the normal
        p-value of Z where it is missing)
        (:func:`bayesmix.ld.pruning.high_ld_filter`; counted in the QC report).
    ld_in_sample : the LD panel is the GWAS sample itself (True), an independent reference
        (False), or None: decide from the sample sizes (:func:`summary_data_from_aligned`).
    max_vp_ratio : drop, and count in the QC report, SNPs whose per-SNP phenotypic variance
        V_j = H_j (n_j se_j^2 + b_j^2) is more than this factor above or below the median
        (harmonisation rule 13, docs/formats.md; None: keep them). With a correct SE,
        n_j se_j^2 H_j ~ Vp and V_j / Vp = 1 / (1 - b*_j^2), so the default 4 drops a SNP
        claiming that it alone explains more than 3/4 of the phenotypic variance (b = 50 with
        se = 0.01: the standardised effect b*_j = z_j / sqrt(n_j + z_j^2) is ~1 and the
        chain diverges); V_j below Vp / 4 means an N, SE or frequency off by 4-fold. GCTB
        prints the mean and SD of V_j in its data summary without filtering. SNPs without
        BETA/SE (z-only files) are not tested. Not applied with ``impute_n``: a per-SNP N off
        by a factor shifts V_j by that factor, and --impute-n replaces N (making every V_j
        equal to Vp) and drops its own outliers.
    n_outlier_sd : drop, and count in the QC report, SNPs whose N (the file's) is more than
        this many SD from the median N (harmonisation rule 14: GCTB's median, the upper
        middle value, and population SD over the SNPs still kept; None: keep them). GCTB's
        SBayes on an LD matrix always applies this with 3 SD, after matching the alleles and
        after ``--p-value``, before ``--impute-n`` (a file with one N for every SNP loses
        nothing: its SD is 0).
    **harmonise_options : passed to :func:`bayesmix.io.harmonise.harmonise` (exclude_mhc,
        exclude_regions, keep_ambiguous, min_maf, max_freq_diff, ...). Frequencies missing
        from the statistics are taken from the LD reference.

    SNPs of the statistics absent from the LD, and LD SNPs without (kept) statistics, are
    dropped; the counts are in the returned ``qc`` report (the latter in ``qc.notes``).
    """
    if not ld.is_square:
        raise InputError(f"SBayes needs a square LD matrix (rows = columns); got {ld.shape}")
    ld.refuse_upper_triangle("SBayes")
    source = sumstats.attrs.get("path")
    require_sample_size(sumstats, "add an N column, or write a .ma with N (bayesmix munge "
                        "--n N)")
    options = {"fill_freq": True, "max_vp_ratio": None if impute_n else max_vp_ratio,
               "n_outlier_sd": n_outlier_sd, **harmonise_options}
    aligned, report = harmonise(sumstats, ld.snps, impute_n=impute_n, **options)
    if aligned.empty:
        raise InputError("no SNP left after matching the summary statistics to the LD matrix "
                         f"({ld.shape[0]} LD SNPs); QC:\n{report}", source)
    n_ld = ld.shape[0]
    n_missing_stats = n_ld - len(aligned)
    report.notes.append(f"{n_missing_stats} of {n_ld} LD SNPs have no summary statistics after "
                        "QC and were removed from the LD matrix")
    ref_index = aligned["REF_INDEX"].to_numpy()
    if n_missing_stats:
        ld = ld.subset(ld.snps["snp"].to_numpy()[ref_index])
    if rsq is not None:
        aligned, ld = _filter_high_ld(aligned, ld, rsq, report)
    return summary_data_from_aligned(aligned.drop(columns="REF_INDEX"), ld, qc=report,
                                     ld_in_sample=ld_in_sample)


def gwas_p_values(sumstats):
    """The P column, the normal p-value of Z where it is missing (as ``--rsq`` ranks SNPs; a
    missing P was kept by any ``--p-value``); NaN where Z is missing too (the QC drops
    those SNPs). The normal tail is ``scipy.special.ndtr(-|z|)``, the very function
    ``scipy.stats.norm.sf`` calls, without importing scipy.stats (0.6 s of a command)."""
    from scipy.special import ndtr

    z = sumstats["Z"].to_numpy(np.float64) if "Z" in sumstats else np.full(len(sumstats), np.nan)
    p = (sumstats["P"].to_numpy(np.float64) if "P" in sumstats
         else np.full(len(sumstats), np.nan))
    return np.where(np.isfinite(p), p, 2.0 * ndtr(-np.abs(z)))


def _filter_high_ld(aligned: pd.DataFrame, ld: LDMatrix, rsq: float,
                    report: QCReport) -> tuple[pd.DataFrame, LDMatrix]:
    """GCTB's --rsq on statistics aligned to ``ld`` (same SNPs and order)."""
    from bayesmix.ld.pruning import high_ld_filter

    # GCTB ranks by the file's p-values (ties included); where missing, the normal p of Z
    kept, n_dropped = high_ld_filter(ld.to_csr(), rsq, gwas_p_values(aligned))
    report.steps.append((f"in LD r^2 > {rsq:g} with a more significant SNP (--rsq)", n_dropped))
    if not n_dropped:
        return aligned, ld
    return (aligned.loc[kept].reset_index(drop=True),
            ld.subset(ld.snps["snp"].to_numpy()[kept]))


def summary_data_from_aligned(aligned: pd.DataFrame, ld: LDMatrix, *, qc=None,
                              ld_in_sample: bool | None = None) -> SummaryData:
    """Build :class:`SummaryData` from statistics already aligned to ``ld`` (same SNPs, order).

    ``ld_in_sample=None`` treats the LD as in-sample when the LD panel size n_ref is known and
    the largest per-SNP GWAS N lies in [0.9 n_ref, n_ref]: a GWAS of the reference panel's
    own people (per-SNP N at most the panel size, lower where calls are missing, so that even
    a panel with missing calls at every SNP is recognised), unless the LD is shrunk (its
    entries are not the sample's own correlations: a GWAS of 503 people with shrunk LD of the
    same people diverged when taken as in-sample). An independent reference within 10% of the
    GWAS's size is the only case this misjudges; pass False then. Pass True for statistics
    drawn from the LD matrix itself (``bayesmix simulate --n-gwas N --ld``).
    """
    if len(aligned) != ld.shape[0] or not (aligned["SNP"].to_numpy()
                                           == ld.snps["snp"].to_numpy()).all():
        raise ValueError("aligned statistics and LD matrix list different SNPs")
    snps = per_snp_columns(aligned, ld.snps["freq"].to_numpy(np.float64))
    n = snps["N"].to_numpy(np.float64)
    v, b_std = snps["V"].to_numpy(np.float64), snps["B_STD"].to_numpy(np.float64)
    diag = ld.diagonal().astype(np.float64)
    if (diag <= 0).any():
        j = int(np.flatnonzero(diag <= 0)[0])
        raise InputError(f"LD matrix has no positive diagonal entry for SNP {snps['SNP'].iloc[j]}")
    indptr = np.asarray(ld.indptr)
    if ld.is_band:
        ld_score, samp, stored = band_row_statistics(indptr, ld.row_first, np.asarray(ld.data),
                                                     ld.scale)
    else:
        ld_score, samp = row_ld_statistics(indptr, np.asarray(ld.data), ld.scale)
        stored = np.diff(indptr)
    if ld.gctb_window is not None:
        # GCTB sums over every SNP of the row's stored window (Data::readMultiLDmatBinFile):
        # an entry not held (int16 code 0, |r| < 1.5e-5, or an exact 0) adds (1 - r^2)^2 = 1
        # (to within 5e-10) and counts as stored
        window = (ld.gctb_window[:, 1] - ld.gctb_window[:, 0] + 1).astype(np.int64)
        samp = samp + (window - stored)
        stored = window
    n_ref = ld.n_samples or _panel_size(ld)
    m = len(snps)
    if ld_in_sample is None:
        ld_in_sample = (bool(n_ref) and 0.9 * n_ref <= float(np.max(n)) <= float(n_ref)
                        and ld.kind != "shrunk")
    not_stored = (m - stored.astype(np.float64)) / m
    if ld_in_sample:
        ld_samp_var = not_stored
    elif n_ref:
        ld_samp_var = (n + n_ref) / m * samp / n_ref + not_stored
    else:
        ld_samp_var = np.full(m, np.nan)
    vp = float(np.median(v)) if np.isfinite(v).all() else 1.0
    nobs = float(np.median(n))
    return SummaryData(stats=snps, ld=ld, n=n, xty=n * b_std, xtx_diag=n * diag, nobs=nobs,
                       yty=nobs, vp=vp, ld_score=ld_score, ld_sampling_var=ld_samp_var,
                       ld_in_sample=bool(ld_in_sample), qc=qc)


def per_snp_columns(aligned: pd.DataFrame, reference_freq: np.ndarray) -> pd.DataFrame:
    """A copy of ``aligned`` (statistics aligned to an LD reference) with FREQ (the GWAS A1
    frequency, else ``reference_freq``), H, V (per-SNP phenotypic variance) and B_STD (the
    standardised marginal effect) of the module docstring; monomorphic SNPs or SNPs without
    a frequency raise InputError."""
    snps = aligned.reset_index(drop=True).copy()
    n = snps["N"].to_numpy(np.float64)
    z = snps["Z"].to_numpy(np.float64)
    freq = snps["FREQ"].to_numpy(np.float64)
    freq = np.where(np.isnan(freq), reference_freq, freq)
    het = 2.0 * freq * (1.0 - freq)
    bad = ~(het > 0)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise InputError(f"{int(bad.sum())} SNPs are monomorphic or have no A1 frequency "
                         f"(e.g. {snps['SNP'].iloc[j]}, freq {freq[j]} in the LD reference): "
                         f"they carry no information; remove them from the statistics or the "
                         f"reference",
                         aligned.attrs.get("path"))
    beta, se = snps["BETA"].to_numpy(np.float64), snps["SE"].to_numpy(np.float64)
    snps["FREQ"], snps["H"] = freq, het
    snps["V"] = het * (n * se**2 + beta**2)
    snps["B_STD"] = z / np.sqrt(n + z**2)
    return snps


def _panel_size(ld: LDMatrix) -> int | None:
    n = ld.snps["n"].to_numpy()
    return int(np.median(n)) if len(n) and np.median(n) > 0 else None
