"""GCTB's ``--impute-summary``: the z-scores of LD-reference SNPs missing from a GWAS, imputed
from their LD neighbours through the eigen-decomposed block LD (GCTB's ``Data::impG``).

Per LD block, with t the block's *typed* SNPs (GWAS statistics after QC) and u the block's
other reference SNPs, and the kept eigenpairs R ~ U L U' (Q = U L^1/2, m_b x k_b)::

    R~   = U L U' + ridge I                        (ridge 0.1: GCTB's diag_mod)
    z_u  = R~_ut R~_tt^-1 z_t  = Q_u (ridge I_k + Q_t'Q_t)^-1 Q_t' z_t

the mean of z_u given z_t when z ~ N(0, R~) (Gaussian imputation, ImpG). The ridge is on the
diagonal only, so R~_ut is the plain truncated LD. The second form is the push-through
identity Q_t'(Q_t Q_t' + r I)^-1 = (Q_t'Q_t + r I)^-1 Q_t': a k x k Cholesky solve at
O(m_t k^2) instead of GCTB's m_t x m_t QR at O(m_t^3) (the m_t x m_t solve is used when a
block has fewer typed SNPs than eigenvectors). Computed in float64; GCTB computes in float32.

Imputed SNPs get, with N_med and V_med the upper medians (GCTB's) over the block's typed SNPs
of N and of the per-SNP phenotypic variance V_j = 2 p_j (1 - p_j) (N_j SE_j^2 + BETA_j^2)
(p_j the GWAS A1 frequency, the reference one when unknown), and p the reference A1
frequency::

    b  = z sqrt(V_med) / sqrt(2p(1-p) (N_med + z^2))     (per-allele effect, phenotype units)
    se = sqrt(V_med) / sqrt(2p(1-p) (N_med + z^2))       (so z = b / se exactly)
    N  = N_med,  P = 2 Phi(-|z|)

Typed SNPs keep their BETA (signed for the reference A1), SE, P and N. Every row's freq is the
reference A1 frequency and its alleles are the reference's, as GCTB writes them
(:func:`write_imputed_ma`: ``SNP A1 A2 freq b se p N``, one row per reference SNP of the
blocks analysed, in reference order).

QC (:func:`bayesmix.io.harmonise.harmonise`) is that of the summary-data analyses, plus GCTB's
sample-size rule, which GCTB turns on for imputation: SNPs whose N is outside median +- 3 SD
are dropped, and so imputed like every other LD SNP whose statistics QC removed (the SNP
selection, ``extract`` ... ``exclude_regions``, works the same way: it chooses the statistics
used). ``freq`` -1 (GCTB's "unknown") means the reference frequency. Where this departs from
GCTB on purpose:

- a block without any typed SNP: GCTB takes the median of an empty vector (undefined
  behaviour); here its SNPs are not imputed, counted, and left out of the output;
- ``chrom`` selects the blocks analysed (GCTB's ``--chr`` leaves the other chromosomes'
  blocks in, with no typed SNP);
- alleles given on the other strand are matched, and strand-ambiguous A/T, C/G SNPs are
  dropped (so imputed) unless ``keep_ambiguous`` (GCTB keeps them by default);
- with nothing to impute, GCTB writes no file; here the file holds the typed SNPs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.linalg
from scipy.special import ndtr

from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open
from bayesmix.io.harmonise import QCReport, harmonise
from bayesmix.io.impute_n import upper_median
from bayesmix.io.regions import chrom_code
from bayesmix.io.sumstats import map_distinct, require_sample_size

DEFAULT_RIDGE = 0.1  # GCTB's diag_mod (data.hpp:557)
TYPED, IMPUTED = "typed", "imputed"
NO_TYPED = "not imputed: no typed SNP in its LD block"
MONOMORPHIC = "not imputed: reference frequency 0 or 1"
WRITTEN = (TYPED, IMPUTED)
MA_COLUMNS = [("SNP", "SNP", 15), ("A1", "A1", 10), ("A2", "A2", 10), ("freq", "FREQ", 15),
              ("b", "BETA", 15), ("se", "SE", 15), ("p", "P", 15), ("N", "N", 15)]


@dataclass
class ImputeReport:
    """What :func:`impute_summary` did.

    Attributes
    ----------
    qc : the :class:`~bayesmix.io.harmonise.QCReport` of matching the statistics to the LD.
    n_blocks, n_snps : blocks and reference SNPs analysed.
    n_typed, n_imputed : SNPs with statistics of their own / imputed.
    not_imputed : reason -> number of reference SNPs left out of the output.
    blocks_without_typed : blocks whose SNPs are not imputed for want of a typed SNP.
    n_qc_imputed : imputed SNPs whose statistics were in the file but QC (or the selection)
        removed them (N outliers among them).
    n_other_chromosomes : reference SNPs outside ``chrom`` or ``block`` (not analysed).
    ridge, cutoff : the settings; notes : further lines for the log.
    """

    qc: QCReport
    n_blocks: int = 0
    n_snps: int = 0
    n_typed: int = 0
    n_imputed: int = 0
    not_imputed: dict = field(default_factory=dict)
    blocks_without_typed: int = 0
    n_qc_imputed: int = 0
    n_other_chromosomes: int = 0
    ridge: float = DEFAULT_RIDGE
    cutoff: float | None = None
    notes: list = field(default_factory=list)

    def __str__(self) -> str:
        lines = [str(self.qc), "",
                 f"Imputation over {self.n_blocks} LD blocks of {self.n_snps} reference SNPs "
                 f"(ridge {self.ridge:g}"
                 + (f", eigenvalue share {self.cutoff:g}" if self.cutoff is not None else "")
                 + "):",
                 f"  {'typed (statistics of their own)':<52} {self.n_typed:>10}",
                 f"  {'imputed':<52} {self.n_imputed:>10}",
                 f"  {'  of which in the file but removed by QC/selection':<52} "
                 f"{self.n_qc_imputed:>10}"]
        lines += [f"  {reason:<52} {count:>10}" for reason, count in self.not_imputed.items()]
        if self.blocks_without_typed:
            lines.append(f"  ({self.blocks_without_typed} blocks without any typed SNP)")
        if self.n_other_chromosomes:
            lines.append(f"  {self.n_other_chromosomes} reference SNPs of other chromosomes "
                         "or blocks not analysed")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def impute_block_z(q: np.ndarray, typed: np.ndarray, z_typed: np.ndarray,
                   ridge: float = DEFAULT_RIDGE) -> np.ndarray:
    """z of the untyped SNPs of one block: R~_ut R~_tt^-1 z_t with R~ = Q Q' + ridge I.

    Parameters
    ----------
    q : (m_b, k) float, U L^1/2 of the block (the truncated LD is q q').
    typed : bool (m_b,), the SNPs whose z is known.
    z_typed : (m_t,) their z-scores (signed for the reference A1).
    ridge : added to the diagonal of the LD (> 0).

    Returns the (m_b - m_t,) imputed z-scores of the untyped SNPs, in block order.
    """
    if not ridge > 0:
        raise ValueError(f"the ridge must be positive, not {ridge}")
    q = np.asarray(q, np.float64)
    typed = np.asarray(typed, bool)
    q_t, q_u = q[typed], q[~typed]
    z_t = np.asarray(z_typed, np.float64)
    if len(z_t) < q.shape[1]:  # fewer typed SNPs than eigenvectors: the m_t x m_t system
        gram = q_t @ q_t.T
        gram[np.diag_indices_from(gram)] += ridge
        return q_u @ (q_t.T @ scipy.linalg.solve(gram, z_t, assume_a="pos"))
    inner = q_t.T @ q_t
    inner[np.diag_indices_from(inner)] += ridge
    return q_u @ scipy.linalg.cho_solve(scipy.linalg.cho_factor(inner), q_t.T @ z_t)


def impute_summary(sumstats: pd.DataFrame, eigen, *, ridge: float = DEFAULT_RIDGE,
                   cutoff: float | None = None, chrom=None, block: int | None = None,
                   **harmonise_options) -> tuple[pd.DataFrame, ImputeReport]:
    """Impute the statistics of the reference SNPs of ``eigen`` that ``sumstats`` lacks.

    Parameters
    ----------
    sumstats : canonical table of :func:`bayesmix.io.sumstats.read_sumstats` (BETA, SE and
        N; FREQ -1 or missing: the reference frequency).
    eigen : :class:`~bayesmix.ld.eigen.EigenBlocks` (one or several chromosomes).
    ridge : added to the LD diagonal (GCTB's 0.1).
    cutoff : eigenvalue share kept per block (None, or not below the folder's: all it keeps).
    chrom : analyse only the blocks on this chromosome (or these).
    block : analyse only this block (1-based, in the folder's order; GCTB's ``--block``).
    **harmonise_options : SNP selection and QC of :func:`bayesmix.io.harmonise.harmonise`
        (``extract``, ``exclude``, ``exclude_mhc``, ``exclude_regions``, ``keep_ambiguous``
        ...). GCTB's sample-size outlier rule (``n_outlier_sd=3``) is on unless given.

    Returns
    -------
    (table, report): ``table`` has one row per reference SNP of the blocks analysed, in
    reference order: SNP CHR BP A1 A2 (reference), FREQ (reference A1 frequency), BETA SE Z P
    N (NaN where not imputed), BLOCK (its block's name) and STATUS (:data:`TYPED`,
    :data:`IMPUTED` or a ``not imputed: ...`` reason); ``report`` is an
    :class:`ImputeReport`. The model and the departures from GCTB are in the module docstring.
    """
    source = sumstats.attrs.get("path")
    require_sample_size(sumstats, "add an N column, or write a .ma with N (bayesmix munge --n N)")
    freq = sumstats["FREQ"].to_numpy(np.float64)
    if (freq == -1).any():  # GCTB's "unknown": filled from the reference by harmonise
        sumstats = sumstats.assign(FREQ=np.where(freq == -1, np.nan, freq))
        sumstats.attrs.update(path=source)
    ref = eigen.snps
    wanted_blocks = _blocks_on(eigen, chrom)
    if block is not None:
        if not 1 <= block <= eigen.n_blocks:
            raise InputError(f"block {block} asked for, but the LD eigen folder has "
                             f"{eigen.n_blocks} blocks (numbered from 1)")
        wanted_blocks &= np.arange(eigen.n_blocks) == block - 1
        if not wanted_blocks.any():
            raise InputError(f"block {block} is not on chromosome {chrom}")
    harmonise_options.setdefault("n_outlier_sd", 3.0)
    aligned, qc = harmonise(sumstats, ref, fill_freq=True, chrom=chrom, **harmonise_options)
    if aligned.empty:
        raise InputError("no SNP of the summary statistics is left after matching them to the "
                         f"{len(ref)} SNPs of the LD eigen folder, so there is nothing to impute "
                         f"from; QC:\n{qc}", source)
    for column in ("BETA", "SE"):
        if aligned[column].isna().all():
            raise InputError(f"imputation needs BETA and SE (a .ma file); the statistics have "
                             f"no {column}", source)
    report = ImputeReport(qc=qc, ridge=ridge, cutoff=cutoff)
    aligned = _drop_fixed(aligned, qc)

    n_ref = len(ref)
    row = np.full(n_ref, -1, np.int64)
    row[aligned["REF_INDEX"].to_numpy()] = np.arange(len(aligned))
    ref_freq = ref["freq"].to_numpy(np.float64)
    z = np.full(n_ref, np.nan)
    out = {c: np.full(n_ref, np.nan) for c in ("BETA", "SE", "P", "N")}
    typed_all = row >= 0
    for column in ("BETA", "SE", "P", "N"):
        out[column][typed_all] = aligned[column].to_numpy(np.float64)[row[typed_all]]
    z[typed_all] = aligned["Z"].to_numpy(np.float64)[row[typed_all]]
    gwas_freq = np.full(n_ref, np.nan)
    gwas_freq[typed_all] = aligned["FREQ"].to_numpy(np.float64)[row[typed_all]]
    status = np.where(typed_all, TYPED, IMPUTED).astype(object)

    names = list(eigen.meta.get("blocks") or [str(i + 1) for i in range(eigen.n_blocks)])
    block_of = np.repeat(np.arange(eigen.n_blocks), np.diff(eigen.block_ptr))
    analysed = np.zeros(n_ref, bool)
    for b in np.flatnonzero(wanted_blocks):
        lo, hi = int(eigen.block_ptr[b]), int(eigen.block_ptr[b + 1])
        analysed[lo:hi] = True
        typed = typed_all[lo:hi]
        report.n_blocks += 1
        if not typed.any():
            status[lo:hi] = NO_TYPED
            report.blocks_without_typed += 1
            continue
        if typed.all():
            continue
        values, vectors = eigen.kept(b, cutoff)
        q = vectors * np.sqrt(np.maximum(values, 0.0))
        z_u = impute_block_z(q, typed, z[lo:hi][typed], ridge)
        untyped = lo + np.flatnonzero(~typed)
        _fill_imputed(untyped, z_u, slice(lo, hi), typed, ref_freq, z, gwas_freq, out, status)

    table = pd.DataFrame({
        "SNP": ref["snp"].to_numpy(), "CHR": ref["chr"].astype(str).to_numpy(),
        "BP": ref["bp"].to_numpy(), "A1": ref["a1"].to_numpy(), "A2": ref["a2"].to_numpy(),
        "FREQ": ref_freq, "BETA": out["BETA"], "SE": out["SE"], "Z": z, "P": out["P"],
        "N": out["N"], "BLOCK": np.asarray(names, dtype=object)[block_of],
        "STATUS": status})
    in_file = set(sumstats["SNP"].astype(str))
    imputed = status == IMPUTED
    report.n_snps = int(analysed.sum())
    report.n_other_chromosomes = n_ref - report.n_snps
    table = table.loc[analysed].reset_index(drop=True)
    counts = table["STATUS"].value_counts()
    report.n_typed, report.n_imputed = int(counts.get(TYPED, 0)), int(counts.get(IMPUTED, 0))
    report.not_imputed = {s: int(counts[s]) for s in (NO_TYPED, MONOMORPHIC) if s in counts}
    report.n_qc_imputed = int(np.isin(ref["snp"].astype(str).to_numpy()[imputed & analysed],
                                      list(in_file)).sum())
    if cutoff is not None and cutoff > float(eigen.meta.get("prop", 1.0)) * (1 + 1e-6):
        report.notes.append(f"the eigenvalue share {cutoff:g} asked for is above the "
                            f"{eigen.meta.get('prop'):g} the LD eigen folder keeps: all its "
                            "eigenvectors are used (as GCTB does)")
    return table, report


def _blocks_on(eigen, chrom) -> np.ndarray:
    """Which blocks are on ``chrom`` (all when None; a block's chromosome is its first
    SNP's); an error naming the chromosomes the folder has when none is."""
    if chrom is None:
        return np.ones(eigen.n_blocks, bool)
    codes = {chrom_code(c) for c in ([chrom] if isinstance(chrom, str) else chrom)}
    snp_chr = map_distinct(eigen.snps["chr"].astype(str), chrom_code)
    sizes = np.diff(eigen.block_ptr)
    wanted = np.zeros(eigen.n_blocks, bool)
    wanted[sizes > 0] = np.isin(snp_chr[eigen.block_ptr[:-1][sizes > 0]], list(codes))
    if not wanted.any():
        raise InputError(f"no LD block on chromosome {', '.join(sorted(codes))}: the LD eigen "
                         f"folder covers chromosome(s) {', '.join(sorted(set(snp_chr)))}")
    return wanted


def _drop_fixed(aligned: pd.DataFrame, qc: QCReport) -> pd.DataFrame:
    """Drop (and count) SNPs whose GWAS frequency is 0 or 1, as GCTB does: their per-SNP
    phenotypic variance is 0."""
    freq = aligned["FREQ"].to_numpy(np.float64)
    fixed = (freq <= 0) | (freq >= 1)
    qc.steps.append(("GWAS frequency 0 or 1", int(fixed.sum())))
    return aligned.loc[~fixed].reset_index(drop=True) if fixed.any() else aligned


def _fill_imputed(untyped, z_u, block, typed, ref_freq, z, gwas_freq, out, status) -> None:
    """Write the imputed z, b, se, P and N of one block's ``untyped`` SNPs (module
    docstring), from the block's typed SNPs' medians; SNPs monomorphic in the reference are
    left unimputed."""
    n_t = out["N"][block][typed]
    beta_t, se_t = out["BETA"][block][typed], out["SE"][block][typed]
    p_t = gwas_freq[block][typed]
    v_med = upper_median(2.0 * p_t * (1.0 - p_t) * (n_t * se_t**2 + beta_t**2))
    n_med = upper_median(n_t)
    het = 2.0 * ref_freq[untyped] * (1.0 - ref_freq[untyped])
    ok = het > 0
    status[untyped[~ok]] = MONOMORPHIC
    idx, z_ok, het = untyped[ok], z_u[ok], het[ok]
    se = np.sqrt(v_med) / np.sqrt(het * (n_med + z_ok**2))
    z[idx] = z_ok
    out["BETA"][idx], out["SE"][idx] = z_ok * se, se
    out["N"][idx] = n_med
    out["P"][idx] = 2.0 * ndtr(-np.abs(z_ok))


def write_imputed_ma(table: pd.DataFrame, path) -> int:
    """Write the typed and imputed rows of ``table`` (:func:`impute_summary`) as GCTB writes
    ``OUT.imputed.ma`` (atomically): header ``SNP A1 A2 freq b se p N``, columns right-aligned
    in widths 15 10 10 15 15 15 15 15 separated by a space, numbers with 6 significant digits
    as C++ streams print them (N with up to 10, so that large N are not rounded). Returns the
    number of rows written."""
    rows = table.loc[table["STATUS"].isin(WRITTEN)]
    columns = []
    for name, column, width in MA_COLUMNS:
        values = rows[column]
        if column in ("SNP", "A1", "A2"):
            text = values.astype(str).tolist()
        else:
            spec = ".10g" if column == "N" else ".6g"
            text = [format(v, spec) for v in values.to_numpy(np.float64).tolist()]
        columns.append([t.rjust(width) for t in text])
    header = " ".join(name.rjust(width) for name, _, width in MA_COLUMNS)
    with atomic_open(path, "wt") as fh:
        fh.write(header + "\n")
        fh.writelines(" ".join(cells) + "\n" for cells in zip(*columns))
    return len(rows)


def write_impute_status(table: pd.DataFrame, path) -> None:
    """Write, tab-separated and atomically, one line per reference SNP analysed: ``SNP BLOCK
    STATUS Z`` (typed, imputed or why not imputed; the z-score used or imputed), the
    companion of :func:`write_imputed_ma`, whose 8 columns stay GCTB's."""
    with atomic_open(path, "wt") as fh:
        table[["SNP", "BLOCK", "STATUS", "Z"]].to_csv(fh, sep="\t", index=False,
                                                       lineterminator="\n", na_rep="NA",
                                                       float_format="%.6g")
