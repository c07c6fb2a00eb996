"""Chromosome codes and genomic regions: PLINK 1 chromosome codes, region files, the MHC.

Shared by the genotype reader (:mod:`bayesmix.io.plink`) and the harmonisation of summary
statistics (:mod:`bayesmix.io.harmonise`) for ``--exclude-mhc`` and ``--exclude-region``.
Positions are 1-based and regions inclusive of both ends, except in region files given to
``bayesmix-gctb``, which are read as GCTB reads them: a region covers the positions strictly
between its start and end (:class:`~bayesmix.io.files.GctbRules`).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import open_text
from bayesmix.io.gctb_rules import gctb_rules
from bayesmix.io.sumstats import strip_chr

# 1-based inclusive coordinates of the extended MHC on chromosome 6, and GCTB's MHC (its
# --exclude-mhc: 28 Mb < bp < 34 Mb on chromosome 6, whatever the build)
MHC_REGIONS = {"hg19": ("6", 28_477_797, 33_448_354), "hg38": ("6", 28_510_120, 33_480_577),
               "gctb": ("6", 28_000_001, 33_999_999)}
# PLINK 1 numeric codes of the non-autosomes, so "X" in one file matches "23" in another.
PLINK_CHROM_CODES = {"X": "23", "Y": "24", "XY": "25", "MT": "26", "M": "26"}


def chrom_code(label: str) -> str:
    """Chromosome label as PLINK 1 codes it: no ``chr`` prefix, X/Y/XY/MT as 23/24/25/26."""
    label = strip_chr(str(label))
    return PLINK_CHROM_CODES.get(label.upper(), label)


def read_regions(path) -> pd.DataFrame:
    """Read a region file: whitespace ``chr start end`` (1-based, inclusive) per line.

    A ``chr`` prefix is removed; blank lines, lines starting with ``#`` and a header line are
    skipped. Only the first line can be a header, and only if it does not look like data:
    neither a chromosome-like first field (``22``, ``chr22``, ``X``) nor a number-like start
    or end. Positions are integers; a number written with a decimal point or exponent is
    accepted when it is a whole number (``16000000.0``, ``1.6e7``). Anything else (a
    fraction, thousands separators, a word) is an error naming the file, line and column, so
    no region is dropped silently. Returns columns chr (str), start, end (int64), 1-based and
    inclusive: for a file given to ``bayesmix-gctb`` (:class:`~bayesmix.io.files.GctbRules`)
    each region is GCTB's open interval (start, end), i.e. start + 1 .. end - 1, and a region
    with nothing strictly inside is left out.
    """
    open_ends = gctb_rules(path)
    path = Path(os.fspath(path))
    rows = []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) < 3:
                raise InputError("expected chr start end", path, lineno)
            if not rows and lineno == 1 and not _looks_like_data(fields):
                continue  # header
            start, end = (_position(fields[k], path, lineno, k + 1) for k in (1, 2))
            if end < start:
                raise InputError(f"region end {end} is before its start {start}", path, lineno, 3)
            if open_ends:
                start, end = start + 1, end - 1
                if end < start:
                    continue
            rows.append((chrom_code(fields[0]), start, end))
    return pd.DataFrame(rows, columns=["chr", "start", "end"]).astype(
        {"chr": str, "start": np.int64, "end": np.int64})


_NUMBER_LIKE = re.compile(r"[+-]?[\d.,_']*\d[\d.,_']*([eE][+-]?\d+)?")


def _looks_like_data(fields: list) -> bool:
    """Whether a ``chr start end`` line is data rather than a header (:func:`read_regions`)."""
    return (chrom_code(fields[0]).isdigit()
            or any(_NUMBER_LIKE.fullmatch(f) for f in fields[1:3]))


def _position(text: str, path, lineno: int, column: int) -> int:
    """A region file's start or end as an integer; whole numbers written as floats accepted."""
    try:
        return int(text)
    except ValueError:
        pass
    if "," in text or "'" in text:
        raise InputError(f"position {text!r} is not a plain integer (a thousands separator "
                         "or decimal comma?): write positions as digits only", path, lineno,
                         column)
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"non-integer position {text!r}", path, lineno, column) from None
    if not math.isfinite(value) or value != round(value):
        raise InputError(f"position {text!r} is not a whole number", path, lineno, column)
    return int(value)


def region_masks(chrom: np.ndarray, bp: np.ndarray, exclude_mhc: str | None = None,
                 exclude_regions=None) -> list[tuple[str, np.ndarray]]:
    """(rule, mask) of the SNPs inside the MHC of genome build ``exclude_mhc`` and inside the
    regions of ``exclude_regions`` (a ``chr start end`` path or a :func:`read_regions`
    table). ``chrom`` are PLINK chromosome codes (:func:`chrom_code`), ``bp`` positions."""
    masks = []
    if exclude_mhc is not None:
        if exclude_mhc not in MHC_REGIONS:
            raise InputError(f"unknown genome build {exclude_mhc!r} for the MHC; choose one "
                             f"of {', '.join(MHC_REGIONS)}")
        c, start, end = MHC_REGIONS[exclude_mhc]
        masks.append((f"MHC ({exclude_mhc} chr{c}:{start}-{end})",
                      (chrom == c) & (bp >= start) & (bp <= end)))
    if exclude_regions is not None:
        regions = (exclude_regions if isinstance(exclude_regions, pd.DataFrame)
                   else read_regions(exclude_regions))
        masks.append(("excluded regions", _in_regions(chrom, bp, regions)))
    return masks


def _in_regions(chrom: np.ndarray, bp: np.ndarray, regions: pd.DataFrame) -> np.ndarray:
    """Boolean mask of positions inside any region (1-based, inclusive)."""
    inside = np.zeros(len(chrom), dtype=bool)
    for c, start, end in regions[["chr", "start", "end"]].itertuples(index=False):
        inside |= (chrom == chrom_code(c)) & (bp >= start) & (bp <= end)
    return inside
