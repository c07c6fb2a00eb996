"""MiXeR model inputs from files: summary statistics + per-chromosome LD references.

:func:`load_mixer_data` harmonises one trait's summary statistics to the reference SNPs of
each chromosome's LD folder (``@`` in the path template stands for the chromosome), applies
the SNP filters, computes the random-pruning weights and stacks the tag x reference r^2 rows;
:func:`load_bivariate_data` does it for two traits and keeps their shared tag SNPs.
:func:`parse_chromosomes` and :func:`parse_exclude_ranges` read MiXeR's ``--chr2use`` and
``--exclude-ranges`` values; :func:`power_warning` says when a GWAS is too small for the
mixture parameters to be identified.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from dataclasses import dataclass

from bayesmix.errors import InputError

log = logging.getLogger("bayesmix")

MIN_GWAS_N = 50_000
"""MiXeR's guidance for univariate fits: below this GWAS sample size pi (polygenicity) and the
number of causal variants are poorly identified (docs/mixer.md, AIC/BIC)."""


def power_warning(data, *, label: str = "the GWAS", min_n: float = MIN_GWAS_N) -> str | None:
    """A warning when the median per-SNP sample size of ``data`` is below ``min_n``, else None.

    ``data`` is a :class:`bayesmix.prepare.mixer_data.MixerData` (for a bivariate fit, call it on
    ``trait1`` and ``trait2``). The fit still runs: with few samples the likelihood is nearly
    flat in pi, so the point estimates of pi, sig2_beta and the number of causal variants mean
    little on their own (their intervals and the AIC versus the infinitesimal model say how
    little).
    """
    n = float(np.median(data.n))
    if n >= min_n:
        return None
    return (f"{label} is small for a MiXeR fit (median N {n:,.0f}; MiXeR advises N >= "
            f"{min_n:,.0f}): polygenicity (pi) and the number of causal variants are weakly "
            "identified; read them with their confidence intervals and the AIC versus the "
            "infinitesimal model")


def extreme_z_warning(data, *, label: str = "the GWAS",
                      censor_option: str | None = None) -> str | None:
    """A warning when some tag's z^2 exceeds its N, else None: such a SNP alone would explain
    more than half the phenotypic variance (r^2 = z^2 / (N + z^2) > 1/2), which no SNP of a
    complex trait does; it is more likely a wrong Z or N, and it dominates the fit (its tail
    probability, and a convolve fit's time). The fit still runs, as asked. ``censor_option``:
    the running command's option right-censoring large z (``--z1max`` of ``bayesmix-mixer
    fit1``, ``--censor-z`` of ``bayesmix mixer fit``), named in the warning; None where
    there is none (fit2)."""
    extreme = data.z * data.z > data.n
    if not extreme.any():
        return None
    j = int(np.argmax(np.abs(data.z)))
    return (f"{label}: {int(extreme.sum())} tag SNPs have z^2 > N (each would explain more "
            f"than half the phenotypic variance; largest |z| {abs(data.z[j]):.3g} with N "
            f"{data.n[j]:,.0f}): check the Z and N columns"
            + (f"; {censor_option} censors large z" if censor_option else ""))


def data_warnings(data, *, label: str = "the GWAS", censor_option: str | None = None
                  ) -> list[str]:
    """The warnings a fit of ``data`` (:class:`~bayesmix.prepare.mixer_data.MixerData`)
    prints before it runs: :func:`power_warning` and :func:`extreme_z_warning` (naming
    ``censor_option``)."""
    return [w for w in (power_warning(data, label=label),
                        extreme_z_warning(data, label=label, censor_option=censor_option))
            if w]


@dataclass
class MixerInputs:
    """Where a MiXeR analysis reads its data, and how tag SNPs are chosen and weighted.

    trait_files : summary statistics of trait 1 (and trait 2 for bivariate analyses).
    ld_template : per-chromosome LD folders, ``@`` standing for the chromosome.
    chromosomes : chromosome labels (:func:`parse_chromosomes`).
    bim_template : optional reference ``.bim`` per chromosome (``@``), checked against the LD.
    extract, exclude : SNP lists of tag SNPs to use / leave out.
    exclude_ranges : ``MHC``, ``[]`` or regions (:func:`parse_exclude_ranges`).
    randprune_n, randprune_r2, seed : random-pruning weights (passes, r^2 threshold, seed).
    ld_in_sample : the LD folders are the GWAS sample's own LD (or the statistics were drawn
        from them): their weak-LD sums are used as stored, not calibrated for a panel's noise.
    prefer_z : read the statistics as MiXeR does: a Z column is analysed as it is, even where
        BETA / SE disagree (``bayesmix-mixer``; :func:`bayesmix.io.sumstats.read_sumstats`).
    """

    trait_files: tuple
    ld_template: str
    chromosomes: list
    bim_template: str | None = None
    extract: str | None = None
    exclude: str | None = None
    exclude_ranges: str | None = "MHC"
    randprune_n: int = 64
    randprune_r2: float = 0.1
    seed: int = 0
    ld_in_sample: bool = False
    prefer_z: bool = False

    def _options(self) -> dict:
        return dict(bim_template=self.bim_template, extract=self.extract, exclude=self.exclude,
                    exclude_ranges=self.exclude_ranges, randprune_n=self.randprune_n,
                    randprune_r2=self.randprune_r2, seed=self.seed,
                    ld_in_sample=self.ld_in_sample, prefer_z=self.prefer_z)

    def load_univariate(self):
        """Trait 1 -> ``(MixerData, maf, report_lines)`` (:func:`load_mixer_data`)."""
        return load_mixer_data(self.trait_files[0], self.ld_template, self.chromosomes,
                               **self._options())

    def load_bivariate(self):
        """Both traits on their shared tags -> ``BivariateData`` (:func:`load_bivariate_data`)."""
        if len(self.trait_files) != 2:
            raise InputError("a bivariate analysis needs two summary-statistics files")
        return load_bivariate_data(self.trait_files, self.ld_template, self.chromosomes,
                                   **self._options())


def parse_chromosomes(text: str) -> list[str]:
    """``"1-22"``, ``"1,2,5-7"`` or ``"21 22"`` -> list of chromosome labels."""
    out = []
    for part in text.replace(",", " ").split():
        if "-" in part:
            a, _, b = part.partition("-")
            if not (a.isdigit() and b.isdigit()) or int(a) > int(b):
                raise InputError(f"--chr2use: cannot read range {part!r} (expected e.g. 1-22)")
            out.extend(str(c) for c in range(int(a), int(b) + 1))
        else:
            out.append(part)
    if not out:
        raise InputError("--chr2use is empty")
    repeated = [chrom for k, chrom in enumerate(out) if chrom in out[:k]]
    if repeated:
        # Loaded twice, a chromosome counts twice in h2 and nc: refused, not deduplicated.
        raise InputError(f"--chr2use {text}: chromosome {repeated[0]} is given more than "
                         "once (each chromosome once, e.g. 1-22 or 21,22)")
    return out


def parse_exclude_ranges(text):
    """``MHC`` (default, hg19 extended MHC), ``[]``/``none``, a ``chr start end`` file, or
    tokens ``CHR:FROM-TO[KB|MB]`` (e.g. ``6:25-35MB``). Returns (mhc_build, regions)."""
    from bayesmix.io.regions import read_regions

    if text is None or text.strip() in ("[]", "none", ""):
        return None, None
    if text.strip().upper() == "MHC":
        return "hg19", None
    if os.path.exists(text):
        return None, read_regions(text)
    rows = []
    for token in text.replace(",", " ").split():
        chrom, _, span = token.partition(":")
        unit = 1
        for suffix, factor in (("MB", 10**6), ("KB", 10**3)):
            if span.upper().endswith(suffix):
                span, unit = span[: -len(suffix)], factor
        a, _, b = span.partition("-")
        try:
            start, end = int(float(a) * unit), int(float(b) * unit)
        except ValueError:
            raise InputError(f"--exclude-ranges: cannot read {token!r} (expected CHR:FROM-TO[MB]"
                             " or a file of chr start end)") from None
        if start > end:
            raise InputError(f"--exclude-ranges: in {token!r} the region end {end} is before "
                             f"its start {start} (expected CHR:FROM-TO[MB], FROM <= TO)")
        rows.append((chrom.removeprefix("chr"), start, end))
    return None, pd.DataFrame(rows, columns=["chr", "start", "end"])


def load_mixer_data(trait_file, ld_template, chromosomes, *, bim_template=None,
                         extract=None, exclude=None, exclude_ranges="MHC",
                         randprune_n: int = 64, randprune_r2: float = 0.1, seed: int = 0,
                         ld_in_sample: bool = False, prefer_z: bool = False):
    """Summary statistics + per-chromosome LD -> :class:`bayesmix.prepare.mixer_data.MixerData`.

    Per chromosome: the LD folder (``ld_template`` with ``@`` = chromosome) gives the
    reference SNPs (columns) and their frequencies; the sumstats are harmonised to them
    (allele swaps, strand, MHC/regions, ...; every drop is logged); tag SNPs = harmonised
    SNPs in --extract and not in --exclude. Weights: random pruning among the tags
    (``randprune_n`` passes at r^2 ``randprune_r2``). Weak-LD sums: calibrated for the
    panel's noise over all chromosomes' rows (:mod:`bayesmix.ld.weak_ld`), or as stored with
    ``ld_in_sample``. ``prefer_z``: the statistics' Z column as it is (MiXeR's reading,
    :func:`bayesmix.io.sumstats.read_sumstats`). Returns ``(data, maf, report_lines)``.
    """
    data, maf, lines, _ = _load_mixer_data(
        trait_file, ld_template, chromosomes, bim_template=bim_template, extract=extract,
        exclude=exclude, exclude_ranges=exclude_ranges, randprune_n=randprune_n,
        randprune_r2=randprune_r2, seed=seed, ld_in_sample=ld_in_sample, prefer_z=prefer_z)
    return data, maf, lines


def _load_mixer_data(trait_file, ld_template, chromosomes, *, bim_template=None,
                     extract=None, exclude=None, exclude_ranges="MHC",
                     randprune_n: int = 64, randprune_r2: float = 0.1, seed: int = 0,
                     ld_in_sample: bool = False, prefer_z: bool = False, tags_of=None):
    """:func:`load_mixer_data`, the tags restricted to the SNP ids ``tags_of`` when given
    (the other trait's tags of a bivariate analysis: the random-pruning weights are then
    computed among the tags both traits share, as MiXeR's ``set_weights_randprune`` does
    over the SNPs with z and N defined in both). Returns ``(data, maf, report_lines,
    n_not_shared)``, the last the count of tags left out for not being in ``tags_of``."""
    import scipy.sparse as sp

    from bayesmix.io.harmonise import ALLELE_MISMATCH, harmonise
    from bayesmix.io.plink import read_snp_list
    from bayesmix.io.sumstats import (read_sumstats, reading_notes, require_sample_size,
                                      require_snp_ids)
    from bayesmix.ld.pruning import random_pruning_weights
    from bayesmix.ld.store import LDMatrix
    from bayesmix.prepare.mixer_data import MixerData

    sumstats = read_sumstats(trait_file, prefer_z=prefer_z)
    require_snp_ids(sumstats, "MiXeR matches the statistics to the LD reference by SNP id: "
                    "rename the id column, or add the reference's ids with bayesmix munge "
                    "--match-by chrpos --ref PREFIX (it writes OUT.sumstats.gz)")
    require_sample_size(sumstats, "MiXeR needs per-SNP N: add an N column (LDSC "
                        "munge_sumstats.py --N, or bayesmix munge --n N --ref PREFIX, which "
                        "writes OUT.sumstats.gz with N)")
    ld_paths = _ld_paths(ld_template, chromosomes)
    keep_ids = read_snp_list(extract) if extract else None
    drop_ids = read_snp_list(exclude) if exclude else set()
    mhc, regions = parse_exclude_ranges(exclude_ranges)
    z_all, n_all, w_all, het_all, rows_all, tags_all = [], [], [], [], [], []
    lines = reading_notes(sumstats, trait_file)
    weak_all, chroms_loaded = [], []
    offset = 0
    matched = selected = 0  # SNPs matching the reference; of them, kept by --extract/--exclude
    not_shared = 0  # tags left out for not being in tags_of
    for chrom in chromosomes:
        ld_path = ld_paths[chrom]
        ld = LDMatrix.load(ld_path)
        if not ld.is_square:
            raise InputError("fit1/test1 need a square reference LD (bayesmix-mixer ld)", ld_path)
        if bim_template:
            lines.append(_check_bim(bim_template, chrom, ld, ld_path))
        chrom_rows = sumstats
        if sumstats["CHR"].notna().all():  # harmonise only this chromosome's rows
            chrom_rows = sumstats[sumstats["CHR"].astype(str) == str(chrom)]
            chrom_rows.attrs.update(sumstats.attrs)
        aligned, report = harmonise(chrom_rows, ld.snps, exclude_mhc=mhc, exclude_regions=regions)
        mask = np.ones(len(aligned), bool)
        if keep_ids is not None:
            mask &= aligned["SNP"].isin(keep_ids).to_numpy()
        if drop_ids:
            mask &= ~aligned["SNP"].isin(drop_ids).to_numpy()
        matched, selected = matched + len(mask), selected + int(mask.sum())
        aligned = aligned[mask]
        z = aligned["Z"].to_numpy(dtype=float)   # the reader derived it where it could
        ok = np.isfinite(z) & np.isfinite(aligned["N"].to_numpy(float))
        aligned, z = aligned[ok], z[ok]
        outside = 0
        if tags_of is not None:
            shared = aligned["SNP"].isin(tags_of).to_numpy()
            outside = int((~shared).sum())
            not_shared += outside
            aligned, z = aligned[shared], z[shared]
        drops = ", ".join(f"{rule} {n}" for rule, n in report.steps
                          if n and rule != ALLELE_MISMATCH) or "none"
        lines.append(f"chr{chrom}: {len(aligned)} tag SNPs of {ld.shape[0]} reference SNPs "
                     f"({report.n_input} sumstats rows; harmonisation drops: {drops}; alleles: "
                     f"{report.n_swapped} swapped to the reference's (z sign flipped), "
                     f"{report.n_strand_flipped} on the other strand, "
                     f"{report.dropped(ALLELE_MISMATCH)} not matching it (dropped); "
                     f"{int((~mask).sum())} by --extract/--exclude, {int((~ok).sum())} without "
                     "Z or N" + (f", {outside} not tags of the other trait" if tags_of is not None
                                 else "") + ")")
        if len(aligned) == 0:
            # A reference chromosome without any tag would enter h2 = pi sig2_beta sum H and
            # nc = pi M with no data behind it (doubling them when half the genome is missing).
            lines.append(f"chr{chrom}: left out of the reference: no tag SNP of the summary "
                         "statistics on it (check --chr2use)")
            continue
        rows = aligned["REF_INDEX"].to_numpy(dtype=np.int64)
        eligible = np.zeros(ld.shape[0], bool)
        eligible[rows] = True
        weights = random_pruning_weights(ld, n_passes=randprune_n, max_r2=randprune_r2,
                                         seed=seed, eligible=eligible)[rows]
        r2 = ld.r2()[rows]
        r2.indices = r2.indices + offset
        rows_all.append(r2)
        if ld.weak_ld is None:
            lines.append(f"chr{chrom}: warning: {ld_path} has no weak-LD sums (an LD folder of "
                         "an older bayesmix); the LD below its r2min is left out, which biases "
                         "h2 and pi upwards (docs/mixer.md): rebuild it with bayesmix-mixer ld")
        elif ld.weak_ld_halves is None and not ld_in_sample:
            lines.append(f"chr{chrom}: warning: {ld_path} has no split-half weak-LD sums (an LD "
                         "folder of an older bayesmix), so they cannot be corrected for the "
                         "panel's noise, which biases h2 ~10% low (docs/mixer.md): rebuild it "
                         "with bayesmix-mixer ld")
        elif ld.weak_ld4 is None:
            lines.append(f"chr{chrom}: warning: {ld_path} has no fourth-moment weak-LD sums (an "
                         "LD folder of an older bayesmix), so the weak LD's signal is taken as "
                         "Gaussian, which biases h2 of sparse traits upwards (docs/mixer.md): "
                         "rebuild it with bayesmix-mixer ld")
        weak_all.append((ld.weak_ld, ld.weak_ld_halves, ld.weak_ld4, ld.meta.get("r2min"), rows))
        chroms_loaded.append(chrom)
        freq = ld.snps["freq"].to_numpy(dtype=float)
        het_all.append(2 * freq * (1 - freq))
        z_all.append(z)
        n_all.append(aligned["N"].to_numpy(dtype=float))
        w_all.append(weights)
        tags_all.append(pd.DataFrame({"snp": aligned["SNP"].to_numpy(), "chr": chrom,
                                      "bp": aligned["BP"].to_numpy(), "freq": freq[rows]}))
        offset += ld.shape[1]
    if not het_all:
        for line in lines:  # the per-chromosome drops say where the SNPs went
            log.info(line)
        if tags_of is not None and not_shared:
            raise InputError("the two traits share no tag SNP after harmonisation", trait_file)
        if matched and not selected:
            raise InputError(f"no tag SNP left: --extract/--exclude removed all {matched} SNPs "
                             "of the summary statistics that match the reference (check the "
                             "lists' SNP ids)", extract or exclude)
        raise InputError(_no_tags_reason(sumstats, chromosomes), trait_file)
    het = np.concatenate(het_all)
    weak, weak4, calibration = _tag_weak_ld(weak_all, calibrate=not ld_in_sample)
    line = _weak_ld_line(chroms_loaded, weak_all, calibration, ld_in_sample)
    if line:
        lines.append(line)
    stacked = sp.vstack([sp.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], len(het)))
                         for m in rows_all], format="csr")
    stacked.sort_indices()
    tags = pd.concat(tags_all, ignore_index=True)
    data = MixerData(np.concatenate(z_all), np.concatenate(n_all), np.concatenate(w_all),
                     stacked.indptr, stacked.indices, stacked.data, het, tags, weak, weak4)
    maf = np.minimum(tags["freq"].to_numpy(), 1 - tags["freq"].to_numpy())
    return data, maf, lines, not_shared


def _tag_weak_ld(per_chromosome, *, calibrate: bool) -> tuple:
    """The tags' weak-LD sums (0 where an LD folder has none), calibrated for the panel's
    noise (:mod:`bayesmix.ld.weak_ld`, the moments pooled over the folders with split-half
    sums; the others' as stored) when ``calibrate``, their fourth-moment sums
    (:func:`bayesmix.ld.weak_ld.weak_fourth_moments`; 0 where a folder has none) and the
    calibration (or None). ``per_chromosome``: (weak_ld, weak_ld_halves, weak_ld4, r2min,
    tag rows) per folder."""
    from bayesmix.ld.weak_ld import calibrate_weak_ld, weak_fourth_moments

    calibration = None
    sums = [weak for weak, *_ in per_chromosome]
    split = _with_split_halves(per_chromosome)
    if calibrate and split:
        calibrated, calibration = calibrate_weak_ld([sums[k] for k in split],
                                                    [per_chromosome[k][1] for k in split])
        for k, chrom_sums in zip(split, calibrated):
            sums[k] = chrom_sums
    weak, weak4 = [], []
    for chrom_sums, (_, _, fourth, r2min, rows) in zip(sums, per_chromosome):
        fourth = weak_fourth_moments(chrom_sums, fourth, r2min)
        weak.append(np.zeros(len(rows)) if chrom_sums is None else chrom_sums[rows])
        weak4.append(np.zeros(len(rows)) if fourth is None else fourth[rows])
    return np.concatenate(weak), np.concatenate(weak4), calibration


def _with_split_halves(per_chromosome) -> list[int]:
    """Indices of the folders of ``per_chromosome`` (as :func:`_tag_weak_ld`'s) having
    weak-LD sums and their split-half sums, the ones that can be calibrated."""
    return [k for k, (weak, halves, *_) in enumerate(per_chromosome)
            if weak is not None and halves is not None]


def _weak_ld_line(chromosomes, per_chromosome, calibration, ld_in_sample) -> str | None:
    """The line saying what became of the weak-LD sums of :func:`_tag_weak_ld`: calibrated
    (and over which rows), or used as stored (``ld_in_sample``, or too few rows to
    calibrate); prefixed with the chromosomes it is about when others have no sums (or, to
    calibrate, no split-half sums: each such folder has its own warning line). None when no
    folder has sums."""
    from bayesmix.ld.weak_ld import MIN_ROWS

    used = ([k for k, (weak, *_) in enumerate(per_chromosome) if weak is not None]
            if ld_in_sample else _with_split_halves(per_chromosome))
    if not used:
        return None
    if calibration is not None:
        line = calibration.describe()
    elif ld_in_sample:
        line = "weak-LD sums used as stored (--ld-in-sample: the LD is the GWAS sample's own)"
    else:
        rows = sum(len(per_chromosome[k][0]) for k in used)
        line = ("weak-LD sums used as stored, not calibrated for the panel's sampling noise: "
                + (f"{rows} rows, fewer than the {MIN_ROWS} the calibration needs"
                   if rows < MIN_ROWS else f"their spread over {rows} rows is degenerate"))
    if len(used) < len(per_chromosome):
        line = ", ".join(f"chr{chromosomes[k]}" for k in used) + f": {line}"
    return line


def _ld_paths(ld_template, chromosomes) -> dict:
    """Chromosome -> LD folder (``@`` of ``ld_template`` replaced); InputError naming the
    chromosomes without one."""
    if "@" not in str(ld_template) and len(chromosomes) > 1:
        raise InputError(f"the LD template has no '@' (the chromosome) but {len(chromosomes)} "
                         f"chromosomes are asked for (--chr2use/--chr {','.join(chromosomes)}): "
                         "each would read the same LD; give e.g. chr@.ld, or one chromosome",
                         ld_template)
    ld_paths = {chrom: str(ld_template).replace("@", chrom) for chrom in chromosomes}
    no_ld = [chrom for chrom, path in ld_paths.items() if not Path(path).exists()]
    if no_ld:
        found = [chrom for chrom in chromosomes if chrom not in no_ld]
        raise InputError(
            f"no LD reference for chromosome(s) {', '.join(no_ld)} of the {len(chromosomes)} "
            f"asked for (--chr2use/--chr {','.join(chromosomes)}); "
            + (f"LD exists for {', '.join(found)} only: " if found else "")
            + f"choose the chromosomes accordingly or build the LD ({ld_template})",
            ld_paths[no_ld[0]])
    return ld_paths


def _check_bim(bim_template, chrom, ld, ld_path) -> str:
    """InputError unless the .bim of ``chrom`` (``@`` of ``bim_template``) lists the LD
    matrix's SNPs in its order; else the line saying they match, alleles included.

    Alleles that differ are reported (how many, how many of them swapped or on the other
    strand, the first such SNP), not refused: the MiXeR models use r^2 only and the
    statistics are aligned to the LD folder's alleles, so the .bim's enter no result. Other
    alleles than those say the .bim is of another panel or build: the line is then a
    warning."""
    from bayesmix.io.plink import read_bim

    bim_path = str(bim_template).replace("@", chrom)
    bim = read_bim(bim_path)
    if len(bim) != ld.shape[0] or not np.array_equal(bim["snp"].to_numpy(),
                                                     ld.snps["snp"].to_numpy()):
        raise InputError(f"the SNPs of {bim_path} differ from those of the LD matrix "
                         f"{ld_path}; build the LD from the same .bim", bim_path)
    bim_alleles = bim[["a1", "a2"]].to_numpy(dtype=str)
    ld_alleles = np.char.upper(ld.snps[["a1", "a2"]].to_numpy(dtype=str))
    differ = np.flatnonzero((bim_alleles != ld_alleles).any(axis=1))
    if not len(differ):
        return f"chr{chrom}: the reference SNPs of {ld_path} match {bim_path} (ids and alleles)"
    other = int((~_same_bases(bim_alleles[differ], ld_alleles[differ])).sum())
    k = differ[0]
    return (f"chr{chrom}: {'warning: ' if other else ''}the reference SNPs of {ld_path} match "
            f"{bim_path} by id, but their alleles differ at {len(differ)} of {len(bim)} SNPs "
            f"(first {bim['snp'].iloc[k]}: A1/A2 {'/'.join(bim_alleles[k])} in the .bim, "
            f"{'/'.join(ld_alleles[k])} in the LD; {len(differ) - other} swapped or on the "
            f"other strand, {other} other alleles): "
            + ("the .bim may be of another panel or genome build" if other else "harmless, as "
               "the MiXeR models use r^2 only")
            + "; the statistics are aligned to the LD folder's alleles, not the .bim's")


def _same_bases(alleles: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per row of the (n, 2) allele pairs: whether ``alleles`` is ``reference``'s pair,
    swapped and/or on the other strand (complemented)."""
    from bayesmix.io.harmonise import COMPLEMENT
    from bayesmix.io.sumstats import map_distinct

    (a1, a2), (r1, r2) = alleles.T, reference.T
    c1, c2 = (map_distinct(a, lambda base: COMPLEMENT.get(base, base)) for a in (a1, a2))
    return (((a1 == r1) & (a2 == r2)) | ((a1 == r2) & (a2 == r1))
            | ((c1 == r1) & (c2 == r2)) | ((c1 == r2) & (c2 == r1)))


def draw_snp_subset(ld_template, chromosomes, *, bim_template=None, r2: float = 0.8,
                    maf: float = 0.05, subset: int | None = None, seed: int = 0,
                    extract=None) -> tuple[list[str], list[str]]:
    """MiXeR's ``snps``: a random LD-pruned subset of the reference SNPs of ``chromosomes``.

    The rule is :func:`bayesmix.ld.pruning.random_pruned_subset` over the per-chromosome LD
    folders (``@`` of ``ld_template``), in chromosome order: minor allele frequency >=
    ``maf``, a uniformly random ``subset`` of those (all when None or fewer), then a random
    pruning pass at r^2 ``r2``. ``extract``: optional SNP-list file; only its SNPs are drawn.
    ``bim_template``: optional .bim per chromosome, checked to list the LD's SNPs.

    Returns (SNP ids in reference order, report lines).
    """
    from bayesmix.io.plink import read_snp_list
    from bayesmix.ld.pruning import random_pruned_subset
    from bayesmix.ld.store import LDMatrix

    ld_paths = _ld_paths(ld_template, chromosomes)
    keep_ids = read_snp_list(extract) if extract else None
    lds, eligible, lines = [], [], []
    for chrom in chromosomes:
        ld = LDMatrix.load(ld_paths[chrom])
        if bim_template:
            lines.append(_check_bim(bim_template, chrom, ld, ld_paths[chrom]))
        lds.append(ld)
        eligible.append(np.ones(ld.shape[0], bool) if keep_ids is None
                        else ld.snps["snp"].isin(keep_ids).to_numpy())
    try:
        kept = random_pruned_subset(lds, max_r2=r2, min_maf=maf, subset=subset, seed=seed,
                                    eligible=eligible)
    except InputError as exc:
        raise InputError(exc.message, exc.path or ld_template) from None
    ids = []
    for chrom, ld, mask, ok in zip(chromosomes, lds, kept, eligible):
        ids.extend(ld.snps["snp"].to_numpy()[mask].astype(str))
        lines.append(f"chr{chrom}: {int(mask.sum())} of {ld.shape[0]} reference SNPs kept"
                     + ("" if keep_ids is None else f" ({int(ok.sum())} in --extract)"))
    lines.append(f"{len(ids)} SNPs in the subset (MAF >= {maf:g}, "
                 + (f"a random {subset:,} of them, " if subset else "")
                 + f"randomly pruned at r2 {r2:g}, seed {seed})")
    return ids, lines


def _no_tags_reason(sumstats: pd.DataFrame, chromosomes) -> str:
    """Why no tag SNP is left, in one sentence (chromosome mismatch, else the drop table)."""
    from bayesmix.io.regions import chrom_code

    if sumstats["CHR"].notna().any():
        have = sorted(set(sumstats["CHR"].dropna().astype(str)), key=_chrom_order)
        wanted = {chrom_code(c) for c in chromosomes}
        if not wanted & {chrom_code(c) for c in have}:
            return (f"no tag SNP left: the summary statistics are on chromosome(s) "
                    f"{', '.join(have)}, the LD reference asked for (--chr2use/--chr) on "
                    f"{', '.join(chromosomes)}; use LD of the same chromosomes")
    return ("no tag SNP left after harmonisation and filters (the per-chromosome drops are "
            "listed above)")


def _chrom_order(label: str):
    return (0, int(label)) if label.isdigit() else (1, label)


def load_bivariate_data(trait_files, ld_template, chromosomes, **options):
    """Both traits' summary statistics on their shared tag SNPs -> ``BivariateData``.

    ``trait_files`` are the two summary-statistics files; ``options`` are those of
    :func:`load_mixer_data` (each trait is loaded as there). The tags are the SNPs both
    traits have (after every filter), and the random-pruning weights are computed among
    them, as MiXeR's (its ``set_weights_randprune`` prunes the SNPs with z and N defined
    in both traits): weights pruned among trait 1's tags alone would count, as LD
    neighbours, SNPs that trait 2 lacks. Every drop is logged.
    """
    from bayesmix.prepare.mixer_data import BivariateData, MixerData

    data, _, lines = load_mixer_data(trait_files[0], ld_template, chromosomes, **options)
    for line in lines:
        log.info("%s: %s", trait_files[0], line)
    # trait 2 on trait 1's tags: its weights are those of the shared tags
    data2, _, lines, only2 = _load_mixer_data(trait_files[1], ld_template, chromosomes,
                                              tags_of=set(data.tags["snp"].astype(str)),
                                              **options)
    for line in lines:
        log.info("%s: %s", trait_files[1], line)
    loaded = [data, data2]
    ids = [pd.Index(d.tags["snp"].astype(str)) for d in loaded]
    common = ids[0].intersection(ids[1], sort=False)
    if len(common) == 0:
        raise InputError("the two traits share no tag SNP after harmonisation",
                         trait_files[1])
    rows = [ids[0].get_indexer(common), ids[1].get_indexer(common)]
    order = np.argsort(rows[0])
    rows = [r[order] for r in rows]
    log.info("fit2: %d tag SNPs in both traits (%d only in trait 1, %d only in trait 2)",
             len(common), len(ids[0]) - len(common), only2)
    first = _rows(loaded[0], rows[0], MixerData)
    first.weights = loaded[1].weights[rows[1]]
    z2 = loaded[1].z[rows[1]]
    n2 = loaded[1].n[rows[1]]
    return BivariateData.from_mixer_data(first, first.z, z2, first.n, n2)


def _rows(data, rows, mixer_data_cls):
    """The tag rows ``rows`` of a MixerData (same reference SNPs)."""
    import scipy.sparse as sp

    matrix = sp.csr_matrix((data.r2, data.indices, data.indptr),
                           shape=(data.n_tags, data.n_ref))[rows]
    return mixer_data_cls(data.z[rows], data.n[rows], data.weights[rows], matrix.indptr,
                          matrix.indices, matrix.data, data.het,
                          data.tags.iloc[rows].reset_index(drop=True), data.weak[rows],
                          data.weak4[rows])
