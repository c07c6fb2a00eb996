"""GCTB LD matrix files (``PREFIX.ldm.TYPE.bin`` + ``.info``) and a text dump.

Layout (GCTB 2.x; notes/gctb-facts.md, checked against GCTB's source):

- ``.info``: one header line, then one row per SNP in matrix order, 15 whitespace-separated
  columns ``Chrom ID GenPos PhysPos A1 A2 A1Freq Index WindStart WindEnd WindSize WindWidth N
  SamplVar LDsum``: GenPos in cM, PhysPos in bp, A1Freq the A1 frequency, Index 0-based,
  WindStart/WindEnd the first/last stored column (0-based), WindSize the number of values
  stored for the row, WindWidth the bp span of the window, N the LD panel size,
  SamplVar = sum_j (1 - r_ij^2)^2 / N and LDsum = sum_j r_ij over the stored j (SamplVar is
  0 in shrunk files). Headerless layouts of older versions are read too: 12 columns
  (``Chrom ID GenPos PhysPos A1 A2 Index WindStart WindEnd WindSize WindWidth N``, no
  frequency: freq becomes NaN), 14 (no LDsum) or 16 (extra Skeleton column).
- ``.bin``: raw little-endian, no header, rows in ``.info`` order. ``full``, ``band`` and
  ``shrunk``: WindSize float32 values r_{i, WindStart..WindEnd}. ``sparse``: WindSize uint32
  column indices (0-based, ascending) followed by WindSize float32 values. (Some later GCTB
  builds write float64 values; the reader tells them apart by the file size.)

The type is the token before ``.bin``. Only square matrices exist in GCTB. float32 values are
written and read bit for bit, so a float32 round trip is lossless.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open
from bayesmix.ld.store import LDMatrix

GCTB_TYPES = ("full", "band", "sparse", "shrunk")
INFO_COLUMNS = ["Chrom", "ID", "GenPos", "PhysPos", "A1", "A2", "A1Freq", "Index", "WindStart",
                "WindEnd", "WindSize", "WindWidth", "N", "SamplVar", "LDsum"]
_KIND_TO_TYPE = {"full": "full", "window": "band", "shrunk": "shrunk", "sparse": "sparse",
                 "r2": "sparse"}
_TYPE_TO_KIND = {"full": "full", "band": "window", "shrunk": "shrunk", "sparse": "sparse"}


def gctb_prefix(path) -> tuple[Path, str]:
    """Split ``X.ldm.TYPE[.bin|.info]`` into the prefix ``X.ldm.TYPE`` and TYPE."""
    path = Path(os.fspath(path))
    name = re.sub(r"\.(bin|info)$", "", path.name)
    m = re.search(r"\.ldm\.(full|band|sparse|shrunk)$", name)
    if not m:
        raise InputError("expected a GCTB LD file named PREFIX.ldm.TYPE(.bin/.info) with TYPE "
                         "one of full, band, sparse, shrunk", path)
    return path.with_name(name), m.group(1)


def write_gctb_ldm(ld: LDMatrix, out_prefix, gctb_type: str | None = None) -> Path:
    """Write ``OUT.ldm.TYPE.bin`` and ``.info``; returns the ``OUT.ldm.TYPE`` prefix.

    ``gctb_type`` defaults from the matrix kind (full -> full, window -> band, shrunk ->
    shrunk, sparse/r2 -> sparse). Dense-row types store every value between the first and
    last stored column of a row, with 0 for entries not stored.
    """
    if not ld.is_square:
        raise InputError("GCTB LD files are square: only square matrices can be written")
    gctb_type = gctb_type or _KIND_TO_TYPE.get(ld.kind, "sparse")
    if gctb_type not in GCTB_TYPES:
        raise InputError(f"GCTB type must be one of {', '.join(GCTB_TYPES)}, not {gctb_type!r}")
    out_prefix = Path(os.fspath(out_prefix))
    if not re.search(r"\.ldm\.(full|band|sparse|shrunk)$", out_prefix.name):
        out_prefix = out_prefix.with_name(f"{out_prefix.name}.ldm.{gctb_type}")
    indptr, indices, values = ld.csr_arrays()
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    snps = ld.snps
    n_rows = ld.shape[0]
    bp = snps["bp"].to_numpy()
    counts = np.diff(indptr)
    if (counts == 0).any():
        i = int(np.flatnonzero(counts == 0)[0])
        raise InputError(f"row {i + 1} ({snps['snp'].iloc[i]}) stores no values; GCTB needs "
                         f"at least the diagonal")
    rows = np.repeat(np.arange(n_rows), counts)
    within = np.arange(len(indices)) - np.repeat(indptr[:-1], counts)
    if gctb_type == "full":
        starts, ends = np.zeros(n_rows, np.int64), np.full(n_rows, n_rows - 1, np.int64)
    else:
        starts, ends = indices[indptr[:-1]], indices[indptr[1:] - 1]
    if gctb_type == "sparse":
        sizes = counts
        words = np.empty(2 * len(indices), dtype="<u4")     # per row: indices, then values
        first = np.repeat(2 * indptr[:-1], counts) + within
        words[first] = indices
        words[first + np.repeat(counts, counts)] = np.asarray(values, "<f4").view("<u4")
        payload = words
    else:
        sizes = ends - starts + 1
        offsets = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        payload = np.zeros(offsets[-1], dtype="<f4")
        payload[offsets[rows] + indices - starts[rows]] = values
    r64 = np.asarray(values, dtype=np.float64)
    # GCTB writes the panel size (number of kept individuals) as N for every SNP
    n_panel = (np.full(n_rows, float(ld.n_samples)) if ld.n_samples
               else snps["n"].to_numpy().astype(np.float64))
    ld_sum = np.bincount(rows, weights=r64, minlength=n_rows)
    sampl_var = np.zeros(n_rows)
    if gctb_type != "shrunk":
        sums = np.bincount(rows, weights=(1.0 - r64 * r64) ** 2, minlength=n_rows)
        sampl_var = np.where(n_panel > 0, sums / np.where(n_panel > 0, n_panel, 1), 0.0)
    with atomic_open(f"{out_prefix}.bin", "wb") as fh:
        payload.tofile(fh)
    info = pd.DataFrame({
        "Chrom": snps["chr"], "ID": snps["snp"], "GenPos": snps["cm"], "PhysPos": bp,
        "A1": snps["a1"], "A2": snps["a2"], "A1Freq": snps["freq"], "Index": np.arange(n_rows),
        "WindStart": starts, "WindEnd": ends, "WindSize": sizes,
        "WindWidth": bp[ends] - bp[starts], "N": n_panel.astype(np.int64),
        "SamplVar": sampl_var, "LDsum": ld_sum,
    })
    with atomic_open(f"{out_prefix}.info", "wt") as fh:
        info.to_csv(fh, sep=" ", index=False, float_format="%.9g")
    return out_prefix


def read_gctb_ldm(path, *, dtype: str = "float32") -> LDMatrix:
    """Read ``PREFIX.ldm.TYPE.bin`` + ``.info`` (``path`` may name either file or the prefix)."""
    prefix, gctb_type = gctb_prefix(path)
    info_path, bin_path = Path(f"{prefix}.info"), Path(f"{prefix}.bin")
    for p in (info_path, bin_path):
        if not p.exists():
            raise InputError("file not found", p)
    info = _read_info(info_path)
    m = len(info)
    sizes = info["WindSize"].to_numpy(dtype=np.int64)
    starts = info["WindStart"].to_numpy(dtype=np.int64)
    ends = info["WindEnd"].to_numpy(dtype=np.int64)
    # GCTB 2.x writes float32 values; some later builds write float64: tell them by size
    index_bytes = 4 if gctb_type == "sparse" else 0
    actual = bin_path.stat().st_size
    for width in (4, 8):
        if actual == int(sizes.sum()) * (index_bytes + width):
            break
    else:
        expected = int(sizes.sum()) * (index_bytes + 4)
        raise InputError(f"size {actual} bytes does not match the WindSize column of "
                         f"{info_path.name} ({expected} bytes expected for {gctb_type} rows of "
                         f"float32, or the float64 equivalent); the .bin and .info files do not "
                         f"belong together", bin_path)
    raw = np.fromfile(bin_path, dtype="<u4")
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    if gctb_type == "sparse":
        # row i: sizes[i] uint32 column indices, then sizes[i] values of `width` bytes
        words = (4 + width) // 4 * indptr[:-1]          # start of each row, in 4-byte words
        within = np.arange(indptr[-1]) - np.repeat(indptr[:-1], sizes)
        index_pos = np.repeat(words, sizes) + within
        cols = raw[index_pos]
        value_pos = np.repeat(words + sizes, sizes) + within * (width // 4)
        if width == 4:
            values = raw[value_pos].view("<f4").astype(np.float32)
        else:
            pairs = np.stack([raw[value_pos], raw[value_pos + 1]], axis=1)
            values = np.ascontiguousarray(pairs).view("<f8").ravel().astype(np.float32)
        row_of = np.repeat(np.arange(m), sizes)
        step = np.diff(cols.astype(np.int64))
        bad = (cols >= m) | np.concatenate([[False], (step <= 0) & (row_of[1:] == row_of[:-1])])
        if bad.any():
            i = int(row_of[np.flatnonzero(bad)[0]])
            raise InputError(f"row {i} ({info['ID'].iloc[i]}): column indices out of range "
                             f"or not ascending", bin_path)
        indices = cols.astype(np.int32)
    else:
        bad = np.flatnonzero((ends - starts + 1 != sizes) | (starts < 0) | (ends >= m))
        if len(bad):
            i = int(bad[0])
            raise InputError(f"WindStart/WindEnd/WindSize disagree ({starts[i]}, {ends[i]}, "
                             f"{sizes[i]})", info_path, i + 2)
        all_values = raw.view("<f4" if width == 4 else "<f8")
        indices = (np.repeat(starts - indptr[:-1], sizes) + np.arange(indptr[-1])).astype(np.int32)
        keep = (all_values != 0) | (indices == np.repeat(np.arange(m), sizes))
        counts = np.add.reduceat(keep.astype(np.int64), indptr[:-1]) if m else np.zeros(0, np.int64)
        counts[sizes == 0] = 0
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices, values = indices[keep], all_values[keep].astype(np.float32)
    snps = pd.DataFrame({
        "snp": info["ID"], "chr": info["Chrom"], "bp": info["PhysPos"], "cm": info["GenPos"],
        "a1": info["A1"], "a2": info["A2"], "freq": info["A1Freq"], "n": info["N"],
    })
    n_panel = int(info["N"].max()) if m else 0
    meta = {"kind": _TYPE_TO_KIND[gctb_type], "n_samples": n_panel, "gctb_type": gctb_type,
            "source": str(prefix)}
    return LDMatrix.from_csr(indptr, indices, values, snps, meta=meta, dtype=dtype)


def _read_info(path: Path) -> pd.DataFrame:
    """Parse a .info file (15-column header layout, or the headerless 12/14-token layouts)."""
    with open(path, "rt") as fh:
        first = fh.readline().split()
    header = bool(first) and first[0] == "Chrom"
    if header:
        table = pd.read_csv(path, sep=r"\s+", dtype={"Chrom": str, "ID": str, "A1": str,
                                                      "A2": str})
        if "A2Freq" in table and "A1Freq" not in table:
            table["A1Freq"] = 1.0 - table["A2Freq"]
    else:
        table = pd.read_csv(path, sep=r"\s+", header=None, dtype={0: str, 1: str, 4: str, 5: str})
        width = table.shape[1]
        if width not in (12, 14, 15, 16):
            raise InputError(f"headerless .info files must have 12 (oldest, no A1Freq), 14 (no "
                             f"LDsum), 15 or 16 (with Skeleton) columns, found {width}", path, 1)
        if width == 12:      # Chrom ID GenPos PhysPos A1 A2 Index WindStart WindEnd WindSize WindWidth N
            table.columns = INFO_COLUMNS[:6] + INFO_COLUMNS[7:13]
            table["A1Freq"] = np.nan
        else:
            table.columns = INFO_COLUMNS[:width] if width <= 15 else INFO_COLUMNS + ["Skeleton"]
    missing = [c for c in ("Chrom", "ID", "PhysPos", "A1", "A2", "A1Freq", "WindStart",
                           "WindEnd", "WindSize") if c not in table]
    if missing:
        raise InputError(f"missing columns {missing}", path, 1)
    for col in ("GenPos", "N"):
        if col not in table:
            table[col] = 0
    numeric = ["PhysPos", "WindStart", "WindEnd", "WindSize", "N", "GenPos"]
    if table["A1Freq"].notna().any() or header:
        numeric.append("A1Freq")
    for col in numeric:
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"non-numeric {col} {table[col].iloc[i]!r}", path,
                             i + 1 + header, list(table.columns).index(col) + 1)
        table[col] = values
    return table


def write_ldm_text(ld: LDMatrix, path) -> Path:
    """Text dump of the stored entries in the layout of GCTB's sparse ``--write-ldm-txt``.

    One line per stored entry, no header: ``i SNP_i j SNP_j r`` with 1-based row and column
    positions; r has 9 significant digits, enough to recover float32 values exactly (GCTB
    prints 6). Written atomically (``.gz`` compresses).
    """
    indptr, indices, values = ld.csr_arrays()
    rows = np.repeat(np.arange(ld.shape[0]), np.diff(np.asarray(indptr, dtype=np.int64)))
    table = pd.DataFrame({
        "i": rows + 1, "snp_i": ld.snps["snp"].to_numpy()[rows], "j": np.asarray(indices) + 1,
        "snp_j": ld.ref_snps["snp"].to_numpy()[indices], "r": values,
    })
    with atomic_open(path, "wt") as fh:
        table.to_csv(fh, sep=" ", index=False, header=False, float_format="%.9g")
    return Path(path)
