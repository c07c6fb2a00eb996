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

import io
import logging
import mmap
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open, count_fields, read_bytes
from bayesmix.kernels.ld import (encode_dense_rows, encode_sparse_rows, lower_extents,
                                 mirror_upper_rows, row_r_sums)
from bayesmix.ld.store import BAND_PADDING_LIMIT, LDMatrix, int16_scale, merge

log = logging.getLogger("bayesmix")

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
    ``X.snpi-j`` as GCTB does. The upper triangle of a square matrix
    (``build_ld(..., upper_piece=True)`` without ``snp_range``) is written as the full
    matrix, its rows mirrored a chunk at a time (the mirrored matrix is never held).
    """
    gctb_type = gctb_type or _KIND_TO_TYPE.get(ld.kind, "sparse")
    if gctb_type not in GCTB_TYPES:
        raise InputError(f"GCTB type must be one of {', '.join(GCTB_TYPES)}, not {gctb_type!r}")
    _check_type_fits_kind(ld.kind, gctb_type)
    first_row = 0 if ld.is_square else _piece_offset(ld)
    out_prefix = Path(os.fspath(out_prefix))
    if not re.search(r"\.ldm\.(full|band|sparse|shrunk)$", out_prefix.name):
        out_prefix = out_prefix.with_name(f"{out_prefix.name}.ldm.{gctb_type}")
    rows = _RowSource(ld)
    snps = ld.snps
    n_rows, n_cols = ld.shape
    col_bp = ld.ref_snps["bp"].to_numpy()
    if gctb_type == "full":
        starts, ends = np.zeros(n_rows, np.int64), np.full(n_rows, n_cols - 1, np.int64)
    else:
        starts, ends = rows.first_column, rows.last_column
    sizes = rows.counts if gctb_type == "sparse" else ends - starts + 1
    with atomic_open(f"{out_prefix}.bin", "wb") as fh:
        ld_sum, sampling_sums = _write_payload(fh, gctb_type, rows, starts, sizes)
    # GCTB writes the panel size (number of kept individuals) as N for every SNP
    n_panel = (np.full(n_rows, float(ld.n_samples)) if ld.n_samples
               else snps["n"].to_numpy().astype(np.float64))
    sampl_var = np.zeros(n_rows)
    if gctb_type != "shrunk":
        sampl_var = np.where(n_panel > 0, sampling_sums / np.where(n_panel > 0, n_panel, 1),
                             0.0)
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


def _check_type_fits_kind(kind: str, gctb_type: str) -> None:
    """Refuse writing shrunk LD as another GCTB type or other LD as ``shrunk``: SBayes reads
    the type as what the matrix is (a shrunk file's SamplVar is 0 and its LD sampling
    variance is not corrected for), so the analysis would change. Warn when a dense-row type
    writes a matrix that leaves pairs out (window, sparse, r2): they become stored zeros."""
    known = kind in _KIND_TO_TYPE
    if known and (kind == "shrunk") != (gctb_type == "shrunk"):
        raise InputError(f"a {kind} LD matrix cannot be written as GCTB {gctb_type!r}: SBayes "
                         f"treats shrunk files apart (no LD sampling-variance correction), so "
                         f"the analysis would change; write it as "
                         f"{_KIND_TO_TYPE[kind]!r}")
    if (kind, gctb_type) in (("window", "full"), ("sparse", "full"), ("sparse", "band"),
                             ("r2", "full"), ("r2", "band")):
        log.warning("warning: the %s LD matrix is written as GCTB %s: the pairs it leaves out "
                    "become stored r = 0 entries (they add to SamplVar); write it as %r to "
                    "keep them out", kind, gctb_type, _KIND_TO_TYPE[kind])


#: words of one chunk of the ``.bin`` written at a time (the whole payload is never held)
WRITE_CHUNK_WORDS = 1 << 22


class _RowSource:
    """The rows of an LD matrix for the writer, in CSR chunks: those of a CSR matrix, or the
    mirrored rows of a square matrix's upper triangle (``meta["upper_piece"]``).

    counts, first_column, last_column : per row, stored entries and first/last column.
    """

    def __init__(self, ld: LDMatrix):
        self.upper = bool(ld.meta.get("upper_piece"))
        if self.upper and not ld.is_square:
            raise InputError("an upper-triangle piece of a build on Dask is not a matrix by "
                             "itself: merge the pieces first (bayesmix.ld.store.merge)")
        indptr, self.indices, values = ld.csr_arrays()
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.values = np.ascontiguousarray(values, dtype=np.float32)
        upper_counts = np.diff(self.indptr)
        if (upper_counts == 0).any():   # (a square matrix's upper part holds the diagonal)
            i = int(np.flatnonzero(upper_counts == 0)[0])
            raise InputError(f"row {i + 1} ({ld.snps['snp'].iloc[i]}) stores no values; GCTB "
                             f"needs at least the diagonal")
        if self.upper:
            self.lower, self.first_column = lower_extents(self.indptr, self.indices)
            self.counts = self.lower + upper_counts
        else:
            self.counts = upper_counts
            self.first_column = self.indices[self.indptr[:-1]].astype(np.int64)
        self.last_column = self.indices[self.indptr[1:] - 1].astype(np.int64)

    def chunks(self, words: np.ndarray, budget: int):
        """(lo, hi, indptr, indices, values) of consecutive row ranges whose ``words`` (per
        row) add up to at most ``budget`` (one row at least), CSR arrays local to the
        range."""
        ends = np.cumsum(words)
        cursor, open_from = self.indptr[:-1].copy(), 0
        lo = 0
        while lo < len(words):
            done = ends[lo - 1] if lo else 0
            hi = max(int(np.searchsorted(ends, done + budget, side="right")), lo + 1)
            if self.upper:
                n = int(self.counts[lo:hi].sum())
                indptr = np.zeros(hi - lo + 1, np.int64)
                indices, values = np.empty(n, np.int32), np.empty(n, np.float32)
                open_from = mirror_upper_rows(self.indptr, self.indices, self.values,
                                              self.lower, cursor, open_from, lo, hi, indptr,
                                              indices, values)
            else:
                a, b = self.indptr[lo], self.indptr[hi]
                indptr = self.indptr[lo:hi + 1] - a
                indices, values = self.indices[a:b], self.values[a:b]
            yield lo, hi, indptr, indices, values
            lo = hi


def _write_payload(fh, gctb_type, rows: _RowSource, starts, sizes):
    """The ``.bin`` of the rows, a chunk of rows at a time (:data:`WRITE_CHUNK_WORDS`): dense
    rows (``sizes[i]`` float32 values from column ``starts[i]``) or sparse rows (indices,
    then values; ``sizes`` = entries per row). Returns the rows' (LDsum, sum of
    (1 - r^2)^2), summed in the stored order."""
    words = sizes * (2 if gctb_type == "sparse" else 1)
    ld_sum, sampling = np.empty(len(sizes)), np.empty(len(sizes))
    for lo, hi, indptr, indices, values in rows.chunks(words, WRITE_CHUNK_WORDS):
        if gctb_type == "sparse":
            chunk = np.empty(int(words[lo:hi].sum()), dtype="<u4")
            encode_sparse_rows(indptr, indices, values, 0, hi - lo, chunk)
        else:
            chunk = np.zeros(int(words[lo:hi].sum()), dtype="<f4")
            encode_dense_rows(indptr, indices, values, starts[lo:hi], sizes[lo:hi], 0,
                              hi - lo, chunk)
        chunk.tofile(fh)
        ld_sum[lo:hi], sampling[lo:hi] = row_r_sums(indptr, values)
    return ld_sum, sampling


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


def read_gctb_ldm(path, *, dtype: str = "float32", ref_snps: pd.DataFrame | None = None,
                  band: bool = False) -> LDMatrix:
    """Read ``PREFIX.ldm.TYPE.bin`` + ``.info`` (``path`` may name either file or the prefix).

    ``band``: decode a full, band or shrunk matrix into the band layout (``LDMatrix.row_first``:
    implicit column indices, 2 bytes per value with int16) instead of CSR (6 bytes per
    nonzero with int16), and a sparse one whose rows are runs with (almost) no gaps
    (:meth:`_BinFile.fits_band`); other sparse files and row pieces are always CSR.
    A row piece (module docstring) needs the SNP table of all columns, ``ref_snps`` (snp chr
    bp cm a1 a2 freq n, in column order): it is then returned as a rectangular LDMatrix of its
    rows against those columns. Pieces are usually read together with
    :func:`read_gctb_pieces`; without ``ref_snps`` a piece is an error that says so.
    """
    prefix, gctb_type = gctb_prefix(path)
    info = _read_info(_existing(Path(f"{prefix}.info")))
    return _decode(prefix, gctb_type, info, dtype, ref_snps, band)


def read_gctb_pieces(paths, *, dtype: str = "float32") -> list[LDMatrix]:
    """Row pieces ``X.snpi-j.ldm.TYPE`` of one matrix, as LDMatrix pieces over shared columns.

    The pieces (any order) must cover rows 0..M-1 of the whole matrix exactly once, by their
    Index column; the columns are their rows in Index order. Join them with
    :func:`bayesmix.ld.store.merge` (:func:`merge_gctb_pieces` does both).
    """
    named = [gctb_prefix(p) for p in paths]
    return _pieces(named, [_read_info(_existing(Path(f"{prefix}.info"))) for prefix, _ in named],
                   dtype)


def read_gctb_list(paths, *, dtype: str = "float32", band: bool = False) -> LDMatrix:
    """The GCTB matrices of an ``--mldm`` list as one matrix, as GCTB reads such a list.

    Files whose Index starts at 0 are matrices of their own (one per chromosome or block) and
    are combined block-diagonally (:func:`bayesmix.ld.store.combine_ld`); when a file after
    the first does not start at Index 0, the files are row pieces of one matrix and are merged
    (:func:`merge_gctb_pieces`). ``band`` as in :func:`read_gctb_ldm` (whole matrices only;
    all of them in the band layout or none).
    """
    named = [gctb_prefix(p) for p in paths]
    infos = [_read_info(_existing(Path(f"{prefix}.info"))) for prefix, _ in named]
    if any(len(info) and int(info["Index"].iloc[0]) != 0 for info in infos[1:]):
        merged = merge(_pieces(named, infos, dtype))
        merged.meta.pop("source", None)
        return merged
    if len(named) == 1:
        return _decode(named[0][0], named[0][1], infos[0], dtype, None, band)
    return _combine_files(named, infos, dtype, band)


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


#: bytes of a .bin decoded at a time (the file is mapped and decoded in row chunks)
CHUNK_BYTES = 1 << 25


class _HeldZero(Exception):
    """A sparse file being decoded into the band layout has an entry stored as 0 off the
    diagonal (r = 0, or an int16 code of 0): an entry of the file, which GCTB counts (e.g. in
    its LD sampling variance) and the band layout cannot hold, so the file is read as CSR."""


class _BinFile:
    """One GCTB ``.bin`` with its parsed ``.info``, decoded a chunk of rows at a time into
    preallocated CSR (or band) arrays: in one pass (:meth:`decode`) into arrays sized for
    every stored value, or in two where such arrays would not fit or that pass finds a |r|
    above 1 (whose int16 codes need a coarser scale): :meth:`scan` for the number of entries
    kept per row, the largest |r| and the largest column index, then :meth:`fill`."""

    def __init__(self, prefix: Path, gctb_type: str, info: pd.DataFrame):
        self.prefix, self.gctb_type, self.info = prefix, gctb_type, info
        self.info_path, self.bin_path = Path(f"{prefix}.info"), _existing(Path(f"{prefix}.bin"))
        self.sizes = info["WindSize"].to_numpy(dtype=np.int64)
        self.starts = info["WindStart"].to_numpy(dtype=np.int64)
        self.ends = info["WindEnd"].to_numpy(dtype=np.int64)
        self.index = info["Index"].to_numpy(dtype=np.int64)
        self.sparse = gctb_type == "sparse"
        # GCTB 2.x writes float32 values; some later builds write float64: tell them by size
        index_words = 1 if self.sparse else 0
        actual = self.bin_path.stat().st_size
        total = int(self.sizes.sum())
        for value_words in (1, 2):
            if actual == total * 4 * (index_words + value_words):
                break
        else:
            raise InputError(f"size {actual} bytes does not match the WindSize column of "
                             f"{self.info_path.name} ({total * 4 * (index_words + 1)} bytes "
                             f"expected for {gctb_type} rows of float32, or the float64 "
                             f"equivalent); the .bin and .info files do not belong together",
                             self.bin_path)
        self.value_words = value_words
        self.row_words = self.sizes * (index_words + value_words)
        if not self.sparse:
            bad = np.flatnonzero((self.ends - self.starts + 1 != self.sizes) | (self.starts < 0))
            if len(bad):
                self._bad_window(int(bad[0]))
        self._sparse_runs = None  # a sparse file's rows as runs (:meth:`sparse_runs`)
        self._start(band=False)   # counts, largest, max_col; run_first: a band pass's runs

    def _bad_window(self, i: int):
        raise InputError(f"WindStart/WindEnd/WindSize disagree ({self.starts[i]}, "
                         f"{self.ends[i]}, {self.sizes[i]})", self.info_path, i + 2)

    def _chunks(self):
        """Yield ``(lo, hi, words)``: rows lo..hi-1 of the .bin as uint32 words, a view of the
        memory-mapped file valid until the next chunk is asked for. The pages of a chunk are
        released from the process once it is done (``MADV_DONTNEED``), so at most a chunk of
        the file counts in its memory; mapped, the page cache is read without a copy (0.11
        against 0.18 s of CPU per 400 MB read into a buffer). The file must not be shortened
        while it is read (its size was checked against the .info when it was opened)."""
        bounds = np.zeros(len(self.sizes) + 1, dtype=np.int64)
        np.cumsum(self.row_words, out=bounds[1:])
        limit = CHUNK_BYTES // 4
        with open(self.bin_path, "rb") as fh:
            mapped = (mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                      if os.fstat(fh.fileno()).st_size else None)
        words = (np.frombuffer(mapped, dtype="<u4", count=len(mapped) // 4)
                 if mapped is not None else np.empty(0, dtype="<u4"))
        release = getattr(mapped, "madvise", None)  # not on Windows
        lo = 0
        while lo < len(self.sizes):
            hi = max(int(np.searchsorted(bounds, bounds[lo] + limit, side="right")) - 1, lo + 1)
            if bounds[hi] > len(words):
                raise InputError(f"the file ends before row {hi - 1} does (it changed while "
                                 "being read?)", self.bin_path)
            yield lo, hi, words[bounds[lo]:bounds[hi]]
            if release is not None and bounds[hi] > bounds[lo]:
                first = int(4 * bounds[lo]) // mmap.PAGESIZE * mmap.PAGESIZE
                release(mmap.MADV_DONTNEED, first, int(4 * bounds[hi]) - first)
            lo = hi

    def _values(self, words):
        return words.view("<f4" if self.value_words == 1 else "<f8")

    def scan(self, band: bool = False) -> "_BinFile":
        """First pass: entries kept per row, largest |r|, largest column (rows checked).
        With ``band`` (dense types only): per row the run from its first to its last kept
        entry instead (``run_first`` and ``counts`` = run lengths)."""
        self._pass(band, 0, 0, None, None, 1.0, False, np.inf)
        return self

    def sparse_runs(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(first column, length) of each sparse row's run from its first to its last column
        index, read from those two words of each row once
        (:func:`~bayesmix.kernels.ld_band.sparse_row_runs`), and the largest last index."""
        from bayesmix.kernels.ld_band import sparse_row_runs

        if self._sparse_runs is None:
            first = np.empty(len(self.sizes), dtype=np.int64)
            length = np.empty(len(self.sizes), dtype=np.int64)
            largest_col = -1
            for lo, hi, words in self._chunks():
                largest_col = max(largest_col, int(sparse_row_runs(
                    words, self.sizes[lo:hi], self.value_words, self.index[lo:hi],
                    first[lo:hi], length[lo:hi])))
            self._sparse_runs = first, length, largest_col
        return self._sparse_runs

    def fits_band(self) -> bool:
        """Whether the band layout suits this whole square file: always for dense rows; for a
        sparse file, when its rows' runs (:meth:`sparse_runs`) stay within its columns and
        hold at most :data:`~bayesmix.ld.store.BAND_PADDING_LIMIT` values per stored entry
        (sparse LD with gaps, e.g. thresholded by significance, stays CSR)."""
        if not self.sparse:
            return True
        _, length, largest_col = self.sparse_runs()
        return (largest_col < len(self.sizes)
                and int(length.sum()) <= BAND_PADDING_LIMIT * int(self.sizes.sum()))

    def band_values(self, band: bool) -> int:
        """Values the arrays of a decoding reserve for this file: one per stored entry, or
        with ``band`` for a sparse file one per column of its runs."""
        if band and self.sparse:
            return int(self.sparse_runs()[1].sum())
        return int(self.sizes.sum())

    def _start(self, band: bool):
        """Reset what a pass finds (``band``: per-row runs instead of CSR rows; a sparse
        file's start as :meth:`sparse_runs`)."""
        if band and self.sparse:
            first, length, _ = self.sparse_runs()
            self.run_first, self.counts = first.copy(), length.copy()
        else:
            self.run_first = np.empty(len(self.sizes), dtype=np.int64) if band else None
            self.counts = self.sizes.copy()
        self.sums = np.zeros(len(self.sizes))
        self.largest = 0.0
        self.max_col = -1

    def _dense_max_col(self):
        if not self.sparse and len(self.sizes):
            self.max_col = int(self.ends[self.sizes > 0].max(initial=-1))

    def _bad_row(self, i: int, why: int):
        problem = {1: "column indices not ascending", 2: "a NaN or infinite value",
                   4: "its columns changed while the file was read"}[why]
        raise InputError(f"row {i} ({self.info['ID'].iloc[i]}): {problem}", self.bin_path)

    def decode(self, out_start: int, col_offset: int, indices, values, band: bool = False
               ) -> int | None:
        """One pass instead of :meth:`scan` + :meth:`fill`: every row checked and written from
        ``out_start`` into arrays with room for all its values (``indices`` None for the
        ``band`` layout), int16 codes at the scale of |r| <= 1 (:func:`int16_scale` of 1).
        Returns the position after the last entry, or None when an |r| above 1 needs a
        coarser int16 scale (what was written is then void: :meth:`scan` and :meth:`fill`)."""
        quantize = values.dtype == np.int16
        scale, limit = (int16_scale(1.0), 1.0) if quantize else (1.0, np.inf)
        return self._pass(band, out_start, col_offset, indices, values, scale, quantize, limit)

    def _pass(self, band, out_start, col_offset, indices, values, scale, quantize, limit):
        """The decoding kernels over the file's chunks (``values`` None: a first pass that
        writes nothing but counts or runs). Returns the position after the last entry, or
        None at a |r| above ``limit``."""
        from bayesmix.kernels.ld import decode_dense_rows
        from bayesmix.kernels.ld_band import decode_dense_runs

        self._start(band)
        q = out_start
        for lo, hi, words in self._chunks():
            if self.sparse:
                q, bad, why, max_col, largest = self._decode_sparse(
                    lo, hi, words, col_offset, q, indices, values, scale, quantize, limit)
                self.max_col = max(self.max_col, int(max_col))
            elif band:
                q, largest, bad = decode_dense_runs(
                    self._values(words), self.sizes[lo:hi], self.starts[lo:hi],
                    self.index[lo:hi], self.run_first[lo:hi], self.counts[lo:hi],
                    self.sums[lo:hi], q, values, scale, quantize, limit)
                why = 2
            else:
                q, largest, bad = decode_dense_rows(
                    self._values(words), self.sizes[lo:hi], self.starts[lo:hi],
                    self.index[lo:hi], self.counts[lo:hi], self.sums[lo:hi], col_offset, q,
                    indices, values, scale, quantize, limit)
                why = 2
            if bad >= 0:
                self._bad_row(lo + int(bad), why)
            self.largest = max(self.largest, float(largest))
            if self.largest > limit:
                return None
        self._dense_max_col()
        self._check_ld_sums()
        return q

    def _decode_sparse(self, lo, hi, words, col_offset, q, indices, values, scale, quantize,
                       limit):
        """:func:`~bayesmix.kernels.ld.decode_sparse_rows` of rows lo..hi-1 (``words``): into
        the band layout after a band :meth:`_start` (:class:`_HeldZero` at an entry stored as
        0 off the diagonal; an error at a row whose run changed since :meth:`sparse_runs`),
        else into CSR arrays."""
        from bayesmix.kernels.ld import decode_sparse_rows

        band = self.run_first is not None
        unused = np.empty(0, dtype=np.int64)   # what the other layout's writes would go to
        q, bad, why, max_col, largest = decode_sparse_rows(
            words, self.sizes[lo:hi], self.value_words, self.sums[lo:hi], col_offset, q,
            unused.astype(np.int32) if band else indices, values, scale, quantize, limit, band,
            self.index[lo:hi], self.counts[lo:hi] if band else unused)
        if why == 3:
            raise _HeldZero(f"{self.bin_path}: row {lo + int(bad)}")
        if why == 4:
            self._bad_row(lo + int(bad), why)
        return q, bad, why, max_col, largest

    def _check_ld_sums(self) -> None:
        """Warn when rows of the ``.bin`` do not sum to the ``.info``'s LDsum (sum of the
        row's r, as GCTB and bayesmix write it; GCTB's float32 sums agree to ~1e-3): the
        files do not belong together row by row (lines of the .info moved) or one was
        changed since. A warning, not an error: older GCTB versions may have summed
        otherwise."""
        if "LDsum" not in self.info or not len(self.sums):
            return
        stated = self.info["LDsum"].to_numpy(dtype=np.float64)
        tolerance = 1e-3 + 1e-6 * (self.sizes + np.abs(stated))
        off = np.flatnonzero(~(np.abs(self.sums - stated) <= tolerance))
        if len(off):
            i = int(off[0])
            log.warning("warning: %s: %d of %d rows do not sum to the LDsum of the .info "
                        "(first: row %d, %s: %.6g against %.6g); the .info and .bin may not "
                        "belong together (moved lines?) or one was changed: results built on "
                        "them can be wrong", self.bin_path, len(off), len(self.sums), i,
                        self.info["ID"].iloc[i], self.sums[i], stated[i])

    def check_columns(self, n_cols: int):
        """Stored columns must lie below ``n_cols``."""
        if self.sparse:
            if self.max_col >= n_cols:
                raise InputError(f"column index {self.max_col} out of range ({n_cols} "
                                 f"columns)", self.bin_path)
            return
        bad = np.flatnonzero(self.ends >= n_cols)
        if len(bad):
            self._bad_window(int(bad[0]))

    def fill(self, out_start: int, col_offset: int, indices, values, scale: float):
        """Second pass: the kept entries into ``indices``/``values`` from ``out_start`` (the
        runs into ``values`` after a band :meth:`scan`; ``indices`` is then unused)."""
        from bayesmix.kernels.ld import fill_dense_rows, fill_sparse_rows
        from bayesmix.kernels.ld_band import fill_dense_runs

        quantize = values.dtype == np.int16
        q = out_start
        for lo, hi, words in self._chunks():
            if self.run_first is not None and self.sparse:   # rows checked by the scan
                q = self._decode_sparse(lo, hi, words, col_offset, q, indices, values, scale,
                                        quantize, np.inf)[0]
            elif self.run_first is not None:
                q = fill_dense_runs(self._values(words), self.sizes[lo:hi], self.starts[lo:hi],
                                    self.index[lo:hi], self.run_first[lo:hi],
                                    self.counts[lo:hi], q, values, scale, quantize)
            elif self.sparse:
                q = fill_sparse_rows(words, self.sizes[lo:hi], self.value_words, col_offset, q,
                                     indices, values, scale, quantize)
            else:
                q = fill_dense_rows(self._values(words), self.sizes[lo:hi], self.starts[lo:hi],
                                    self.index[lo:hi], self.counts[lo:hi], col_offset, q,
                                    indices, values, scale, quantize)
        return q

    def meta(self) -> dict:
        n_panel = int(self.info["N"].max()) if len(self.info) else 0
        return {"kind": _TYPE_TO_KIND[self.gctb_type], "n_samples": n_panel,
                "gctb_type": self.gctb_type, "source": str(self.prefix)}


def _csr_arrays(n_rows: int, nnz: int, dtype: str, largest: float, band: bool = False):
    """Empty CSR arrays for ``nnz`` entries of ``dtype`` and the int16 scale of ``largest``
    (no column indices, None, for the ``band`` layout)."""
    if dtype not in ("float32", "int16"):
        raise ValueError(f"dtype must be 'float32' or 'int16', not {dtype!r}")
    indptr = np.zeros(n_rows + 1, dtype=np.int32 if nnz < 2**31 else np.int64)
    scale = int16_scale(largest) if dtype == "int16" else 1.0
    indices = None if band else np.empty(nnz, dtype=np.int32)
    return indptr, indices, np.empty(nnz, dtype=np.dtype(dtype)), scale


def _one_pass_fits(n_values: int, dtype: str, band: bool) -> bool:
    """Whether arrays with room for every stored value (the one-pass decoding's; only the
    pages written are ever touched) may be reserved: at most half the machine's memory, so
    that the reservation itself cannot fail where the exact arrays of two passes fit."""
    per_value = np.dtype(dtype).itemsize + (0 if band else 4)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return False
    return n_values * per_value <= memory // 2


def _decode_band_or_csr(sources, dtype: str, band: bool):
    """(indptr, indices, values, scale, band) of :func:`_decode_sources`: in the band layout
    when asked for and every entry of sparse files can be held in it (:class:`_HeldZero`),
    else CSR."""
    if band:
        try:
            return _decode_sources(sources, dtype, True) + (True,)
        except _HeldZero as held:
            log.debug("%s: an entry stored as 0; decoded as CSR", held)
    return _decode_sources(sources, dtype, False) + (False,)


def _decode_sources(sources, dtype: str, band: bool):
    """(indptr, indices, values, scale) of the ``sources`` (:class:`_BinFile`) decoded into one
    block-diagonal matrix (columns offset by the rows before), with each source's
    ``counts``, ``run_first``, ``largest`` and ``max_col`` set. One pass over each file
    when that fits (:meth:`_BinFile.decode`; the int16 scale of |r| <= 1), else or when some
    |r| exceeds 1, two (:meth:`_BinFile.scan`, then :meth:`_BinFile.fill` at the scale of the
    largest |r| of all files)."""
    n_rows = sum(len(source.sizes) for source in sources)
    stored = sum(source.band_values(band) for source in sources)
    if _one_pass_fits(stored, dtype, band):
        indptr, indices, values, scale = _csr_arrays(n_rows, stored, dtype, 1.0, band)
        position, col_offset = 0, 0
        for source in sources:
            position = source.decode(position, col_offset, indices, values, band)
            if position is None:
                break
            col_offset += len(source.info)
        else:
            return indptr, indices, values, scale
        del indptr, indices, values
    for source in sources:
        source.scan(band)
    counts = np.concatenate([source.counts for source in sources])
    indptr, indices, values, scale = _csr_arrays(n_rows, int(counts.sum()), dtype,
                                                 max(s.largest for s in sources), band)
    position, col_offset = 0, 0
    for source in sources:
        position = source.fill(position, col_offset, indices, values, scale)
        col_offset += len(source.info)
    return indptr, indices, values, scale


def _counted(indptr, counts, indices, values):
    """Fill ``indptr`` from the per-row ``counts`` the decoding wrote (int16 codes of 0 left
    out make them smaller than the file's), and cut the arrays to that length."""
    np.cumsum(counts, out=indptr[1:])
    nnz = int(indptr[-1])
    return (None if indices is None else indices[:nnz]), values[:nnz]


def _decode(prefix: Path, gctb_type: str, info: pd.DataFrame, dtype: str,
            ref_snps: pd.DataFrame | None, band: bool = False) -> LDMatrix:
    """Decode the .bin of ``prefix`` given its parsed ``.info`` (see :func:`read_gctb_ldm`):
    straight into CSR (or ``band``) arrays of ``dtype``, decoding the mapped file in row chunks
    (:func:`_decode_sources`)."""
    source = _BinFile(prefix, gctb_type, info)
    indptr, indices, values, scale, band = _decode_band_or_csr(
        [source], dtype, band and ref_snps is None and source.fits_band())
    m = len(info)
    n_cols = _column_count(prefix, info, source.max_col, ref_snps)
    source.check_columns(n_cols)
    indices, values = _counted(indptr, source.counts, indices, values)
    meta = source.meta()
    index = source.index
    if ref_snps is not None and not (m == n_cols and index[0] == 0):
        meta["snp_range"] = [int(index[0]) + 1, int(index[-1]) + 1]
    window = _gctb_window(info, 0) if ref_snps is None and gctb_type != "sparse" else None
    return LDMatrix(indptr, indices, values, _snp_table(info), ref_snps, meta, scale,
                    row_first=source.run_first, gctb_window=window)


def _combine_files(named, infos, dtype: str, band: bool = False) -> LDMatrix:
    """Whole GCTB matrices (one per chromosome or block) decoded straight into one
    block-diagonal matrix (what :func:`bayesmix.ld.store.combine_ld` gives for them, without
    decoding each file into a matrix of its own first); ``band`` when every file fits it
    (:meth:`_BinFile.fits_band`)."""
    from bayesmix.ld.store import combine_snp_tables

    sources = [_BinFile(prefix, gctb_type, info) for (prefix, gctb_type), info
               in zip(named, infos)]
    indptr, indices, values, scale, band = _decode_band_or_csr(
        sources, dtype, band and all(source.fits_band() for source in sources))
    for source in sources:
        source.check_columns(_column_count(source.prefix, source.info, source.max_col, None))
    snps = combine_snp_tables([_snp_table(info) for info in infos])
    counts = np.concatenate([source.counts for source in sources])
    indices, values = _counted(indptr, counts, indices, values)
    meta = dict(sources[0].meta(), n_samples=max(s.meta()["n_samples"] for s in sources),
                combined=len(sources))
    firsts = np.concatenate([source.run_first + offset for source, offset in zip(
        sources, np.cumsum([0] + [len(info) for info in infos[:-1]]))]) if band else None
    window = None
    if all(gctb_type != "sparse" for _, gctb_type in named):
        offsets = np.cumsum([0] + [len(info) for info in infos[:-1]])
        window = np.concatenate([_gctb_window(info, int(offset))
                                 for info, offset in zip(infos, offsets)])
    return LDMatrix(indptr, indices, values, snps, None, meta, scale, row_first=firsts,
                    gctb_window=window)


def _gctb_window(info: pd.DataFrame, offset: int) -> np.ndarray:
    """(rows, 2) [WindStart, WindEnd] of a whole dense-row file whose columns start at
    ``offset`` (``LDMatrix.gctb_window``)."""
    return np.stack([info["WindStart"].to_numpy(dtype=np.int64),
                     info["WindEnd"].to_numpy(dtype=np.int64)], axis=1) + offset


def _column_count(prefix: Path, info: pd.DataFrame, max_col: int,
                  ref_snps: pd.DataFrame | None) -> int:
    """Number of columns: the rows of a square file, or ``len(ref_snps)`` for a piece (whose
    rows are checked against ``ref_snps`` at their Index)."""
    m = len(info)
    index = info["Index"].to_numpy(dtype=np.int64)
    jumps = np.flatnonzero(np.diff(index) != 1)
    if len(jumps):
        k = int(jumps[0]) + 1
        raise InputError(f"the Index column is not consecutive: row {k + 1} ({info['ID'].iat[k]}) "
                         f"has Index {index[k]} after {index[k - 1]}; lines of the .info were "
                         f"moved, deleted or come from another file, so its rows no longer "
                         f"describe the .bin's rows", f"{prefix}.info")
    piece = m > 0 and (index[0] != 0 or max_col >= m)
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
    """Parse a .info file (15-column header layout, or the headerless 12/14-token layouts).
    Every line must have as many fields as the first (else an error naming the line)."""
    data = read_bytes(path)  # read once: counted here, parsed below
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).decode(errors="replace").split()
    header = bool(first) and first[0] == "Chrom"
    counts, lines = count_fields(data, r"\s+")
    wrong = np.flatnonzero(counts != len(first))
    if len(wrong):
        raise InputError(f"expected {len(first)} fields as on line {lines[0]}, found "
                         f"{counts[wrong[0]]}", path, int(lines[wrong[0]]))
    if header:
        table = pd.read_csv(io.BytesIO(data), sep=r"\s+",
                            dtype={"Chrom": str, "ID": str, "A1": str, "A2": str})
        if "A2Freq" in table and "A1Freq" not in table:
            table["A1Freq"] = 1.0 - table["A2Freq"]
    else:
        table = pd.read_csv(io.BytesIO(data), sep=r"\s+", header=None,
                            dtype={0: str, 1: str, 4: str, 5: str})
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
            raise InputError(f"non-numeric {col} {str(table[col].iloc[i])!r}", path,
                             i + 1 + header, list(table.columns).index(col) + 1)
        table[col] = values
    ids = table["ID"].astype(str)
    again = np.flatnonzero(ids.duplicated().to_numpy())
    if len(again):
        i = int(again[0])
        first = int(np.flatnonzero((ids == ids.iloc[i]).to_numpy())[0])
        raise InputError(f"SNP {ids.iloc[i]} appears twice (also on line {first + 1 + header})",
                         path, i + 1 + header, 2)
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
