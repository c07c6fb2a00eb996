"""Chromosome codes and genomic regions: PLINK 1 chromosome codes, region files, the MHC.

Shared by the genotype reader (:mod:`bayesmix.io.plink`) and the harmonisation of summary
statistics (:mod:`bayesmix.io.harmonise`) for ``--exclude-mhc`` and ``--exclude-region``.
Positions are 1-based and regions inclusive of both ends.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import open_text
from bayesmix.io.sumstats import strip_chr

# 1-based inclusive coordinates of the extended MHC on chromosome 6.
MHC_REGIONS = {"hg19": ("6", 28_477_797, 33_448_354), "hg38": ("6", 28_510_120, 33_480_577)}
# PLINK 1 numeric codes of the non-autosomes, so "X" in one file matches "23" in another.
PLINK_CHROM_CODES = {"X": "23", "Y": "24", "XY": "25", "MT": "26", "M": "26"}


def chrom_code(label: str) -> str:
    """Chromosome label as PLINK 1 codes it: no ``chr`` prefix, X/Y/XY/MT as 23/24/25/26."""
    label = strip_chr(str(label))
    return PLINK_CHROM_CODES.get(label.upper(), label)


def read_regions(path) -> pd.DataFrame:
    """Read a region file: whitespace ``chr start end`` (1-based, inclusive) per line.

    A ``chr`` prefix is removed; lines starting with ``#`` and a header line whose start/end
    are not numbers are skipped. Returns columns chr (str), start, end (int64).
    """
    path = Path(os.fspath(path))
    rows = []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) < 3:
                raise InputError("expected chr start end", path, lineno)
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                if lineno == 1 and not rows:
                    continue  # header
                bad = 2 if not fields[1].lstrip("-").isdigit() else 3
                raise InputError(f"non-integer position {fields[bad - 1]!r}", path, lineno, bad) from None
            if end < start:
                raise InputError(f"region end {end} is before its start {start}", path, lineno, 3)
            rows.append((chrom_code(fields[0]), start, end))
    return pd.DataFrame(rows, columns=["chr", "start", "end"]).astype(
        {"chr": str, "start": np.int64, "end": np.int64})


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
