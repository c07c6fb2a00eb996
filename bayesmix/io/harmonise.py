"""Align GWAS summary statistics to an LD/genotype reference, with a report of every SNP dropped.

After :func:`harmonise`, A1 of every kept SNP is the reference A1 (column 5 of the ``.bim``, the
counted allele): BETA and Z are signed for it and FREQ is its frequency. Rows come in reference
order. Each QC rule removes SNPs in a fixed order and the :class:`QCReport` lists how many each
rule removed, so nothing is dropped silently.

Rules, in the order applied (those marked * are optional):

1. SE <= 0; 2. N <= 0; 3. FREQ outside (0, 1) (a monomorphic SNP carries no information) or
   P outside [0, 1];
4. missing or non-finite values (SNP, alleles, Z, and N/BETA/SE when the file had that
   column; a missing FREQ, P or INFO does not drop a SNP);
5. invalid alleles: not a single A/C/G/T base, or A1 = A2;
6. strand-ambiguous A/T and C/G SNPs (kept with ``keep_ambiguous``: they are then aligned by
   assuming the same strand as the reference);
7. * INFO below ``min_info``;
8. duplicated SNPs in the summary statistics (every copy is dropped: which one is right is
   unknown);
9. absent from the reference;
10. alleles that match the reference neither directly, swapped, nor on the other strand;
11. * minor allele frequency below ``min_maf`` (GWAS FREQ, else the reference frequency);
12. * |FREQ - reference freq| > ``max_freq_diff`` (after alignment);
13. * per-SNP phenotypic variance V_j = H_j (N_j SE_j^2 + BETA_j^2), H_j = 2 p_j (1 - p_j),
    more than ``max_vp_ratio`` times above or below its median over the SNPs (GCTB's "GWAS
    SNP phenotypic variance"; every SNP of one GWAS estimates the same trait variance, so an
    outlier has a wrong BETA, SE, N or FREQ);
14. * N outliers (``n_outlier_sd``): N below median(N) - k SD(N) or above median(N) + k SD(N),
    GCTB's median (upper middle value) and population SD; GCTB's SBayes always applies
    this with k = 3 to the file's N;
15. * the MHC (``exclude_mhc`` = "hg19" or "hg38"), by reference position;
16. * regions of ``exclude_regions`` (a file or table of ``chr start end``, 1-based, inclusive);
17. * ``impute_n`` (GCTB's ``--impute-n``, last as in GCTB): N replaced by the N that BETA, SE
    and FREQ imply, dropping SNPs whose imputed N is outside median +- 3 SD, iterated
    (:func:`bayesmix.io.impute_n.impute_per_snp_n`); the result, with the iteration log and
    the dropped SNPs, is ``QCReport.imputed_n``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open
from bayesmix.io.impute_n import (REASON_FIXED, REASON_NOT_POSITIVE, REASON_OUTSIDE, ImputedN,
                                  impute_per_snp_n, upper_median)
from bayesmix.io.plink import read_bim, snp_id_set
from bayesmix.io.regions import MHC_REGIONS, chrom_code, region_masks
from bayesmix.io.sumstats import CANONICAL_COLUMNS, map_distinct

COMPLEMENT = {"A": "T", "T": "A", "C": "G", "G": "C"}
#: the rule (10) dropping SNPs whose alleles match the reference neither directly, swapped
#: nor on the other strand, as named in :attr:`QCReport.steps`
ALLELE_MISMATCH = "alleles do not match the reference"


@dataclass
class QCReport:
    """What :func:`harmonise` did: SNPs dropped per rule, in order, and alleles re-aligned.

    Attributes
    ----------
    n_input : number of summary-statistic rows read.
    steps : ordered list of (rule, n_dropped).
    n_swapped : kept SNPs whose A1/A2 were exchanged to match the reference (BETA, Z negated,
        FREQ -> 1 - FREQ).
    n_strand_flipped : kept SNPs given on the other strand (alleles complemented).
    n_reference : SNPs in the reference.
    notes : derivations and settings worth knowing (e.g. frequencies filled from the reference).
    imputed_n : the :class:`~bayesmix.io.impute_n.ImputedN` of rule 16 (``impute_n``), else
        None; write ``OUT.imputedPerSnpN`` with :func:`bayesmix.io.impute_n.write_imputed_n`.
    """

    n_input: int
    steps: list = field(default_factory=list)
    n_swapped: int = 0
    n_strand_flipped: int = 0
    n_reference: int = 0
    notes: list = field(default_factory=list)
    imputed_n: ImputedN | None = None

    @property
    def n_output(self) -> int:
        return self.n_input - sum(n for _, n in self.steps)

    def dropped(self, rule: str) -> int:
        """SNPs dropped by ``rule`` (a rule name as in :meth:`table`)."""
        return dict(self.steps)[rule]

    def table(self) -> pd.DataFrame:
        """DataFrame with columns rule, dropped, remaining (one row per rule, in order)."""
        dropped = np.array([n for _, n in self.steps], dtype=np.int64)
        return pd.DataFrame({
            "rule": [rule for rule, _ in self.steps],
            "dropped": dropped,
            "remaining": self.n_input - np.cumsum(dropped),
        })

    def __str__(self) -> str:
        table = self.table()
        width = max([len("rule"), len("summary statistics read"), *table["rule"].str.len()])
        lines = [f"{'rule':<{width}}  {'dropped':>9}  {'remaining':>9}",
                 f"{'summary statistics read':<{width}}  {'':>9}  {self.n_input:>9}"]
        lines += [f"{r:<{width}}  {d:>9}  {m:>9}" for r, d, m in table.itertuples(index=False)]
        lines.append(f"kept {self.n_output} of {self.n_input} SNPs ({self.n_reference} in the "
                     f"reference); alleles swapped: {self.n_swapped}; strand flipped: "
                     f"{self.n_strand_flipped}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def write_tsv(self, path) -> None:
        """Write :meth:`table` as tab-separated text (atomically)."""
        with atomic_open(path, "wt") as fh:
            self.table().to_csv(fh, sep="\t", index=False, lineterminator="\n")


def _other_alleles_of_matched_sites(key, keep, matches) -> np.ndarray:
    """Rows (of those kept) whose key is listed more than once and whose alleles do not
    match the reference's, where another kept row of the same key does match: the other
    alleles of a multi-allelic site whose reference allele pair is in the file."""
    listed = np.zeros(len(key), dtype=bool)
    listed[keep] = pd.Series(key[keep]).duplicated(keep=False).to_numpy()
    matched_keys = pd.unique(key[listed & matches])
    return listed & ~matches & np.isin(key, matched_keys)


def _apply_selection(apply, ref, ref_pos, extract, exclude, chrom) -> None:
    """QC steps for a SNP selection (lists and chromosome), judged on the matched reference
    SNPs (summary statistics need not carry CHR)."""
    ids = ref["snp"].to_numpy().astype(str)[np.maximum(ref_pos, 0)]
    if extract is not None:
        apply("not in the --extract list", ~np.isin(ids, list(snp_id_set(extract))))
    if exclude is not None:
        apply("in the --exclude list", np.isin(ids, list(snp_id_set(exclude))))
    if chrom is not None:
        wanted = {chrom_code(c) for c in ([chrom] if isinstance(chrom, str) else chrom)}
        ref_chr = map_distinct(ref["chr"], chrom_code)[np.maximum(ref_pos, 0)]
        apply(f"not on chromosome {', '.join(sorted(wanted))}", ~np.isin(ref_chr, list(wanted)))


def harmonise(
    sumstats: pd.DataFrame,
    reference,
    *,
    match_by: str = "snp",
    keep_ambiguous: bool = False,
    min_info: float | None = None,
    min_maf: float | None = None,
    max_freq_diff: float | None = None,
    max_vp_ratio: float | None = None,
    n_outlier_sd: float | None = None,
    impute_n: bool = False,
    exclude_regions=None,
    exclude_mhc: str | None = None,
    extract=None,
    exclude=None,
    chrom=None,
    fill_freq: bool = False,
) -> tuple[pd.DataFrame, QCReport]:
    """Align summary statistics to a reference and apply the QC rules of the module docstring.

    Parameters
    ----------
    sumstats : DataFrame from :func:`bayesmix.io.sumstats.read_sumstats` (canonical columns).
    reference : a ``.bim`` path (or PLINK prefix), or a SNP table with columns snp chr bp a1 a2
        and optionally freq (A1 frequency), e.g. ``Genotypes.snps``.
    match_by : ``"snp"`` (SNP id) or ``"chrpos"`` (CHR and BP; statistics without them take
        them from SNP ids such as ``22:16061016`` (:data:`POSITION_ID`), with a note).
    keep_ambiguous : keep strand-ambiguous A/T, C/G SNPs.
    min_info, min_maf : drop SNPs with INFO / minor allele frequency below these.
    max_freq_diff : drop SNPs whose aligned FREQ differs from the reference freq by more.
    max_vp_ratio : drop SNPs whose per-SNP phenotypic variance V_j = H_j (N_j SE_j^2 +
        BETA_j^2) (trait units^2) is more than this factor above or below the median V over
        the SNPs (rule 13; needs BETA, SE, N and FREQ: SNPs lacking one are not tested).
    n_outlier_sd : drop SNPs whose N is further than this many SD from the median N (rule 14;
        GCTB's SBayes uses 3).
    impute_n : GCTB's ``--impute-n`` (rule 17): impute each SNP's N from BETA, SE and FREQ
        (needs all three; ``fill_freq`` fills FREQ from the reference) and drop SNPs whose
        imputed N is outside median +- 3 SD; the output's N column is the imputed N.
    exclude_regions : path of a ``chr start end`` file, or a DataFrame from :func:`read_regions`.
    exclude_mhc : ``"hg19"`` or ``"hg38"``: drop the MHC of that genome build.
    extract, exclude : keep only / drop the SNPs of these lists (a path of a SNP list or an
        iterable of ids; GCTB's and PLINK's ``--extract`` / ``--exclude``).
    chrom : keep only SNPs on this chromosome (or these; by the reference's chromosome).
    fill_freq : fill missing FREQ with the reference frequency (reported in the notes).

    Returns
    -------
    (aligned, report): ``aligned`` has the canonical columns (SNP, CHR, BP, A1, A2 from the
    reference), plus ``REF_INDEX`` (0-based row in ``reference``), in reference order;
    ``report`` is a :class:`QCReport`.
    """
    if match_by not in ("snp", "chrpos"):
        raise ValueError(f"match_by must be 'snp' or 'chrpos', not {match_by!r}")
    if exclude_mhc is not None and exclude_mhc not in MHC_REGIONS:
        raise ValueError(f"exclude_mhc must be one of {', '.join(MHC_REGIONS)}, not {exclude_mhc!r}")
    ref = _reference_table(reference)
    if max_freq_diff is not None and "freq" not in ref:
        raise InputError("max_freq_diff needs reference allele frequencies (a .bed next to the "
                         ".bim, or a freq column)", ref.attrs.get("path"))
    source = sumstats.attrs.get("path")
    ss = sumstats.reset_index(drop=True).copy()
    report = QCReport(n_input=len(ss), n_reference=len(ref))
    keep = np.ones(len(ss), dtype=bool)

    def apply(rule: str, drop: np.ndarray) -> None:
        nonlocal keep
        drop = np.asarray(drop, dtype=bool) & keep
        report.steps.append((rule, int(drop.sum())))
        keep &= ~drop

    a1 = map_distinct(ss["A1"], str.upper)
    a2 = map_distinct(ss["A2"], str.upper)
    c1 = map_distinct(a1, lambda a: COMPLEMENT.get(a, ""))
    c2 = map_distinct(a2, lambda a: COMPLEMENT.get(a, ""))

    # 1-3. impossible values first (an SE of 0 would otherwise show up as an infinite Z)
    se = ss["SE"].to_numpy(dtype=np.float64)
    n = ss["N"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        apply("SE <= 0", se <= 0)
        apply("N <= 0", n <= 0)
        freq = ss["FREQ"].to_numpy(dtype=np.float64)
        p_value = ss["P"].to_numpy(dtype=np.float64)
        apply("FREQ outside (0, 1) or P outside [0, 1]",
              (freq <= 0) | (freq >= 1) | (p_value < 0) | (p_value > 1))

    # 4. missing values: always-needed columns, and optional columns the file provided.
    missing = ss["SNP"].isna().to_numpy() | ss["A1"].isna().to_numpy() | ss["A2"].isna().to_numpy()
    for column in ("Z", "N", "BETA", "SE"):
        values = ss[column].to_numpy(dtype=np.float64)
        if np.isfinite(values).any() or column == "Z":
            missing |= ~np.isfinite(values)
    if match_by == "chrpos":
        if ss["CHR"].isna().all() or ss["BP"].isna().all():
            _positions_from_ids(ss, source, report.notes)
        missing |= ss["CHR"].isna().to_numpy() | ss["BP"].isna().to_numpy()
    apply("missing or non-finite values", missing)

    # 5-6. alleles
    valid = (c1 != "") & (c2 != "") & (a1 != a2)
    apply("invalid alleles (not A/C/G/T, or A1 = A2)", ~valid)
    ambiguous = valid & (c1 == a2)
    if not keep_ambiguous:
        apply("strand-ambiguous (A/T, C/G)", ambiguous)

    # 7. imputation quality
    with np.errstate(invalid="ignore"):
        if min_info is not None:
            info = ss["INFO"].to_numpy(dtype=np.float64)
            if np.isnan(info).all():
                report.notes.append("min_info not applied: the summary statistics have no INFO")
            else:
                apply(f"INFO < {min_info:g}", info < min_info)

    # 8. duplicates of the matching key: the copies of a multi-allelic site whose alleles are
    # not the reference's go first when another copy has them (that copy stays, whatever
    # rule would otherwise have met the copies first), then every copy of a key still listed
    # more than once
    key_ss = _match_key(ss, match_by)
    key_ref = _match_key(ref, match_by)
    _refuse_reference_duplicates(ref, key_ref, match_by)
    ref_pos = pd.Index(key_ref).get_indexer(key_ss)
    r1 = np.where(ref_pos >= 0, ref["a1"].to_numpy()[np.maximum(ref_pos, 0)], "")
    r2 = np.where(ref_pos >= 0, ref["a2"].to_numpy()[np.maximum(ref_pos, 0)], "")
    same = (a1 == r1) & (a2 == r2)
    swapped = ~same & (a1 == r2) & (a2 == r1)
    flipped = ~same & ~swapped & (c1 == r1) & (c2 == r2)
    flipped_swapped = ~same & ~swapped & ~flipped & (c1 == r2) & (c2 == r1)
    matches = same | swapped | flipped | flipped_swapped
    apply("other alleles than the reference's at a duplicated SNP (multi-allelic)",
          _other_alleles_of_matched_sites(key_ss, keep, matches))
    dup = np.zeros(len(ss), dtype=bool)
    dup[keep] = pd.Series(key_ss[keep]).duplicated(keep=False).to_numpy()
    apply("duplicated SNP in the summary statistics", dup)

    # 9. presence in the reference
    apply("absent from the reference", ref_pos < 0)
    _apply_selection(apply, ref, ref_pos, extract, exclude, chrom)

    # 10. allele alignment
    apply(ALLELE_MISMATCH, ~matches)
    sign = np.where(swapped | flipped_swapped, -1.0, 1.0)

    freq = ss["FREQ"].to_numpy(dtype=np.float64)
    freq = np.where(sign < 0, 1.0 - freq, freq)
    ref_freq = (ref["freq"].to_numpy(dtype=np.float64)[np.maximum(ref_pos, 0)]
                if "freq" in ref else np.full(len(ss), np.nan))
    if fill_freq and "freq" in ref:
        fill = np.isnan(freq) & keep
        if fill.any():
            freq = np.where(fill, ref_freq, freq)
            report.notes.append(f"FREQ of {int(fill.sum())} SNPs taken from the reference")

    # 11-12. frequencies
    if min_maf is not None:
        maf_source = np.where(np.isnan(freq), ref_freq, freq)
        if np.isnan(maf_source[keep]).all() and keep.any():
            report.notes.append("min_maf not applied: no frequencies in the sumstats or reference")
        else:
            with np.errstate(invalid="ignore"):
                apply(f"MAF < {min_maf:g}", np.minimum(maf_source, 1 - maf_source) < min_maf)
    if max_freq_diff is not None:
        with np.errstate(invalid="ignore"):
            apply(f"|FREQ - reference freq| > {max_freq_diff:g}", np.abs(freq - ref_freq) > max_freq_diff)

    # 13. per-SNP phenotypic variance outliers
    if max_vp_ratio is not None:
        apply(f"per-SNP phenotypic variance > {max_vp_ratio:g} x or < 1/{max_vp_ratio:g} x the "
              "median", _vp_outliers(ss, freq, keep, max_vp_ratio, report))

    # 14. sample-size outliers of the file's N
    if n_outlier_sd is not None and keep.any():
        n_kept = n[keep]
        median, sd = upper_median(n_kept), float(np.std(n_kept))
        with np.errstate(invalid="ignore"):
            apply(f"N further than {n_outlier_sd:g} SD from the median",
                  (n < median - n_outlier_sd * sd) | (n > median + n_outlier_sd * sd))

    # 15-16. regions, by reference position
    ref_chr = map_distinct(ref["chr"], chrom_code)[np.maximum(ref_pos, 0)]
    ref_bp = ref["bp"].to_numpy(dtype=np.int64)[np.maximum(ref_pos, 0)]
    for rule, inside in region_masks(ref_chr, ref_bp, exclude_mhc, exclude_regions):
        apply(rule, inside)

    # 17. per-SNP N imputed from BETA, SE and FREQ, on the SNPs every other rule kept
    if impute_n:
        n = _impute_n(ss, freq, sign, keep, ref_pos, apply, report, source)

    if keep_ambiguous:     # counted on what every rule kept (the allele check drops some)
        report.notes.append(f"{int((ambiguous & keep).sum())} strand-ambiguous SNPs kept and "
                            f"aligned assuming the reference strand")
    report.n_swapped = int((sign < 0)[keep].sum())
    report.n_strand_flipped = int((flipped | flipped_swapped)[keep].sum())

    # aligned output in reference order
    rows = np.flatnonzero(keep)
    order = rows[np.argsort(ref_pos[rows], kind="stable")]
    pos = ref_pos[order]
    out = pd.DataFrame({
        "SNP": ref["snp"].to_numpy()[pos],
        "CHR": pd.array(ref["chr"].to_numpy().astype(str)[pos], dtype="str"),
        "BP": pd.array(ref["bp"].to_numpy(dtype=np.int64)[pos], dtype="Int64"),
        "A1": ref["a1"].to_numpy()[pos],
        "A2": ref["a2"].to_numpy()[pos],
        "FREQ": freq[order],
        "BETA": ss["BETA"].to_numpy(dtype=np.float64)[order] * sign[order],
        "SE": se[order],
        "Z": ss["Z"].to_numpy(dtype=np.float64)[order] * sign[order],
        "P": ss["P"].to_numpy(dtype=np.float64)[order],
        "N": n[order],
        "INFO": ss["INFO"].to_numpy(dtype=np.float64)[order],
        "REF_INDEX": pos.astype(np.int64),
    })[[*CANONICAL_COLUMNS, "REF_INDEX"]]
    out.attrs.update(sumstats.attrs)
    return out, report


def _vp_outliers(ss: pd.DataFrame, freq: np.ndarray, keep: np.ndarray, ratio: float,
                 report: QCReport) -> np.ndarray:
    """Rows whose per-SNP phenotypic variance is ``ratio`` times off the median (rule 13).

    ``freq`` is the aligned A1 frequency; rows already dropped (``keep`` False) and rows
    without BETA, SE, N or FREQ do not enter the median and are not flagged. The largest
    outliers are named in the report's notes.
    """
    if not ratio > 1:
        raise ValueError(f"max_vp_ratio must be > 1, not {ratio}")
    beta, se, n = (ss[c].to_numpy(dtype=np.float64) for c in ("BETA", "SE", "N"))
    with np.errstate(invalid="ignore", over="ignore"):
        v = 2.0 * freq * (1.0 - freq) * (n * se**2 + beta**2)
        usable = keep & np.isfinite(v) & (v > 0)
        if not usable.any():
            if keep.any():   # (with no SNP left there is nothing to say)
                report.notes.append("per-SNP phenotypic variance not tested: needs BETA, SE, "
                                    "N and FREQ")
            return np.zeros(len(ss), dtype=bool)
        off = v / np.median(v[usable])
        outlier = usable & ((off > ratio) | (off < 1.0 / ratio))
    if outlier.any():
        worst = np.flatnonzero(outlier)[np.argsort(-np.abs(np.log(off[outlier])))][:3]
        report.notes.append(
            "per-SNP phenotypic variance V = 2p(1-p)(N SE^2 + BETA^2) far from the median "
            f"{np.median(v[usable]):.4g}, e.g. " + ", ".join(
                f"{ss['SNP'].iloc[i]} (BETA {beta[i]:.4g}, SE {se[i]:.4g}, N {n[i]:.0f}: "
                f"{off[i]:.3g} x)" for i in worst))
    return outlier


def _impute_n(ss, freq, sign, keep, ref_pos, apply, report, source) -> np.ndarray:
    """Rule 17: GCTB's --impute-n on the kept rows, taken in reference order (the order of
    GCTB's OUT.imputedPerSnpN); returns N with the imputed values."""
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(ref_pos[rows], kind="stable")]
    stats = pd.DataFrame({"SNP": ss["SNP"].to_numpy()[rows],
                          "BETA": ss["BETA"].to_numpy(dtype=np.float64)[rows] * sign[rows],
                          "SE": ss["SE"].to_numpy(dtype=np.float64)[rows],
                          "FREQ": freq[rows], "N": ss["N"].to_numpy(dtype=np.float64)[rows]})
    stats.attrs["path"] = source
    imputed = impute_per_snp_n(stats)
    drop = np.zeros(len(ss), dtype=bool)
    reasons = imputed.dropped.set_index("row")["reason"]
    for rule, names in ((f"{REASON_OUTSIDE} (--impute-n)", (REASON_OUTSIDE,)),
                        (f"N not imputable: {REASON_FIXED}, or {REASON_NOT_POSITIVE} "
                         "(--impute-n)", (REASON_FIXED, REASON_NOT_POSITIVE))):
        drop[:] = False
        drop[rows[reasons.index[reasons.isin(names)].to_numpy(dtype=np.int64)]] = True
        apply(rule, drop)
    report.imputed_n = imputed
    if imputed.n_kept:
        report.notes.append(f"--impute-n: {imputed.summary()}")
    n = ss["N"].to_numpy(dtype=np.float64).copy()
    n[rows[imputed.keep]] = imputed.n[imputed.keep]
    return n


def _reference_table(reference) -> pd.DataFrame:
    """Reference SNP table (snp chr bp a1 a2 [freq]) from a path or a DataFrame."""
    if isinstance(reference, pd.DataFrame):
        ref = reference.rename(columns=str.lower)
        missing = [c for c in ("snp", "chr", "bp", "a1", "a2") if c not in ref]
        if missing:
            raise InputError(f"reference table lacks column(s) {', '.join(missing)}",
                             ref.attrs.get("path"))
        ref = ref.reset_index(drop=True)
    else:
        path = Path(os.fspath(reference))
        bim = path if path.suffix == ".bim" else Path(f"{path}.bim")
        ref = read_bim(bim)
        ref.attrs["path"] = str(bim)
    ref = ref.copy()
    ref["chr"] = ref["chr"].astype(str)
    ref["a1"] = map_distinct(ref["a1"], str.upper)
    ref["a2"] = map_distinct(ref["a2"], str.upper)
    return ref


#: a SNP id that holds a position: CHR:BP, with an optional chr prefix and anything after a
#: further colon (22:16061016, chr22:16061016, 22:16061016:A:G); any case
POSITION_ID = r"^(?:chr)?([0-9]{1,2}|X|Y|XY|MT):([0-9]+)(?::.*)?$"


def _positions_from_ids(ss: pd.DataFrame, source, notes: list) -> None:
    """CHR and BP of ``ss`` (statistics without CHR/BP values, matched by position) taken
    from SNP ids of the form :data:`POSITION_ID`, in place, with a note in ``notes``; ids
    without a position leave CHR/BP missing. None of them a position: an InputError."""
    parts = ss["SNP"].astype(str).str.extract(POSITION_ID, flags=re.IGNORECASE)
    found = parts[1].notna().to_numpy()
    if not found.any():
        raise InputError(
            "matching by position (--match-by chrpos) needs positions: the summary statistics "
            "give no CHR and BP (columns or values) and their SNP ids are not positions such "
            f"as 22:16061016, chr22:16061016 or 22:16061016:A:G (first id: "
            f"{ss['SNP'].iloc[0]}); add CHR and BP "
            "columns (e.g. named CHR and BP, or CHROM and POS; bayesmix munge --column "
            "NAME=CHR maps other names), or match by SNP id (--match-by snp)", source)
    ss["CHR"] = pd.array(parts[0].str.upper().to_numpy(), dtype="str")
    ss["BP"] = pd.array(pd.to_numeric(parts[1]), dtype="Int64")
    note = (f"CHR and BP taken from the SNP ids (CHR:BP, e.g. {ss['SNP'].iloc[found.argmax()]}) "
            f"of {int(found.sum())} of {len(ss)} SNPs: the summary statistics give no CHR and "
            "BP")
    if not found.all():
        note += (f"; the other {int((~found).sum())} (e.g. {ss['SNP'].iloc[(~found).argmax()]}) "
                 "have no position: dropped as missing values")
    notes.append(note)


def _match_key(table: pd.DataFrame, match_by: str) -> np.ndarray:
    """SNP ids, or ``chr:bp`` strings, as the key matching sumstats rows to reference rows."""
    if match_by == "snp":
        column = "SNP" if "SNP" in table else "snp"
        return table[column].astype(str).to_numpy()
    chrom = pd.Series(map_distinct(table["CHR" if "CHR" in table else "chr"], chrom_code))
    bp = pd.Series(table["BP" if "BP" in table else "bp"].to_numpy()).astype("Int64").astype(str)
    return (chrom + ":" + bp).to_numpy()


def _refuse_reference_duplicates(ref: pd.DataFrame, key: np.ndarray, match_by: str) -> None:
    """A reference with duplicated ids (or positions) cannot be matched unambiguously."""
    dup = pd.Series(key).duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        line = int(ref["bed_index"].iloc[i]) + 1 if "bed_index" in ref else i + 1
        what = "SNP id" if match_by == "snp" else "position"
        raise InputError(
            f"{what} {key[i]} appears more than once in the reference; make ids unique "
            "(e.g. plink2 --set-all-var-ids, --rm-dup) or match by the other key",
            ref.attrs.get("path"), line, 2 if match_by == "snp" else 4,
        )
