"""PLINK 1 binary genotypes (``.bed/.bim/.fam``) read by SNP blocks through bed-reader.

Conventions (docs/design.md): allele 1 (column 5 of ``.bim``) is the counted/effect allele, so a
genotype x in {0, 1, 2} counts A1 and ``freq`` is the A1 frequency. Missing genotypes are
mean-imputed. Nothing here holds the whole n x M matrix: :meth:`Genotypes.iter_blocks` yields
column blocks whose size the caller bounds.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import check_utf8, count_fields, first_non_numeric, open_text, read_bytes
from bayesmix.io.gctb_rules import gctb_rules

BIM_COLUMNS = ["chr", "snp", "cm", "bp", "a1", "a2"]
FAM_COLUMNS = ["fid", "iid", "father", "mother", "sex", "pheno"]


def read_bim(path) -> pd.DataFrame:
    """Read a ``.bim`` file: columns chr (str), snp, cm (float), bp (int), a1, a2 (upper case)."""
    return _read_bim_lines(path)[0]


def _read_bim_lines(path) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`read_bim` and the 1-based file line of each row."""
    path = Path(path)
    table, lines = _read_whitespace_table(path, BIM_COLUMNS, {"cm": float, "bp": np.int64})
    table["chr"] = table["chr"].astype(str)
    for col in ("a1", "a2"):
        table[col] = table[col].astype(str).str.upper()
    table.attrs["path"] = str(path)
    return table, lines


def _refuse_duplicate_snp_ids(bim: pd.DataFrame, lines: np.ndarray, analysed: np.ndarray,
                              path: Path) -> None:
    """An id listed twice among the ``analysed`` SNPs of a ``.bim`` is an :class:`InputError`
    naming both lines (column 2), as GCTB refuses it: outputs, SNP lists and LD are matched by
    id, so each must name one SNP."""
    ids = bim["snp"].to_numpy()[analysed]
    copies = pd.Series(ids).duplicated().to_numpy()
    if not copies.any():
        return
    rows = np.flatnonzero(analysed)
    second = int(np.flatnonzero(copies)[0])
    first = int(np.flatnonzero(ids == ids[second])[0])
    raise InputError(f"SNP id {ids[second]} appears twice (first on line {lines[rows[first]]}); "
                     "SNP ids must be unique: give the copies distinct ids (plink2 "
                     "--set-all-var-ids) or leave them out with --exclude", path,
                     int(lines[rows[second]]), 2)


def read_fam(path) -> pd.DataFrame:
    """Read a ``.fam`` file: columns fid, iid (strings), father, mother, sex, pheno.

    A sample (FID, IID pair) listed twice is an :class:`InputError` naming the line of the
    second copy (column 2), as in PLINK: phenotypes, covariates and ``--keep`` lists are
    matched by that pair, so it must be unique.
    """
    path = Path(path)
    table, lines = _read_whitespace_table(path, FAM_COLUMNS, {})
    table["fid"] = table["fid"].astype(str)
    table["iid"] = table["iid"].astype(str)
    copies = table.duplicated(["fid", "iid"]).to_numpy()  # second and later copies
    if copies.any():
        second = int(np.flatnonzero(copies)[0])
        fid, iid = table["fid"].iloc[second], table["iid"].iloc[second]
        first = int(np.flatnonzero(((table["fid"] == fid) & (table["iid"] == iid)).to_numpy())[0])
        raise InputError(f"sample FID={fid} IID={iid} appears twice (first on line "
                         f"{lines[first]}); sample ids must be unique", path,
                         int(lines[second]), 2)
    return table


def _read_whitespace_table(path: Path, columns: list[str],
                           numeric: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a headerless whitespace-separated table, checking field counts and numbers.

    Columns not in ``numeric`` are kept as text exactly as written. Returns the table and
    the 1-based file line of each row. Errors name the file, the 1-based line and the column.
    """
    data = read_bytes(path)
    counts, lines = count_fields(data, r"\s+")
    if not len(counts):
        raise InputError("file is empty", path)
    wrong = np.flatnonzero(counts != len(columns))
    if len(wrong):
        raise InputError(f"expected {len(columns)} fields ({' '.join(columns)}), found "
                         f"{counts[wrong[0]]}", path, int(lines[wrong[0]]))
    options = dict(sep=r"\s+", header=None, names=columns, quoting=3, engine="c")
    try:
        table = pd.read_csv(io.BytesIO(data), dtype={c: numeric.get(c, str) for c in columns},
                            na_filter=False, **options)
    except (ValueError, OverflowError):
        check_utf8(data, path)
        text = pd.read_csv(io.BytesIO(data), dtype=str, na_filter=False, **options)
        for col in numeric:
            first_non_numeric(text[col], path, col, columns.index(col) + 1, lines,
                              allow_missing=False)
        raise
    return table, lines


def read_id_list(path) -> pd.DataFrame:
    """Read a FID IID file (``--keep``/``--remove``): first two whitespace fields per line
    (a UTF-8 byte-order mark at the start is dropped)."""
    rows = []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2:
                raise InputError("expected FID and IID on each line", path, lineno)
            rows.append(fields[:2])
    return pd.DataFrame(rows, columns=["fid", "iid"])


def read_snp_list(path, *, every_field: bool | None = None) -> set[str]:
    """Read a SNP list (``--extract``/``--exclude``): the first whitespace field of each line,
    or with ``every_field`` every whitespace-separated field (GCTB's and PLINK 1.9's reading:
    ``rs1 rs2 rs3`` on one line lists three SNPs; the other fields of a multi-column file,
    alleles or numbers, match no SNP id). ``every_field=None``: every field for a path given
    to ``bayesmix-gctb`` (:class:`~bayesmix.io.files.GctbRules`), else the first."""
    if every_field is None:
        every_field = gctb_rules(path)
    with open_text(path) as fh:
        if every_field:
            return {field for line in fh for field in line.split()}
        return {line.split()[0] for line in fh if line.strip()}


def snp_id_set(ids) -> set[str]:
    """SNP ids from a SNP-list path (:func:`read_snp_list`) or an iterable of ids."""
    if isinstance(ids, (str, os.PathLike)):
        return read_snp_list(ids)
    return {str(i) for i in ids}


def _plink_prefix(prefix) -> Path:
    """A PLINK prefix as given, or without the .bed/.bim/.fam suffix it was given with."""
    prefix = Path(os.fspath(prefix))
    return prefix.with_suffix("") if prefix.suffix in (".bed", ".bim", ".fam") else prefix


def _sample_mask(fam: pd.DataFrame, keep, remove, path) -> tuple[np.ndarray, dict]:
    """(which rows of ``fam`` --keep and --remove keep, the number each dropped); refuses
    an empty selection (``path``: the .fam named in the error)."""
    counts: dict[str, int] = {}
    sample_mask = np.ones(len(fam), dtype=bool)
    if keep is not None:
        ids = keep if isinstance(keep, pd.DataFrame) else read_id_list(keep)
        wanted = set(zip(ids["fid"].astype(str), ids["iid"].astype(str)))
        m = np.array([(f, i) in wanted for f, i in zip(fam["fid"], fam["iid"])])
        counts["samples not in --keep"] = int((sample_mask & ~m).sum())
        sample_mask &= m
    if remove is not None:
        ids = remove if isinstance(remove, pd.DataFrame) else read_id_list(remove)
        unwanted = set(zip(ids["fid"].astype(str), ids["iid"].astype(str)))
        m = np.array([(f, i) in unwanted for f, i in zip(fam["fid"], fam["iid"])])
        counts["samples in --remove"] = int((sample_mask & m).sum())
        sample_mask &= ~m
    if not sample_mask.any():
        raise InputError("no samples left after --keep/--remove", path)
    return sample_mask, counts


@dataclass
class Genotypes:
    """A PLINK 1 fileset with sample and SNP filters applied.

    Use :meth:`open`. ``samples`` and ``snps`` describe the kept rows and columns in file
    order; ``snps`` carries ``freq`` (A1 frequency over kept samples, missing excluded),
    ``n_obs`` (non-missing genotype count) and ``bed_index`` (column in the ``.bed``).
    """

    prefix: Path
    samples: pd.DataFrame
    snps: pd.DataFrame
    _bed: object = field(repr=False)
    _sample_index: np.ndarray = field(repr=False)
    filter_counts: dict = field(default_factory=dict)
    n_samples_file: int = 0
    n_snps_file: int = 0

    @property
    def n_samples(self) -> int:
        return len(self.samples)

    @property
    def n_snps(self) -> int:
        return len(self.snps)

    @staticmethod
    def kept_samples(prefix, *, keep=None, remove=None) -> tuple[pd.DataFrame, dict]:
        """The samples (fid, iid, in .fam order) that :meth:`open` keeps with ``keep`` and
        ``remove``, and the number each of them dropped, from the ``.fam`` alone: no pass
        over the genotypes (:meth:`open` computes every SNP's allele frequency, a read of the
        whole ``.bed``), for callers that choose their samples before opening."""
        path = Path(f"{_plink_prefix(prefix)}.fam")
        if not path.exists():
            raise InputError("file not found", path)
        fam = read_fam(path)
        mask, counts = _sample_mask(fam, keep, remove, path)
        samples = fam.loc[mask, ["fid", "iid"]].reset_index(drop=True)
        samples.attrs["path"] = str(path)
        return samples, counts

    @classmethod
    def open(
        cls,
        prefix,
        *,
        keep=None,
        remove=None,
        extract=None,
        exclude=None,
        chrom=None,
        exclude_mhc: str | None = None,
        exclude_regions=None,
        maf: float = 0.0,
        max_missing: float = 1.0,
        drop_monomorphic: bool = False,
        block_size: int = 2048,
        progress: bool = False,
        unique_snp_ids: bool = True,
    ) -> "Genotypes":
        """Open ``prefix.bed/.bim/.fam`` and apply filters.

        Parameters
        ----------
        prefix : path without extension.
        keep, remove : path to a FID IID file, or a DataFrame with columns fid, iid.
        extract, exclude : path to a SNP list, or an iterable of SNP ids.
        chrom : a chromosome label or a list of them, matched as PLINK codes
            (:func:`bayesmix.io.regions.chrom_code`: ``22`` selects ``chr22``, ``X`` ``23``).
        exclude_mhc, exclude_regions : drop SNPs in the MHC of that genome build (hg19, hg38)
            and in the regions of a ``chr start end`` file (or table); see
            :func:`bayesmix.io.regions.region_masks`.
        maf : drop SNPs with minor allele frequency below this (0 keeps all).
        max_missing : drop SNPs whose missing-genotype rate exceeds this (PLINK ``--geno``).
        drop_monomorphic : drop SNPs with zero variance over the kept samples.
        block_size : SNPs per block in the frequency pass.
        progress : progress of the frequency pass (:mod:`bayesmix.progress`: True = a bar on
            a terminal, log lines elsewhere; False = nothing).
        unique_snp_ids : refuse a SNP id listed twice among the SNPs the id, chromosome and
            region filters keep (an :class:`InputError` naming both lines), as GCTB does;
            False for a table matched by position.
        """
        from bed_reader import open_bed

        prefix = _plink_prefix(prefix)
        paths = {ext: Path(f"{prefix}.{ext}") for ext in ("bed", "bim", "fam")}
        for path in paths.values():
            if not path.exists():
                raise InputError("file not found", path)
        bim, bim_lines = _read_bim_lines(paths["bim"])
        fam = read_fam(paths["fam"])
        _check_bed_size(paths["bed"], len(fam), len(bim))

        sample_mask, counts = _sample_mask(fam, keep, remove, paths["fam"])

        snp_mask = np.ones(len(bim), dtype=bool)
        if chrom is not None or exclude_mhc is not None or exclude_regions is not None:
            from bayesmix.io.regions import chrom_code, region_masks
            from bayesmix.io.sumstats import map_distinct

            codes = map_distinct(bim["chr"], chrom_code)  # PLINK codes: chr22 = 22, chrX = 23
        if chrom is not None:
            m = np.isin(codes, [chrom_code(c) for c in np.atleast_1d(chrom)])
            counts["SNPs on other chromosomes"] = int((snp_mask & ~m).sum())
            snp_mask &= m
        if extract is not None:
            ids = read_snp_list(extract) if isinstance(extract, (str, os.PathLike)) else set(extract)
            m = bim["snp"].isin(ids).to_numpy()
            counts["SNPs not in --extract"] = int((snp_mask & ~m).sum())
            snp_mask &= m
        if exclude is not None:
            ids = read_snp_list(exclude) if isinstance(exclude, (str, os.PathLike)) else set(exclude)
            m = bim["snp"].isin(ids).to_numpy()
            counts["SNPs in --exclude"] = int((snp_mask & m).sum())
            snp_mask &= ~m
        if exclude_mhc is not None or exclude_regions is not None:
            for rule, inside in region_masks(codes, bim["bp"].to_numpy(np.int64), exclude_mhc,
                                             exclude_regions):
                counts[f"SNPs in the {rule}" if rule.startswith("MHC") else f"SNPs in {rule}"] = \
                    int((snp_mask & inside).sum())
                snp_mask &= ~inside
        if unique_snp_ids:
            _refuse_duplicate_snp_ids(bim, bim_lines, snp_mask, paths["bim"])

        bed = open_bed(paths["bed"], count_A1=True, iid_count=len(fam), sid_count=len(bim),
                       properties=_bed_properties(fam, bim), num_threads=1)
        sample_index = np.flatnonzero(sample_mask)
        samples = fam.loc[sample_mask, ["fid", "iid"]].reset_index(drop=True)
        samples.attrs["path"] = str(paths["fam"])
        snps = bim.loc[snp_mask].copy()
        snps["bed_index"] = np.flatnonzero(snp_mask)
        freq, n_obs = _allele_stats(bed, sample_index, snps["bed_index"].to_numpy(), block_size,
                                    progress)
        snps["freq"] = freq
        snps["n_obs"] = n_obs

        keep_snp = np.ones(len(snps), dtype=bool)
        missing_rate = 1.0 - n_obs / len(sample_index)
        if max_missing < 1.0:
            m = missing_rate <= max_missing
            counts["SNPs above missingness threshold"] = int((keep_snp & ~m).sum())
            keep_snp &= m
        if maf > 0:
            m = np.minimum(freq, 1 - freq) >= maf
            counts["SNPs below MAF threshold"] = int((keep_snp & ~m).sum())
            keep_snp &= m
        if drop_monomorphic:
            m = (freq > 0) & (freq < 1) & (n_obs > 0)
            counts["monomorphic SNPs"] = int((keep_snp & ~m).sum())
            keep_snp &= m
        snps = snps.loc[keep_snp].reset_index(drop=True)
        snps.attrs["path"] = str(paths["bim"])
        if snps.empty:
            raise InputError("no SNPs left after filtering", paths["bim"])
        return cls(prefix, samples, snps, bed, sample_index, counts, len(fam), len(bim))

    def filter_report(self) -> str:
        """Readable summary of the filters: samples and SNPs read, dropped per filter, kept."""
        lines = [f"{self.prefix}: {self.n_samples_file} samples, {self.n_snps_file} SNPs"]
        lines += [f"  {reason}: {n} dropped" for reason, n in self.filter_counts.items()]
        lines.append(f"  kept {self.n_samples} samples and {self.n_snps} SNPs")
        return "\n".join(lines)

    def read(self, columns=slice(None), *, standardize: bool = True, dtype=np.float32,
             impute: bool = True) -> np.ndarray:
        """Genotypes of the kept samples at the given SNP positions (indices into ``snps``).

        Missing genotypes are replaced by the SNP mean 2p. With ``standardize``, columns are
        (x - 2p) / sqrt(2p(1-p)) with p the A1 frequency over the kept samples (monomorphic
        columns become 0); otherwise raw allele counts of A1. Returns an (n, k) array in
        Fortran order. ``impute=False`` keeps missing genotypes as NaN (complete-case
        analyses such as ``plink --linear``).
        """
        cols = np.arange(self.n_snps)[columns]
        bed_cols = self.snps["bed_index"].to_numpy()[cols]
        x = self._bed.read(index=np.s_[self._sample_index, bed_cols], dtype=dtype, order="F")
        mean = (2.0 * self.snps["freq"].to_numpy()[cols]).astype(dtype)
        missing = np.isnan(x)
        if impute and missing.any():
            x[missing] = np.broadcast_to(mean, x.shape)[missing]
        if standardize:
            x -= mean
            het = self.heterozygosity[cols].astype(dtype)
            scale = np.where(het > 0, 1.0 / np.sqrt(np.where(het > 0, het, 1.0)), 0.0).astype(dtype)
            x *= scale
        return x

    def iter_blocks(self, block_size: int = 1024, *, standardize: bool = True, dtype=np.float32,
                    impute: bool = True):
        """Yield ``(start, stop, block)`` over consecutive SNP blocks of at most ``block_size``."""
        for start in range(0, self.n_snps, block_size):
            stop = min(start + block_size, self.n_snps)
            yield start, stop, self.read(slice(start, stop), standardize=standardize, dtype=dtype,
                                         impute=impute)

    @property
    def heterozygosity(self) -> np.ndarray:
        """H_j = 2 p_j (1 - p_j) from the A1 frequencies of the kept samples (float64)."""
        p = self.snps["freq"].to_numpy(dtype=np.float64)
        return 2.0 * p * (1.0 - p)


CHROMOSOME_LABELS = [str(c) for c in range(1, 27)] + ["X", "Y", "XY", "MT"]


def reference_snps(prefix, *, progress: bool = False) -> pd.DataFrame:
    """SNP table ``chr snp cm bp a1 a2 [bed_index freq n_obs]`` of a PLINK reference.

    ``prefix`` may contain ``@`` standing for the chromosome (MiXeR's convention, e.g.
    ``ref/1000G.EUR.QC.@``): every chromosome 1-26, X, Y, XY, MT whose ``.bim`` exists is read,
    in that order. A1 frequencies (``freq``, over all samples) are added when the ``.bed`` and
    ``.fam`` exist next to a ``.bim``; otherwise only the ``.bim`` columns are returned.
    """
    prefix = os.fspath(prefix)
    if prefix.endswith((".bim", ".bed", ".fam")):
        prefix = prefix[:-4]
    if "@" in prefix:
        prefixes = [prefix.replace("@", c) for c in CHROMOSOME_LABELS
                    if Path(f"{prefix.replace('@', c)}.bim").exists()]
        if not prefixes:
            raise InputError("no chromosome file matches the @ template", f"{prefix}.bim")
    else:
        prefixes = [prefix]
    tables = []
    for p in prefixes:
        if Path(f"{p}.bed").exists() and Path(f"{p}.fam").exists():
            tables.append(Genotypes.open(p, progress=progress, unique_snp_ids=False).snps)
        else:
            tables.append(read_bim(f"{p}.bim"))
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    table.attrs["path"] = f"{prefix}.bim"
    return table


def _bed_properties(fam: pd.DataFrame, bim: pd.DataFrame) -> dict:
    """Pass our validated tables to bed-reader so it does not re-parse the text files."""
    return {
        "fid": fam["fid"].to_numpy(),
        "iid": fam["iid"].to_numpy(),
        "chromosome": bim["chr"].to_numpy(),
        "sid": bim["snp"].to_numpy(),
        "cm_position": bim["cm"].to_numpy(),
        "bp_position": bim["bp"].to_numpy(),
        "allele_1": bim["a1"].to_numpy(),
        "allele_2": bim["a2"].to_numpy(),
    }


def _check_bed_size(path: Path, n_samples: int, n_snps: int) -> None:
    """Check the magic bytes, SNP-major mode and exact size of a ``.bed`` file."""
    expected = 3 + n_snps * ((n_samples + 3) // 4)
    with open(path, "rb") as fh:
        head = fh.read(3)
    if len(head) < 3 or head[:2] != b"\x6c\x1b":
        raise InputError("not a PLINK 1 .bed file (bad magic bytes)", path)
    if head[2] != 1:
        raise InputError("individual-major .bed files are not supported; re-save with plink --make-bed", path)
    size = path.stat().st_size
    if size != expected:
        raise InputError(
            f"size {size} bytes does not match {n_samples} samples (.fam) x {n_snps} SNPs (.bim): "
            f"expected {expected}; the .bed is truncated or belongs to other .bim/.fam files",
            path,
        )


def _allele_stats(bed, sample_index, bed_cols, block_size, progress=False):
    """A1 frequency and non-missing count per SNP over the kept samples (one pass)."""
    from bayesmix.progress import track

    freq = np.empty(len(bed_cols), dtype=np.float64)
    n_obs = np.empty(len(bed_cols), dtype=np.int64)
    starts = range(0, len(bed_cols), block_size)
    for start in track(starts, desc="allele frequencies", unit="blocks", progress=progress):
        stop = min(start + block_size, len(bed_cols))
        x = bed.read(index=np.s_[sample_index, bed_cols[start:stop]], dtype="float32", order="F")
        observed = ~np.isnan(x)
        n = observed.sum(axis=0)
        total = np.where(observed, x, 0).sum(axis=0, dtype=np.float64)
        n_obs[start:stop] = n
        with np.errstate(invalid="ignore", divide="ignore"):
            freq[start:stop] = np.where(n > 0, total / (2.0 * np.maximum(n, 1)), np.nan)
    return freq, n_obs
