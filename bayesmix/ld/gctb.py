"""GCTB LD matrix files (``PREFIX.ldm.TYPE.bin`` + ``.info``) and a text dump.

Layout (GCTB 2.x, checked against GCTB's source; docs/formats.md, "GCTB files"):

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

The type is the token before ``.bin``. float32 values are written and read bit for bit, so a
float32 round trip is lossless.

Row pieces (GCTB's ``--make-full-ldm --snp i-j --out X`` writes ``X.snpi-j.ldm.full.bin`` and
``.info``; ``Data::makeLDmatrix`` / ``outputLDmatrix``, GCTB 2.05): the ``.info`` lists only
rows i..j, but ``Index`` stays the row's 0-based position in the whole matrix (i - 1 .. j - 1)
and WindStart, WindEnd and the sparse column indices are columns of the whole matrix (a full
piece stores all M columns of each row: WindStart 0, WindEnd M - 1, WindSize M). A piece
cannot be read alone (its column SNPs are the other pieces' rows):
:func:`read_gctb_pieces` reads a set of pieces that together cover 0..M-1 and
:func:`merge_gctb_pieces` joins them (GCTB's ``--mldm LIST --make-full-ldm``). GCTB itself
tells pieces from per-chromosome files by the first Index of the second file (0 for files of
their own); :func:`read_gctb_list` does the same for a whole ``--mldm`` list.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open
from bayesmix.ld.store import LDMatrix, merge

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
    last stored column of a row, with 0 for entries not stored. A row piece (rows i..j
    against all columns, e.g. ``build_ld(..., snp_range=(i, j))``) is written in GCTB's piece
    layout (module docstring): Index i - 1 .. j - 1, columns of the whole matrix; name it
    ``X.snpi-j`` as GCTB does.
    """
    gctb_type = gctb_type or _KIND_TO_TYPE.get(ld.kind, "sparse")
    if gctb_type not in GCTB_TYPES:
        raise InputError(f"GCTB type must be one of {', '.join(GCTB_TYPES)}, not {gctb_type!r}")
    first_row = 0 if ld.is_square else _piece_offset(ld)
    out_prefix = Path(os.fspath(out_prefix))
    if not re.search(r"\.ldm\.(full|band|sparse|shrunk)$", out_prefix.name):
        out_prefix = out_prefix.with_name(f"{out_prefix.name}.ldm.{gctb_type}")
    indptr, indices, values = ld.csr_arrays()
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    snps = ld.snps
    n_rows, n_cols = ld.shape
    col_bp = ld.ref_snps["bp"].to_numpy()
    counts = np.diff(indptr)
    if (counts == 0).any():
        i = int(np.flatnonzero(counts == 0)[0])
        raise InputError(f"row {i + 1} ({snps['snp'].iloc[i]}) stores no values; GCTB needs "
                         f"at least the diagonal")
    rows = np.repeat(np.arange(n_rows), counts)
    within = np.arange(len(indices)) - np.repeat(indptr[:-1], counts)
    if gctb_type == "full":
        starts, ends = np.zeros(n_rows, np.int64), np.full(n_rows, n_cols - 1, np.int64)
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
        "Chrom": snps["chr"], "ID": snps["snp"], "GenPos": snps["cm"], "PhysPos": snps["bp"],
        "A1": snps["a1"], "A2": snps["a2"], "A1Freq": snps["freq"],
        "Index": first_row + np.arange(n_rows), "WindStart": starts, "WindEnd": ends,
        "WindSize": sizes, "WindWidth": col_bp[ends] - col_bp[starts],
        "N": n_panel.astype(np.int64), "SamplVar": sampl_var, "LDsum": ld_sum,
    })
    with atomic_open(f"{out_prefix}.info", "wt") as fh:
        info.to_csv(fh, sep=" ", index=False, float_format="%.9g")
    return out_prefix


def _piece_offset(ld: LDMatrix) -> int:
    """Position of a row piece's first row among its columns; the rows must be a contiguous
    run of the column SNPs (what ``--snp i-j`` builds)."""
    rows = ld.snps["snp"].to_numpy()
    cols = ld.ref_snps["snp"].to_numpy()
    first = int(pd.Index(cols).get_indexer(rows[:1])[0]) if len(rows) else -1
    if first < 0 or first + len(rows) > len(cols) or not (cols[first:first + len(rows)]
                                                           == rows).all():
        raise InputError("GCTB files hold square matrices or row pieces (rows i..j of the "
                         "columns, --snp i-j); the rows of this matrix are not a contiguous run "
                         "of its column SNPs")
    return first


def read_gctb_ldm(path, *, dtype: str = "float32", ref_snps: pd.DataFrame | None = None
                  ) -> LDMatrix:
    """Read ``PREFIX.ldm.TYPE.bin`` + ``.info`` (``path`` may name either file or the prefix).

    A row piece (module docstring) needs the SNP table of all columns, ``ref_snps`` (snp chr
    bp cm a1 a2 freq n, in column order): it is then returned as a rectangular LDMatrix of its
    rows against those columns. Pieces are usually read together with
    :func:`read_gctb_pieces`; without ``ref_snps`` a piece is an error that says so.
    """
    prefix, gctb_type = gctb_prefix(path)
    info = _read_info(_existing(Path(f"{prefix}.info")))
    return _decode(prefix, gctb_type, info, dtype, ref_snps)


def read_gctb_pieces(paths, *, dtype: str = "float32") -> list[LDMatrix]:
    """Row pieces ``X.snpi-j.ldm.TYPE`` of one matrix, as LDMatrix pieces over shared columns.

    The pieces (any order) must cover rows 0..M-1 of the whole matrix exactly once, by their
    Index column; the columns are their rows in Index order. Join them with
    :func:`bayesmix.ld.store.merge` (:func:`merge_gctb_pieces` does both).
    """
    named = [gctb_prefix(p) for p in paths]
    return _pieces(named, [_read_info(_existing(Path(f"{prefix}.info"))) for prefix, _ in named],
                   dtype)


def read_gctb_list(paths, *, dtype: str = "float32") -> LDMatrix:
    """The GCTB matrices of an ``--mldm`` list as one matrix, as GCTB reads such a list.

    Files whose Index starts at 0 are matrices of their own (one per chromosome or block) and
    are combined block-diagonally (:func:`bayesmix.ld.store.combine_ld`); when a file after
    the first does not start at Index 0, the files are row pieces of one matrix and are merged
    (:func:`merge_gctb_pieces`).
    """
    from bayesmix.ld.store import combine_ld

    named = [gctb_prefix(p) for p in paths]
    infos = [_read_info(_existing(Path(f"{prefix}.info"))) for prefix, _ in named]
    if any(len(info) and int(info["Index"].iloc[0]) != 0 for info in infos[1:]):
        merged = merge(_pieces(named, infos, dtype))
        merged.meta.pop("source", None)
        return merged
    return combine_ld(_decode(prefix, gctb_type, info, dtype, None)
                      for (prefix, gctb_type), info in zip(named, infos))


def _pieces(named, infos, dtype) -> list[LDMatrix]:
    """Decode row pieces (:func:`read_gctb_pieces`) from their parsed .info tables."""
    if not named:
        raise InputError("no LD matrix piece to read")
    order = np.argsort([int(info["Index"].iloc[0]) if len(info) else -1 for info in infos],
                       kind="stable")
    expected = 0
    for k in order:
        index = infos[k]["Index"].to_numpy(dtype=np.int64)
        if len(index) == 0 or index[0] != expected or (np.diff(index) != 1).any():
            got = f"Index {index[0]}..{index[-1]}" if len(index) else "no rows"
            raise InputError(f"pieces must cover the rows of one matrix once, in runs of "
                             f"consecutive Index values: this piece has {got} where Index "
                             f"{expected} comes next (a piece is missing, repeated or from "
                             f"another matrix)", f"{named[k][0]}.info")
        expected += len(index)
    columns = pd.concat([_snp_table(infos[k]) for k in order], ignore_index=True)
    return [_decode(named[k][0], named[k][1], infos[k], dtype, columns) for k in order]


def merge_gctb_pieces(paths, *, dtype: str = "float32") -> LDMatrix:
    """GCTB's ``--mldm LIST --make-full-ldm``: the square matrix of row pieces ``paths``."""
    merged = merge(read_gctb_pieces(paths, dtype=dtype))
    merged.meta.pop("source", None)
    return merged


def _existing(path: Path) -> Path:
    if not path.exists():
        raise InputError("file not found", path)
    return path


def _snp_table(info: pd.DataFrame) -> pd.DataFrame:
    """The LDMatrix SNP table (snp chr bp cm a1 a2 freq n) of parsed .info rows."""
    return pd.DataFrame({
        "snp": info["ID"], "chr": info["Chrom"], "bp": info["PhysPos"], "cm": info["GenPos"],
        "a1": info["A1"], "a2": info["A2"], "freq": info["A1Freq"], "n": info["N"],
    }).reset_index(drop=True)


def _decode(prefix: Path, gctb_type: str, info: pd.DataFrame, dtype: str,
            ref_snps: pd.DataFrame | None) -> LDMatrix:
    """Decode the .bin of ``prefix`` given its parsed ``.info`` (see :func:`read_gctb_ldm`)."""
    info_path, bin_path = Path(f"{prefix}.info"), _existing(Path(f"{prefix}.bin"))
    m = len(info)
    sizes = info["WindSize"].to_numpy(dtype=np.int64)
    starts = info["WindStart"].to_numpy(dtype=np.int64)
    ends = info["WindEnd"].to_numpy(dtype=np.int64)
    index = info["Index"].to_numpy(dtype=np.int64)
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
        cols = raw[np.repeat(words, sizes) + within].astype(np.int64)
        value_pos = np.repeat(words + sizes, sizes) + within * (width // 4)
        if width == 4:
            values = raw[value_pos].view("<f4").astype(np.float32)
        else:
            pairs = np.stack([raw[value_pos], raw[value_pos + 1]], axis=1)
            values = np.ascontiguousarray(pairs).view("<f8").ravel().astype(np.float32)
    else:
        cols = np.repeat(starts - indptr[:-1], sizes) + np.arange(indptr[-1])
        values = raw.view("<f4" if width == 4 else "<f8")
    n_cols = _column_count(prefix, info, cols, ref_snps)
    row_of = np.repeat(np.arange(m), sizes)
    if gctb_type == "sparse":
        step = np.diff(cols)
        bad = (cols >= n_cols) | np.concatenate([[False], (step <= 0) & (row_of[1:] == row_of[:-1])])
        if bad.any():
            i = int(row_of[np.flatnonzero(bad)[0]])
            raise InputError(f"row {i} ({info['ID'].iloc[i]}): column indices out of range "
                             f"or not ascending", bin_path)
    else:
        bad = np.flatnonzero((ends - starts + 1 != sizes) | (starts < 0) | (ends >= n_cols))
        if len(bad):
            i = int(bad[0])
            raise InputError(f"WindStart/WindEnd/WindSize disagree ({starts[i]}, {ends[i]}, "
                             f"{sizes[i]})", info_path, i + 2)
        # zeros between stored columns are entries GCTB did not keep; the diagonal stays
        keep = (values != 0) | (cols == np.repeat(index, sizes))
        counts = np.add.reduceat(keep.astype(np.int64), indptr[:-1]) if m else np.zeros(0, np.int64)
        counts[sizes == 0] = 0
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        cols, values = cols[keep], values[keep]
    snps = _snp_table(info)
    n_panel = int(info["N"].max()) if m else 0
    meta = {"kind": _TYPE_TO_KIND[gctb_type], "n_samples": n_panel, "gctb_type": gctb_type,
            "source": str(prefix)}
    if ref_snps is not None and not (m == n_cols and index[0] == 0):
        meta["snp_range"] = [int(index[0]) + 1, int(index[-1]) + 1]
    return LDMatrix.from_csr(indptr, cols.astype(np.int32), values.astype(np.float32), snps,
                             ref_snps, meta=meta, dtype=dtype)


def _column_count(prefix: Path, info: pd.DataFrame, cols: np.ndarray,
                  ref_snps: pd.DataFrame | None) -> int:
    """Number of columns: the rows of a square file, or ``len(ref_snps)`` for a piece (whose
    rows are checked against ``ref_snps`` at their Index)."""
    m = len(info)
    index = info["Index"].to_numpy(dtype=np.int64)
    piece = m > 0 and (index[0] != 0 or (len(cols) and int(cols.max()) >= m))
    if ref_snps is None:
        if piece:
            raise InputError(f"a row piece: rows {index[0] + 1}-{index[-1] + 1} (Index "
                             f"{index[0]}..{index[-1]}) of a larger matrix, whose columns are "
                             f"the rows of the other pieces; merge the pieces first (--mldm "
                             f"LIST --make-full-ldm, bayesmix.ld.gctb.merge_gctb_pieces) or read "
                             f"them together (read_gctb_pieces)", f"{prefix}.info")
        return m
    n_cols = len(ref_snps)
    ids = ref_snps["snp"].astype(str).to_numpy()
    if m and (index[0] < 0 or index[-1] >= n_cols or (np.diff(index) != 1).any()
              or not (ids[index] == info["ID"].astype(str).to_numpy()).all()):
        raise InputError(f"the rows (Index {index[0]}..{index[-1]}) are not the column SNPs "
                         f"at those positions ({n_cols} columns given)", f"{prefix}.info")
    return n_cols


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
    missing = [c for c in ("Chrom", "ID", "PhysPos", "A1", "A2", "A1Freq", "Index", "WindStart",
                           "WindEnd", "WindSize") if c not in table]
    if missing:
        raise InputError(f"missing columns {missing}", path, 1)
    for col in ("GenPos", "N"):
        if col not in table:
            table[col] = 0
    numeric = ["PhysPos", "Index", "WindStart", "WindEnd", "WindSize", "N", "GenPos"]
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
