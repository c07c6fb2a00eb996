"""Wen & Stephens (2010) shrinkage LD estimator and the genetic map it needs.

The estimator works on haplotype-scale covariances S (half the allele-count covariance, with
1/n sample variances as in r). Off-diagonal entries are shrunk by the recombination factor
f_ij = exp(-rho_ij / (2m)), rho_ij = 4 Ne d_ij / 100 with d_ij the map distance in cM and m the
number of individuals behind the genetic map (``genmap_n``); f < ``cutoff`` is set to 0. Then
(their eq. 2.6, theta from Li & Stephens 2003)::

    Sigma = (1 - theta)^2 S_shrunk + theta/2 (1 - theta/2) I,
    theta = (1/h) / (2m + 1/h),  h = sum_{k=1}^{2m-1} 1/k,

and the stored matrix is the correlation Sigma_ij / sqrt(Sigma_ii Sigma_jj): unit diagonal,
positive definite. (GCTB instead keeps the covariance-like diagonal, which exceeds 1 for rare
SNPs; bayesmix stores the correlation so that every LD kind is on the same r scale.)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import open_text

DEFAULT_NE = 11400.0
DEFAULT_GENMAP_N = 183
DEFAULT_CUTOFF = 1e-5


def read_genetic_map(path) -> pd.DataFrame:
    """Read a genetic map: whitespace ``SNP bp cM`` per line, no header (GCTB's format).

    Returns columns snp (str), bp (int64), cm (float64). Malformed lines raise
    :class:`InputError` naming the line and column.
    """
    rows = []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 3:
                raise InputError("expected 3 fields: SNP bp cM", path, lineno)
            try:
                bp = int(fields[1])
            except ValueError:
                raise InputError(f"bp {fields[1]!r} is not an integer", path, lineno, 2) from None
            try:
                cm = float(fields[2])
            except ValueError:
                raise InputError(f"cM {fields[2]!r} is not a number", path, lineno, 3) from None
            if not math.isfinite(cm):
                raise InputError(f"cM {fields[2]!r} is not finite", path, lineno, 3)
            rows.append((fields[0], bp, cm))
    if not rows:
        raise InputError("genetic map is empty", path)
    table = pd.DataFrame(rows, columns=["snp", "bp", "cm"])
    dup = table["snp"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"SNP {table['snp'].iloc[i]} listed twice", path, i + 1, 1)
    return table


def genetic_positions(snps: pd.DataFrame, *, gen_map=None, cm_per_mb: float | None = None):
    """Map positions (cM) for ``snps``, from a map file/table or a constant cM-per-Mb rate.

    Returns ``(cm, known)``: float64 positions and a mask of SNPs with a usable position.
    As in GCTB, SNPs absent from the map or at map position 0 are unusable (dropped by the
    caller). Exactly one of ``gen_map`` and ``cm_per_mb`` must be given: there is no silent
    default recombination rate.
    """
    if (gen_map is None) == (cm_per_mb is None):
        raise InputError("shrunk LD needs a genetic map (--gen-map FILE with SNP bp cM) or an "
                         "explicit recombination rate (--cm-per-mb RATE), exactly one of them")
    if cm_per_mb is not None:
        if not cm_per_mb > 0:
            raise InputError(f"--cm-per-mb must be positive, not {cm_per_mb}")
        cm = snps["bp"].to_numpy(dtype=np.float64) * (cm_per_mb / 1e6)
        return cm, np.ones(len(snps), dtype=bool)
    table = gen_map if isinstance(gen_map, pd.DataFrame) else read_genetic_map(gen_map)
    lookup = table.set_index("snp")["cm"]
    cm = snps["snp"].map(lookup).to_numpy(dtype=np.float64)
    known = np.isfinite(cm) & (cm != 0)
    return np.where(known, cm, 0.0), known


def wen_stephens_theta(genmap_n: int) -> float:
    """theta = (1/h) / (2m + 1/h), h = sum_{k=1}^{2m-1} 1/k, m = ``genmap_n``."""
    h = float(np.sum(1.0 / np.arange(1, 2 * genmap_n)))
    return (1.0 / h) / (2 * genmap_n + 1.0 / h)


def max_shrinkage_distance_cm(ne: float, genmap_n: int, cutoff: float) -> float:
    """Map distance (cM) beyond which the shrinkage factor falls below ``cutoff``."""
    return -math.log(cutoff) * 2.0 * genmap_n * 100.0 / (4.0 * ne)


def shrink_block(r, row_var, col_var, row_cm, col_cm, same_snp, *, ne, genmap_n, cutoff):
    """Wen-Stephens shrunk correlations for a block of sample correlations ``r``.

    Parameters
    ----------
    r : (B, C) sample correlations of allele counts.
    row_var, col_var : allele-count variances (1/n) of the row / column SNPs.
    row_cm, col_cm : map positions in cM.
    same_snp : (B, C) bool, True where the row and column are the same SNP (set to 1).

    Returns float32 (B, C).
    """
    theta = wen_stephens_theta(genmap_n)
    keep = (1.0 - theta) ** 2
    noise = 0.5 * theta * (1.0 - 0.5 * theta)
    v_row = 0.5 * np.asarray(row_var, dtype=np.float64)       # haplotype scale
    v_col = 0.5 * np.asarray(col_var, dtype=np.float64)
    dist = np.abs(np.asarray(row_cm, dtype=np.float64)[:, None] - np.asarray(col_cm)[None, :])
    factor = np.exp(-(4.0 * ne * dist / 100.0) / (2.0 * genmap_n))
    factor[factor < cutoff] = 0.0
    cov = keep * factor * np.asarray(r, dtype=np.float64) * np.sqrt(v_row[:, None] * v_col[None, :])
    d_row = keep * v_row + noise
    d_col = keep * v_col + noise
    out = cov / np.sqrt(d_row[:, None] * d_col[None, :])
    out[same_snp] = 1.0
    return out.astype(np.float32)
