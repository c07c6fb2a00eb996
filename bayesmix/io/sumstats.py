"""GWAS summary statistics: readers for the usual formats and writers for ``.ma`` / ``.sumstats.gz``.

Every reader returns one canonical table (:data:`CANONICAL_COLUMNS`), one row per SNP line of
the file, in file order:

========  ==========================================================================
SNP       SNP identifier (str)
CHR       chromosome label without a ``chr`` prefix (str; NaN when unknown)
BP        base-pair position (nullable Int64)
A1        effect allele, upper case: BETA, Z and FREQ refer to A1
A2        other allele, upper case
FREQ      A1 frequency in the GWAS sample (NaN when unknown; -1, GCTB's "unknown", too)
BETA      per-allele effect of A1 on the trait scale (log odds for case/control)
SE        standard error of BETA
Z         z-score BETA / SE (signed for A1)
P         two-sided p-value
N         per-SNP sample size (effective N = 4 / (1/Ncase + 1/Ncontrol) for case/control)
INFO      imputation quality (NaN when unknown)
========  ==========================================================================

Missing statistics are NaN. Z is derived from BETA / SE (or from the sign of BETA and P) when
the file has no Z column; SE from BETA / Z when the file has BETA and Z but no SE, BETA from
Z * SE when it has Z and SE but no BETA; BETA and SE stay NaN when the file only has Z; P is
derived from Z when absent. A file with BETA, SE and a Z that contradicts them on some row gets
Z = BETA / SE, with a note or warning (:func:`_z_agreeing_with_beta_se`; with ``prefer_z``,
MiXeR's reading, the Z column is kept as it is and the note or warning says so). Missing values in
the file (``NA``, ``nan``, ``.``, empty) become NaN and are left to
:func:`bayesmix.io.harmonise.harmonise` to drop and count; any other non-numeric value is an
:class:`~bayesmix.errors.InputError` naming the file, line and column.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import (atomic_open, check_utf8, count_fields, first_non_numeric,
                               missing_token_spellings, read_bytes)

CANONICAL_COLUMNS = ["SNP", "CHR", "BP", "A1", "A2", "FREQ", "BETA", "SE", "Z", "P", "N", "INFO"]
NUMERIC_COLUMNS = ["FREQ", "BETA", "SE", "Z", "P", "N", "INFO"]
FORMATS = ("auto", "ma", "ldsc", "mixer", "generic")
# Column-map targets that are converted to canonical columns (OR -> BETA, NCASE + NCONTROL -> N,
# CHRPOS "chr:bp" -> CHR and BP, LOG10P = -log10(P) -> P).
MAP_ONLY_TARGETS = ("OR", "NCASE", "NCONTROL", "CHRPOS", "LOG10P")
# Column-map targets that replace canonical columns: a column mapped to OR is read instead of
# the file's BETA column, LOG10P instead of P, CHRPOS instead of CHR and BP.
MAP_REPLACES = {"OR": ("BETA",), "LOG10P": ("P",), "CHRPOS": ("CHR", "BP")}


# Fixed headers of the tool-specific formats (case-insensitive). Extra columns are ignored.
FORMAT_COLUMNS = {
    # GCTA-COJO / GCTB: SNP A1 A2 freq b se p N
    "ma": {"SNP": "SNP", "A1": "A1", "A2": "A2", "FREQ": "FREQ", "B": "BETA", "SE": "SE",
           "P": "P", "N": "N"},
    # LDSC munge_sumstats.py output: SNP A1 A2 Z N
    "ldsc": {"SNP": "SNP", "A1": "A1", "A2": "A2", "Z": "Z", "N": "N"},
    # MiXeR / LDSC-munged with positions: SNP CHR BP A1 A2 N Z [BETA SE P FRQ]
    "mixer": {"SNP": "SNP", "CHR": "CHR", "BP": "BP", "A1": "A1", "A2": "A2", "N": "N",
              "Z": "Z", "BETA": "BETA", "SE": "SE", "P": "P", "FRQ": "FREQ", "INFO": "INFO"},
}
FORMAT_REQUIRED = {
    "ma": ["SNP", "A1", "A2", "FREQ", "BETA", "SE", "P", "N"],
    "ldsc": ["SNP", "A1", "A2", "Z", "N"],
    "mixer": ["SNP", "CHR", "BP", "A1", "A2", "N", "Z"],
}

# Synonyms recognised by the generic reader, matched after upper-casing and mapping runs of '-',
# '.', '(', ')', '_' and spaces to one '_', none at either end (LOG(OR)_SE -> LOG_OR_SE). For
# each target the first name of its list present in the header wins (so plink2's A1/OMITTED
# beat its REF/ALT; SAIGE's Allele1/Allele2 are the exception, see _saige_alleles). Targets
# are canonical columns or the intermediate names OR, NCASE, NCONTROL, CHRPOS and LOG10P, and
# TEST (the test of each row of plink2 --glm or regenie output: only ADD rows are read).
SYNONYMS = {
    "SNP": ["SNP", "RSID", "RS_ID", "RS", "SNPID", "SNP_ID", "MARKERNAME", "MARKERID", "MARKER",
            "ID", "VARIANT_ID", "VARIANT"],
    "CHR": ["CHR", "#CHROM", "CHROM", "CHROMOSOME", "#CHR", "HG19CHRC"],
    "BP": ["BP", "POS", "POSITION", "BASE_PAIR_LOCATION", "BP_HG19", "BPOS", "PHYSPOS",
           "GENPOS"],  # regenie's GENPOS is the base-pair position (BOLT-LMM's BP wins)
    "A1": ["A1", "EFFECT_ALLELE", "EA", "ALLELE1", "ALLELE_1", "TESTED_ALLELE", "INC_ALLELE",
           "RISK_ALLELE", "ALT"],
    "A2": ["A2", "OMITTED", "OTHER_ALLELE", "NEA", "OA", "ALLELE2", "ALLELE_2",
           "NON_EFFECT_ALLELE", "DEC_ALLELE", "ALLELE0", "REF"],
    "FREQ": ["FREQ", "A1_FREQ", "A1FREQ", "FRQ", "EAF", "FREQ1", "FREQ_A1", "AF1", "AF",
             "EFFECT_ALLELE_FREQUENCY", "MAF"],
    "BETA": ["BETA", "B", "EFFECT", "LOG_ODDS", "LOGOR", "LOG_OR"],
    "OR": ["OR", "ODDS_RATIO"],
    "SE": ["SE", "STDERR", "STANDARD_ERROR", "SE_BETA", "SEBETA", "LOG_OR_SE"],
    "Z": ["Z", "ZSCORE", "Z_SCORE", "ZSTAT", "Z_STAT", "GC_ZSCORE"],
    "P": ["P", "PVAL", "PVALUE", "P_VALUE", "P_VAL", "GC_PVALUE", "P_BOLT_LMM"],
    "LOG10P": ["LOG10P", "LOG10_P", "MLOG10P", "NEG_LOG10_P"],
    "N": ["N", "NEFF", "N_EFF", "NEFFECTIVE", "N_TOTAL", "NTOTAL", "TOTALSAMPLESIZE",
          "SAMPLESIZE", "SAMPLE_SIZE", "OBS_CT", "NMISS"],
    "NCASE": ["NCASE", "N_CASE", "N_CASES", "NCASES", "NCAS", "N_CAS"],
    "NCONTROL": ["NCONTROL", "N_CONTROL", "N_CONTROLS", "NCONTROLS", "NCON", "N_CON"],
    "INFO": ["INFO", "IMPINFO", "IMP_INFO", "INFO_SCORE", "IMPUTATIONINFO"],
    "CHRPOS": ["CHR:BP", "CHR_BP", "CHRPOS", "CHR:POS", "CHR_POS"],
    "TEST": ["TEST"],
}


def read_sumstats(
    path,
    format: str = "auto",
    columns: dict | None = None,
    *,
    n: float | None = None,
    prefer_z: bool = False,
) -> pd.DataFrame:
    """Read GWAS summary statistics into the canonical table (module docstring).

    Parameters
    ----------
    path : str or path
        Plain or gzip-compressed text with a header line; whitespace-, tab- or comma-separated.
    format : {"auto", "ma", "ldsc", "mixer", "generic"}
        ``ma``: GCTA-COJO/GCTB (SNP A1 A2 freq b se p N); ``ldsc``: LDSC ``.sumstats``
        (SNP A1 A2 Z N); ``mixer``: MiXeR / LDSC-munged (SNP CHR BP A1 A2 N Z BETA SE P FRQ,
        the last four optional); ``generic``: any header, columns recognised by their usual
        synonyms (:data:`SYNONYMS`); ``auto``: the first tool format whose columns are all
        present, else generic.
    columns : dict, optional
        Explicit map from the file's column names to canonical names (or ``OR``, ``NCASE``,
        ``NCONTROL``, ``CHRPOS``, ``LOG10P``); takes precedence over synonyms (implies
        ``generic``): a column of the file recognised by its name for a mapped target (or
        for BETA, P, CHR/BP when OR, LOG10P, CHRPOS are mapped) is not read, with a note.
    n : float, optional
        Sample size for every SNP when the file has no N column (also fills missing N values).
    prefer_z : bool
        A file with a Z column is analysed by its Z, as MiXeR reads it (MiXeR reads only Z):
        a Z that disagrees with BETA / SE is kept (with the same note or warning), and a
        missing Z stays missing. Default: BETA / SE wherever both are given
        (:func:`_z_agreeing_with_beta_se`). Without a Z column Z is BETA / SE either way.

    Returns
    -------
    pandas.DataFrame with :data:`CANONICAL_COLUMNS`; ``attrs`` holds ``path``, ``format``
    (the one used), ``header`` (the file's column names), ``columns`` (canonical or
    intermediate name -> the file's column read for it; a canonical column missing there
    was derived or left empty), ``notes`` (derivations applied, e.g.
    ``"BETA = log(OR)"``) and ``warnings`` (contradictions in the file that were resolved,
    e.g. a Z column disagreeing with BETA / SE; :func:`reading_notes` prints both).

    A file with a ``TEST`` column (plink2 ``--glm`` with covariates, regenie) has one row per
    test and variant: only the rows of the additive test (``TEST`` = ``ADD``) are read, with a
    note counting the others; a file without ``ADD`` rows is an :class:`InputError`.
    """
    path = Path(os.fspath(path))
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    data, header, sep, lines = _read_raw(path)
    if columns is not None:
        format = "generic"
    elif format == "auto":
        format = detect_format(header)
    rename, required, notes = _column_map(header, format, columns, path)
    missing = [c for c in required if c not in rename.values()]
    if missing:
        raise InputError(
            f"missing required column(s) {', '.join(missing)} for format {format!r}; "
            f"header is: {' '.join(header)}", path, 1,
        )
    colno = {target: header.index(name) + 1 for name, target in rename.items()}
    names = {target: name for name, target in rename.items()}
    table = _parse_columns(data, path, sep, rename, colno, lines[1:])
    table, rows = _additive_test_rows(table, lines[1:], path, names, colno, notes)
    warnings: list[str] = []
    out, derived = _to_canonical(table, path, colno, n, rows, names, warnings, prefer_z)
    out.attrs.update(path=str(path), format=format, notes=notes + derived, warnings=warnings,
                     header=header, columns=names)
    return out


#: characters allowed in a trait name (it becomes part of the output file names)
def require_sample_size(sumstats: pd.DataFrame, advice: str) -> None:
    """Refuse statistics with no per-SNP sample size at all (no N column, or N missing on
    every line): an :class:`InputError` at line 1 (the header) of the file, naming the header
    and ending with ``advice`` (how to add N for the analysis at hand)."""
    if sumstats["N"].isna().all():
        _refuse_header(sumstats, "no per-SNP sample size",
                       "no N column, or N missing on every line", advice)


def require_snp_ids(sumstats: pd.DataFrame, advice: str) -> None:
    """Refuse statistics without a SNP id column (the reader then builds ids as ``CHR:BP``,
    which match no reference of rs ids), for analyses that match SNPs by id: an
    :class:`InputError` at line 1 (the header) of the file, naming the column names accepted
    (:data:`SYNONYMS`, any case) and the header, and ending with ``advice``."""
    if "SNP" not in sumstats.attrs.get("columns", {"SNP": "SNP"}):
        _refuse_header(sumstats, "no SNP id column",
                       f"expected one named {', '.join(SYNONYMS['SNP'])}, in any case", advice)


def _refuse_header(sumstats: pd.DataFrame, problem: str, detail: str, advice: str) -> None:
    """The :class:`InputError` of the ``require_*`` checks, at line 1 (the header):
    ``problem (detail; header: ...); advice``."""
    raise InputError(f"{problem} ({detail}; header: {' '.join(sumstats.attrs.get('header', []))}"
                     f"); {advice}", sumstats.attrs.get("path"), 1)


def detect_format(header: list[str]) -> str:
    """Name of the tool format matching ``header`` (case-insensitive), else ``"generic"``.

    A tool format is chosen only when it reads every effect column of the header (BETA, OR,
    SE by their :data:`SYNONYMS`): ``SNP A1 A2 BETA Z N`` is generic, not ``ldsc``, whose
    Z-only reading would drop the file's BETA.
    """
    names = {h.upper() for h in header}
    effects = {n for n in map(_normalise_name, header)
               if n in (*SYNONYMS["BETA"], *SYNONYMS["OR"], *SYNONYMS["SE"])}
    for format, needed in (("ma", {"SNP", "A1", "A2", "FREQ", "B", "SE", "P", "N"}),
                           ("mixer", {"SNP", "CHR", "BP", "A1", "A2", "N", "Z"}),
                           ("ldsc", {"SNP", "A1", "A2", "Z", "N"})):
        if needed <= names and effects <= FORMAT_COLUMNS[format].keys():
            return format
    return "generic"


def reading_notes(sumstats: pd.DataFrame, name=None) -> list[str]:
    """The reader's notes (``attrs["notes"]``: derivations, defaults used) and warnings
    (``attrs["warnings"]``: contradictions in the file and how they were resolved) as lines
    to print, ``note: NAME: NOTE`` then ``warning: NAME: WARNING`` (NAME: ``name``, else the
    file read)."""
    name = sumstats.attrs.get("path") if name is None else name
    return ([f"note: {name}: {note}" for note in sumstats.attrs.get("notes", [])]
            + [f"warning: {name}: {text}" for text in sumstats.attrs.get("warnings", [])])


def _normalise_name(name: str) -> str:
    """``name`` upper-cased, runs of spaces, '.', '-', '(', ')' and '_' made one '_', none at
    either end (``LOG(OR)_SE`` -> ``LOG_OR_SE``, ``p.value`` -> ``P_VALUE``)."""
    return re.sub(r"[\s.\-()_]+", "_", name.strip().upper()).strip("_")


def _column_map(header, format, explicit, path):
    """File column -> canonical/intermediate name, the canonical columns required, and notes
    on the choices made (SAIGE's alleles)."""
    rename: dict[str, str] = {}
    if format in FORMAT_COLUMNS:
        fixed = FORMAT_COLUMNS[format]
        for name in header:
            target = fixed.get(name.upper())
            if target is not None and target not in rename.values():
                rename[name] = target
        return rename, FORMAT_REQUIRED[format], []
    explicit = dict(explicit or {})
    for name, target in explicit.items():
        if name not in header:
            alike = [h for h in header if h.lower() == name.lower()]
            raise InputError(f"column {name!r} given in the column map is not in the header "
                             f"({' '.join(header)})" + (f"; did you mean {alike[0]!r}? (names "
                             "in the column map are case-sensitive)" if alike else ""), path, 1)
        if target.upper() not in (*CANONICAL_COLUMNS, *MAP_ONLY_TARGETS):
            raise InputError(f"column map target {target!r} for {name!r} is not one of "
                             f"{', '.join((*CANONICAL_COLUMNS, *MAP_ONLY_TARGETS))}", path, 1)
        if target.upper() in rename.values():
            raise InputError(f"the column map reads {target.upper()} from two columns, "
                             f"{next(n for n, t in rename.items() if t == target.upper())} and "
                             f"{name}; give one", path, 1)
        rename[name] = target.upper()
    by_name = {_normalise_name(h): h for h in header if h not in rename}
    notes = _saige_alleles(rename, by_name)
    # a mapped target, and the targets it replaces, are not looked for by synonym
    mapped = {replaced: name for name, target in rename.items()
              for replaced in (target, *MAP_REPLACES.get(target, ()))}
    for target, names in SYNONYMS.items():
        if target in rename.values() or target in mapped:
            continue
        found = next((by_name[n] for n in names if n in by_name), None)
        if found is not None and found not in rename:
            rename[found] = target
    _tested_allele_with_ref_alt(rename, by_name)
    for target, name in mapped.items():
        unread = [by_name[n] for n in SYNONYMS.get(target, ())
                  if n in by_name and by_name[n] not in rename]
        if unread and name in explicit:
            notes.append(f"the column map reads {name} as {rename[name]}: the file's "
                         f"column{'s' * (len(unread) > 1)} {', '.join(unread)} (read as "
                         f"{target} by {'their' if len(unread) > 1 else 'its'} name) not read")
    return rename, [], notes


#: SAIGE's columns (``CHR POS MarkerID Allele1 Allele2 AC_Allele2 AF_Allele2 ... BETA SE``),
#: normalised: its BETA is the effect of Allele2, so the generic ALLELE1 -> A1 would flip it
SAIGE_COLUMNS = {"ALLELE2": "A1", "ALLELE1": "A2", "AF_ALLELE2": "FREQ", "MARKERID": "SNP"}


def _saige_alleles(rename: dict, by_name: dict) -> list[str]:
    """SAIGE output, recognised by its AC_Allele2 / AF_Allele2 columns: A1 = Allele2 (the
    allele BETA and AF_Allele2 refer to), A2 = Allele1, FREQ = AF_Allele2, SNP = MarkerID
    (FREQ and SNP unless the column map gave them; nothing when it gave A1 or A2). Returns
    the note saying so, if any."""
    saige = ("AC_ALLELE2" in by_name or "AF_ALLELE2" in by_name) and {
        "ALLELE1", "ALLELE2"} <= by_name.keys()
    if not saige or {"A1", "A2"} & set(rename.values()):
        return []
    taken = []
    for name, target in SAIGE_COLUMNS.items():
        if name in by_name and target not in rename.values():
            rename[by_name[name]] = target
            taken.append(f"{target} = {by_name[name]}")
    marker = by_name.get("AF_ALLELE2", by_name.get("AC_ALLELE2"))
    return [f"SAIGE output (its {marker} column): {', '.join(taken)} (SAIGE's BETA is the "
            "effect of Allele2)"]


def _tested_allele_with_ref_alt(rename: dict, by_name: dict) -> None:
    """plink2 style (A1 plus REF and ALT, no other-allele column): the other allele is
    whichever of REF/ALT is not A1, row by row, so REF must not be taken as A2 blindly."""
    ref, alt = by_name.get("REF"), by_name.get("ALT")
    if ref is None or alt is None or rename.get(ref) != "A2" or alt in rename:
        return
    rename[ref], rename[alt] = "REF_ALLELE", "ALT_ALLELE"


STRING_TARGETS = ("SNP", "CHR", "A1", "A2", "CHRPOS", "REF_ALLELE", "ALT_ALLELE", "TEST")


def _read_raw(path: Path) -> tuple[bytes, list[str], str, np.ndarray]:
    """File content, header names, separator and the 1-based line of each non-blank line
    (header first); checks every line has the header's number of fields. A UTF-8 byte-order
    mark before the header (some Windows editors write one) is dropped."""
    data = read_bytes(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).decode(errors="replace").rstrip("\r")
    if not first.strip():
        raise InputError("file is empty or the first line (header) is blank", path, 1)
    if "\t" in first:
        sep, header = "\t", first.split("\t")
    elif "," in first and len(first.split()) == 1:
        sep, header = ",", first.split(",")
    else:
        sep, header = r"\s+", first.split()
    header = [h.strip() for h in header]
    if len(set(header)) != len(header) or "" in header:
        raise InputError(f"header has duplicated or empty column names: {first.strip()}", path, 1)
    counts, lines = count_fields(data, sep)
    wrong = np.flatnonzero(counts != len(header))
    if len(wrong):
        raise InputError(f"expected {len(header)} fields as in the header, found {counts[wrong[0]]}",
                         path, int(lines[wrong[0]]))
    if len(counts) < 2:
        raise InputError("no data rows after the header", path, 2)
    return data, header, sep, lines


def _parse_columns(data, path, sep, rename, colno, lines) -> pd.DataFrame:
    """The mapped columns, renamed: strings for ids/alleles, float64 for the rest.

    Missing tokens (:data:`~bayesmix.io.files.MISSING_TOKENS`, in any case) become NaN; any
    other non-number is an :class:`InputError` with its line and column (found by re-reading
    the column as text).
    """
    dtypes = {name: (str if target in STRING_TARGETS else np.float64) for name, target in rename.items()}
    na = missing_token_spellings()
    options = dict(sep=sep, header=0, usecols=list(rename), keep_default_na=False, quoting=3,
                   engine="c")
    try:
        table = pd.read_csv(io.BytesIO(data), dtype=dtypes, na_values={
            name: (na if dtype is not str or rename[name] == "CHR" else [])
            for name, dtype in dtypes.items()}, **options)
    except (ValueError, OverflowError):
        check_utf8(data, path)
        text = pd.read_csv(io.BytesIO(data), dtype=str, **options)
        for name, dtype in dtypes.items():
            if dtype is not str:
                first_non_numeric(text[name], path, name, colno[rename[name]], lines)
        raise InputError("the numeric columns could not be read (no single value found to "
                         "blame)", path) from None
    return table.rename(columns=rename)


def _additive_test_rows(table: pd.DataFrame, lines: np.ndarray, path, names: dict,
                        colno: dict, notes: list) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of the additive test and their file lines, when the file has a TEST column
    (plink2 ``--glm`` with covariates writes one row per variant and test: ADD, then one per
    covariate; regenie too); a note in ``notes`` counts the other rows dropped. A TEST column
    without ADD rows (``--glm dominant``, ``recessive``, ...) is an :class:`InputError`."""
    if "TEST" not in table:
        return table, lines
    test = table["TEST"].astype(str).str.strip().str.upper()
    table = table.drop(columns="TEST")
    add = (test == "ADD").to_numpy()
    others = ", ".join(pd.unique(test[~add])[:5]) + (", ..." if test[~add].nunique() > 5 else "")
    if not add.any():
        raise InputError(
            f"column {names['TEST']} (the test of each row, as plink2 --glm and regenie write) "
            f"has no ADD row, the additive test whose per-allele effects are read; it has "
            f"{others}: rerun the GWAS with the additive model (plink2 --glm without "
            "dominant/recessive/genotypic/hethom)", path, int(lines[0]), colno["TEST"])
    if add.all():
        return table, lines
    notes.append(f"read the {int(add.sum())} rows with {names['TEST']} = ADD (the additive "
                 f"test of plink2 --glm / regenie); {int((~add).sum())} rows of other tests "
                 f"({others}: covariates, interactions) not read")
    return table.loc[add].reset_index(drop=True), lines[add]


def map_distinct(values, func) -> np.ndarray:
    """``func`` applied to each distinct string once (alleles and chromosomes repeat a lot)."""
    codes, uniques = pd.factorize(pd.Series(values).astype(str))
    return np.asarray([func(u) for u in uniques], dtype=object)[codes]


def strip_chr(label: str) -> str:
    """Chromosome label without a ``chr`` prefix (any case)."""
    return label[3:] if label[:3].lower() == "chr" else label


def _to_canonical(table: pd.DataFrame, path: Path, colno: dict, n_default, lines,
                  names: dict, warnings: list,
                  prefer_z: bool = False) -> tuple[pd.DataFrame, list]:
    """Convert the parsed, renamed table to canonical columns, deriving what can be derived
    (``names``: canonical or intermediate name -> the file's column; contradictions found
    are added to ``warnings``; ``prefer_z``: :func:`read_sumstats`)."""
    notes: list[str] = []
    num = {c: table[c].to_numpy(dtype=np.float64)
           for c in (*NUMERIC_COLUMNS, "OR", "NCASE", "NCONTROL", "LOG10P") if c in table}
    n_rows = len(table)
    nan = np.full(n_rows, np.nan)
    out = pd.DataFrame(index=pd.RangeIndex(n_rows))

    chrom = table["CHR"] if "CHR" in table else None
    bp = table["BP"].to_numpy(dtype=np.float64) if "BP" in table else None
    if "CHRPOS" in table and (chrom is None or bp is None):
        parts = table["CHRPOS"].astype(str).str.split(":", n=2, expand=True)
        if parts.shape[1] < 2:
            raise InputError("CHR:BP column values must look like 1:12345", path, 2, colno["CHRPOS"])
        first_non_numeric(parts[1], path, "CHR:BP", colno["CHRPOS"], lines)
        chrom, bp = parts[0], pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=np.float64)
        notes.append("CHR and BP split from the CHR:BP column")
    if chrom is not None:
        known = pd.Series(chrom).notna().to_numpy()
        chrom = pd.Series(np.where(known, map_distinct(chrom, strip_chr), np.nan), dtype="str")
    if "SNP" in table:
        out["SNP"] = table["SNP"].astype(str).to_numpy()
    elif chrom is not None and bp is not None:
        out["SNP"] = (chrom + ":" + pd.Series(bp).astype("Int64").astype(str)).to_numpy()
        notes.append("SNP = CHR:BP")
    else:
        raise InputError("no SNP column and no CHR/BP columns to build SNP ids from", path, 1)
    out["CHR"] = pd.array(chrom.to_numpy() if chrom is not None else nan, dtype="str")
    bp_int = pd.array(np.where(np.isnan(bp), 0, bp).astype(np.int64), dtype="Int64") if bp is not None \
        else pd.array([pd.NA] * n_rows, dtype="Int64")
    if bp is not None:
        bp_int[np.isnan(bp)] = pd.NA
    out["BP"] = bp_int

    if "REF_ALLELE" in table:
        ref, alt, a1 = (map_distinct(table[c], str.upper) for c in ("REF_ALLELE", "ALT_ALLELE", "A1"))
        table = table.assign(A2=np.where(a1 == ref, alt, ref))
        notes.append("A2 = whichever of REF/ALT is not A1")
    for allele in ("A1", "A2"):
        if allele not in table:
            raise InputError(f"missing required column {allele} (effect/other allele)", path, 1)
        out[allele] = map_distinct(table[allele], str.upper)

    beta = num.get("BETA")
    if beta is None and "OR" in num:
        odds = num["OR"]
        with np.errstate(divide="ignore", invalid="ignore"):
            beta = np.where(odds > 0, np.log(np.where(odds > 0, odds, 1.0)), np.nan)
        notes.append("BETA = log(OR); SE taken as the SE of log(OR)")
    se = num.get("SE")
    z = num.get("Z")
    p = num.get("P")
    if p is None and "LOG10P" in num:
        _refuse_log10_p(num["LOG10P"], path, names["LOG10P"], colno["LOG10P"], lines)
        p = 10.0 ** -num["LOG10P"]
        notes.append("P = 10^-LOG10P")
    if z is None:
        if beta is not None and se is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                z = beta / se
            notes.append("Z = BETA / SE")
        elif beta is not None and p is not None:
            from scipy.special import ndtri  # here: 36 ms of imports that a .ma never needs

            z = np.sign(beta) * -ndtri(p / 2.0)  # the normal's isf
            notes.append("Z = sign(BETA) * Phi^-1(1 - P/2); SE = BETA / Z")
            underflowed = (p == 0) & (beta != 0)
            if underflowed.any():  # no finite Z: missing, not an SE of 0
                z = np.where(underflowed, np.nan, z)
                notes.append(f"{int(underflowed.sum())} SNPs with P = 0 (too small for the "
                             "file's precision) have no Z or SE to derive: missing (give SE "
                             "or Z to keep them)")
            se = _se_from_beta_z(beta, z, notes, "P = 1 or BETA = 0")
        else:
            raise InputError("need a Z column, or BETA (or OR) with SE or P", path, 1)
    elif beta is not None and se is None:
        notes.append("SE = BETA / Z (no SE column)")
        se = _se_from_beta_z(beta, z, notes, "in the file")
    elif beta is None and se is not None:
        beta = z * se
        notes.append("BETA = Z * SE (no BETA column)")
    elif beta is not None:
        z = _z_agreeing_with_beta_se(beta, se, z, lines, names, notes, warnings, prefer_z)
    if p is None:
        from scipy.special import ndtr

        p = 2.0 * ndtr(-np.abs(z))  # the normal's sf
        notes.append("P = 2 Phi(-|Z|)")

    n_col = num.get("N")
    if "NCASE" in num and "NCONTROL" in num:
        with np.errstate(divide="ignore", invalid="ignore"):
            n_col = 4.0 / (1.0 / num["NCASE"] + 1.0 / num["NCONTROL"])
        notes.append("N = 4 / (1/NCASE + 1/NCONTROL) (effective sample size)")
    if n_default is not None:
        n_col, note = _default_n(n_col, float(n_default), n_rows, names)
        notes.append(note)

    freq = num.get("FREQ", nan)
    if isinstance(freq, np.ndarray) and (freq == -1).any():  # GCTB's "frequency unknown"
        notes.append(f"FREQ -1 read as unknown in {int((freq == -1).sum())} rows (GCTB's "
                     "convention; the LD reference's frequency is used)")
        freq = np.where(freq == -1, nan, freq)
    out["FREQ"] = freq
    out["BETA"] = beta if beta is not None else nan
    out["SE"] = se if se is not None else nan
    out["Z"] = z
    out["P"] = p
    out["N"] = n_col if n_col is not None else nan
    out["INFO"] = num.get("INFO", nan)
    return out[CANONICAL_COLUMNS], notes


#: a Z column disagrees with BETA / SE on a row when |BETA/SE - Z| > Z_ABS + Z_REL |Z|
#: (files round each column on its own: 3 significant digits stay well inside this)
Z_ABS, Z_REL = 0.05, 0.05
#: share of the rows above which a disagreement is a warning rather than a note
Z_WARN_SHARE = 0.01


def _z_agreeing_with_beta_se(beta, se, z, lines, names: dict, notes: list,
                             warnings: list, prefer_z: bool = False) -> np.ndarray:
    """Z when the file gives BETA (or OR), SE and Z: the file's Z when it agrees with
    BETA / SE on every row (within :data:`Z_ABS` + :data:`Z_REL` |Z|), else BETA / SE wherever
    BETA and SE are given (the file's Z only where one of them is missing), so that analyses
    of Z and of BETA/SE (``.ma``) use the same input; with ``prefer_z`` (MiXeR's reading) the
    file's Z as it is. A note, or a warning above :data:`Z_WARN_SHARE` of the rows, names the
    count and the first disagreeing line, and which of the two is used."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = beta / se
        both = np.isfinite(ratio)
        off = both & (np.abs(ratio - z) > Z_ABS + Z_REL * np.abs(z))
    if not off.any():
        return z
    compared = int((both & np.isfinite(z)).sum())
    i = int(np.flatnonzero(off)[0])
    opposite = int((off & (np.sign(ratio) * np.sign(z) < 0)).sum())
    beta_name = names.get("BETA", f"log({names.get('OR')})")
    text = (f"column {names['Z']} disagrees with {beta_name} / {names['SE']} on "
            f"{int(off.sum())} of {compared} rows (|BETA/SE - Z| > {Z_ABS:g} + {Z_REL:g} |Z|; "
            f"first: line {int(lines[i])}, BETA {beta[i]:.6g}, SE {se[i]:.6g}, BETA/SE "
            f"{ratio[i]:.6g}, Z {z[i]:.6g})")
    if opposite:
        text += (f"; on {opposite} of them Z has the opposite sign to BETA, the usual symptom "
                 "of BETA and Z given for different alleles (an allele swap between the "
                 "columns)")
    text += (f"; the {names['Z']} column is used as it is (MiXeR reads only Z)" if prefer_z else
             "; Z = BETA / SE is used wherever BETA and SE are given (the Z column only where "
             "one is missing)") + ": check the file, and remove the column that is wrong"
    (warnings if off.sum() > Z_WARN_SHARE * compared else notes).append(text)
    return z if prefer_z else np.where(both, ratio, z)


def _se_from_beta_z(beta, z, notes: list, why: str) -> np.ndarray:
    """SE = BETA / Z; missing (with a note in ``notes``) where Z = 0 (``why``: when that
    happens), which leaves no SE to derive, rather than an infinite or negative SE."""
    with np.errstate(divide="ignore", invalid="ignore"):
        se = beta / z
    zero = z == 0
    if zero.any():
        se = np.where(zero, np.nan, se)
        notes.append(f"{int(zero.sum())} SNPs with Z = 0 ({why}) have no SE to derive (SE = "
                     "BETA / Z): missing (give SE to keep them)")
    return se


def _refuse_log10_p(log10p: np.ndarray, path, name: str, column: int, lines) -> None:
    """A LOG10P column must hold -log10(P) >= 0: an :class:`InputError` (at the first negative
    value) when most of its non-zero values are negative, i.e. it holds log10(P), which would
    give every SNP a P above 1."""
    with np.errstate(invalid="ignore"):
        negative, nonzero = log10p < 0, np.isfinite(log10p) & (log10p != 0)
    if negative.sum() and negative.sum() * 2 > nonzero.sum():
        raise InputError(
            f"column {name} is read as -log10(P), but {int(negative.sum())} of its "
            f"{int(nonzero.sum())} non-zero values are negative: it seems to hold log10(P) "
            "(every P would exceed 1); negate the column, or give a P column instead",
            path, int(lines[np.flatnonzero(negative)[0]]), column)


def _default_n(n_col, n_default: float, n_rows: int, names: dict) -> tuple[np.ndarray, str]:
    """N with ``n_default`` (``read_sumstats(n=...)``, munge's ``--n``) where the file gives
    none, and the note saying where it was used (or that it was not)."""
    if n_col is None:
        return np.full(n_rows, n_default), f"N = {n_default:.10g} for every SNP (no N column)"
    gaps = np.isnan(n_col)
    source = (f"columns {names['NCASE']} and {names['NCONTROL']}"
              if {"NCASE", "NCONTROL"} <= names.keys() else f"column {names.get('N')}")
    if not gaps.any():
        return n_col, (f"N = {n_default:.10g} not used: the file gives N for every SNP "
                       f"({source})")
    return np.where(gaps, n_default, n_col), (f"N = {n_default:.10g} for the {int(gaps.sum())} "
                                              f"SNPs without N in the file ({source})")


def _format_column(values, spec: str = ".8g") -> list[str]:
    """Numbers as text (format ``spec``), NaN written as ``NA``."""
    return [format(v, spec) if v == v else "NA"
            for v in np.asarray(values, dtype=np.float64).tolist()]


def _text_column(values: pd.Series) -> list[str]:
    """Values as text, missing ones (NaN, <NA>) written as ``NA``."""
    return values.astype(object).where(values.notna(), "NA").astype(str).tolist()


def _write_columns(df: pd.DataFrame, path, spec: list[tuple[str, str, str | None]], sep: str) -> None:
    """Write ``df`` atomically: header names, source columns and number formats from ``spec``
    (name, column, format spec or None for text)."""
    columns = [_text_column(df[column]) if fmt is None else _format_column(df[column], fmt)
               for _, column, fmt in spec]
    with atomic_open(path, "wt") as fh:
        fh.write(sep.join(name for name, _, _ in spec) + "\n")
        for start in range(0, len(df), 100_000):
            rows = zip(*(c[start:start + 100_000] for c in columns))
            fh.write("".join(sep.join(row) + "\n" for row in rows))


def write_ma(df: pd.DataFrame, path) -> None:
    """Write a GCTA-COJO/GCTB ``.ma`` file: ``SNP A1 A2 freq b se p N``, space separated.

    ``b`` is the per-allele effect of A1 (BETA). Rows with unknown BETA/SE (Z-only input)
    cannot be expressed in ``.ma`` and raise :class:`ValueError`; unknown FREQ is written
    as ``NA``.
    """
    if df[["BETA", "SE"]].isna().any().any():
        raise ValueError("the .ma format needs BETA and SE for every SNP (harmonise first, or "
                         "the input had only Z)")
    _write_columns(df, path, [("SNP", "SNP", None), ("A1", "A1", None), ("A2", "A2", None),
                              ("freq", "FREQ", ".8g"), ("b", "BETA", ".8g"), ("se", "SE", ".8g"),
                              ("p", "P", ".8g"), ("N", "N", ".10g")], sep=" ")


def write_sumstats(df: pd.DataFrame, path) -> None:
    """Write LDSC/MiXeR-style summary statistics (tab-separated; gzip when ``path`` ends .gz).

    Columns ``SNP CHR BP A1 A2 N Z BETA SE P FRQ`` (each only when known for some SNP; Z is
    always written), A1 being the effect allele and FRQ its frequency.
    """
    spec = [("SNP", "SNP", None)]
    if "CHR" in df and df["CHR"].notna().any():
        spec.append(("CHR", "CHR", None))
    if "BP" in df and df["BP"].notna().any():
        spec.append(("BP", "BP", None))
    spec += [("A1", "A1", None), ("A2", "A2", None), ("N", "N", ".10g"), ("Z", "Z", ".8g")]
    for name, column in (("BETA", "BETA"), ("SE", "SE"), ("P", "P"), ("FRQ", "FREQ")):
        if column in df and df[column].notna().any():
            spec.append((name, column, ".8g"))
    _write_columns(df, path, spec, sep="\t")


def beta_se_from_z(z, n, freq) -> tuple[np.ndarray, np.ndarray]:
    """Per-allele effect and SE implied by a z-score for a trait of variance 1.

    b = z / sqrt(2p(1-p) (N + z^2)), se = 1 / sqrt(2p(1-p) (N + z^2)) with p the A1 frequency
    (Zhu et al. 2016, Nat Genet 48:481, the SMR conversion). Exact for a least-squares
    regression on a standardised phenotype up to the N vs N - 2 degrees of freedom.
    """
    z, n, freq = (np.asarray(a, dtype=np.float64) for a in (z, n, freq))
    with np.errstate(divide="ignore", invalid="ignore"):
        se = 1.0 / np.sqrt(2.0 * freq * (1.0 - freq) * (n + z * z))
    return z * se, se


def fill_beta_se(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Fill missing BETA/SE; a BETA or SE the table has is never replaced.

    Rows with BETA but no SE get SE = BETA / Z (missing where Z = 0), rows with SE but no
    BETA get BETA = Z * SE, and rows with neither get both from Z, N and FREQ with
    :func:`beta_se_from_z` (variance-1 trait; rows lacking FREQ or N stay NaN). Returns a
    copy and the number of rows filled by :func:`beta_se_from_z`.
    """
    out = df.copy()
    beta, se, z = (out[c].to_numpy(dtype=np.float64) for c in ("BETA", "SE", "Z"))
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(np.isnan(se) & ~np.isnan(beta) & (z != 0), beta / z, se)
    beta = np.where(np.isnan(beta), z * se, beta)
    fill = np.isnan(beta) & np.isnan(se)
    if fill.any():
        beta_z, se_z = beta_se_from_z(z, out["N"], out["FREQ"])
        beta, se = np.where(fill, beta_z, beta), np.where(fill, se_z, se)
    out["BETA"], out["SE"] = beta, se
    return out, int((fill & ~np.isnan(beta)).sum())
