"""GCTB 2.x's eigen-decomposed block LD (SBayesR low-rank, SBayesRC): files and commands.

GCTB builds it in three steps, each a folder-level command (GCTB 2.05 ``eigen.cpp``; facts
checked by running it: ``docs/ld.md``, "GCTB's eigen-decomposed block LD"):

1. ``--bfile X --make-block-ldm --block-info FILE --out DIR`` (:func:`make_block_ldm`): one
   full LD matrix per block of the block file (:func:`read_block_info`; a block holds the
   SNPs of its chromosome with StartBP <= bp < EndBP), with its SNP and block info;
2. ``--ldm DIR --merge-block-ldm-info`` (:func:`merge_block_ldm_info`): the per-block info
   files concatenated into ``snp.info`` and ``ldm.info`` (the per-block ones are deleted);
3. ``--ldm DIR --make-ldm-eigen`` (:func:`make_ldm_eigen`): each block's LD
   eigen-decomposed, the fewest leading eigenpairs whose eigenvalues add up to more than a
   share (the cut-off, 0.995) of the sum of positive eigenvalues kept
   (:func:`bayesmix.ld.eigen.kept_rank`).

:func:`make_ldm_eigen_from_genotypes` does the three in one pass without writing the m x m
matrices (a bayesmix extra). ``--block N`` restricts any step to the N-th block, so blocks
can run as separate jobs (GCTB segfaults on ``--make-block-ldm --block``).

Files of the folder (``<ID>`` is the block's integer ID; little-endian, no padding)::

    block<ID>.ldm.bin     float32 m x m, the block's LD r (symmetric, so either order)
    block<ID>.snp.info    header, then Chrom ID Index GenPos PhysPos A1 A2 A1Freq N Block
    block<ID>.ldm.info    header, then Block Chrom StartSnpIdx StartSnpID EndSnpIdx
                          EndSnpID NumSnps (one row)
    snp.info, ldm.info    the same columns for all blocks, Index 0..M-1 (merged)
    block<ID>.eigen.bin   int32 m, int32 k, float32 sum of the positive eigenvalues (> 1e-10,
                          all of them, before truncation), float32 cut-off, k float32
                          eigenvalues ASCENDING, then the m x k float32 eigenvectors
                          COLUMN-major (eigenvector after eigenvector, in the same order);
                          size 16 + 4 k + 4 m k bytes

A1 is the ``.bim``'s counted allele, A1Freq its frequency in the kept samples, N the number
of kept samples, Index the SNP's position among the SNPs used (merged files: in the folder).
Text columns are right-aligned in GCTB's widths (GCTB reads whitespace-separated tokens).
LD is the Pearson correlation of A1 counts with missing calls at the SNP mean (GCTB's rule).

:func:`read_gctb_eigen` opens such a folder as :class:`~bayesmix.ld.eigen.EigenBlocks`
(eigenvalues descending, eigenvectors row-major per block) and :func:`write_gctb_eigen`
writes one, so GCTB and bayesmix read each other's eigen LD.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix import interrupt
from bayesmix.checkpoint import Checkpoint, digest_arrays
from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open, count_fields, first_non_numeric, read_bytes
from bayesmix.io.plink import Genotypes
from bayesmix.ld.eigen import (EigenBlocks, block_ld, block_members, decompose_ld,
                               read_block_info)

__all__ = ["read_block_info", "read_gctb_eigen", "write_gctb_eigen", "read_eigen_bin",
           "write_eigen_bin", "read_snp_info", "read_ldm_info", "make_block_ldm",
           "merge_block_ldm_info", "make_ldm_eigen", "make_ldm_eigen_from_genotypes",
           "BlockRun"]

#: (column, width) of GCTB's info files (``outputBlockLDmatrixInfo``, eigen.cpp:516-566)
SNP_INFO = (("Chrom", 6), ("ID", 15), ("Index", 10), ("GenPos", 10), ("PhysPos", 15),
            ("A1", 6), ("A2", 6), ("A1Freq", 12), ("N", 10), ("Block", 10))
LDM_INFO = (("Block", 10), ("Chrom", 6), ("StartSnpIdx", 15), ("StartSnpID", 15),
            ("EndSnpIdx", 15), ("EndSnpID", 15), ("NumSnps", 12))
_INTEGERS = ("Index", "PhysPos", "N", "StartSnpIdx", "EndSnpIdx", "NumSnps")
_FLOATS = ("GenPos", "A1Freq")
#: m, k, sum of positive eigenvalues, cut-off
EIGEN_HEADER = struct.Struct("<iiff")
#: checkpoint folders inside DIR (no "block" in the names: GCTB's merge takes every file
#: name containing "block" for a block's)
_CHECKPOINTS = {"make_block_ldm": ".ckpt.ldm", "make_ldm_eigen": ".ckpt.eigen",
                "make_ldm_eigen_bfile": ".ckpt.eigen"}
_INFO_NAME = re.compile(r"block(.+)\.(snp|ldm)\.info")


# ------------------------------------------------------------------------- text tables
def _write_table(table: pd.DataFrame, layout, path) -> Path:
    """``table``'s columns of ``layout`` right-aligned in their widths, after a header line;
    written atomically."""
    header = " ".join(name.rjust(width) for name, width in layout)
    cells = [_text(table[name], name).str.rjust(width) for name, width in layout]
    with atomic_open(path, "wt") as fh:
        fh.write(header + "\n")
        if len(table):
            fh.write("\n".join(cells[0].str.cat(cells[1:], sep=" ")) + "\n")
    return Path(path)


def _text(column: pd.Series, name: str) -> pd.Series:
    """A column as GCTB prints it: A1Freq with 6 decimals (``%f``), GenPos as C++ streams a
    float (``%g``), both of the float32 value GCTB holds; the rest as is."""
    if name in _FLOATS:
        return pd.Series(np.char.mod("%f" if name == "A1Freq" else "%g",
                                     column.to_numpy(np.float32)), index=column.index)
    return column.astype(str)


def _read_table(path, layout) -> pd.DataFrame:
    """A GCTB info file: the first line skipped (GCTB's ``getline``), then exactly the fields
    of ``layout`` per line; numbers checked (file, line, column). Adds ``line``."""
    names = [name for name, _ in layout]
    data = read_bytes(path)
    counts, lines = count_fields(data, r"\s+")
    counts, lines = counts[lines > 1], lines[lines > 1]
    if not len(counts):
        raise InputError(f"no rows after the header line (expected {' '.join(names)})", path)
    wrong = np.flatnonzero(counts != len(names))
    if len(wrong):
        raise InputError(f"expected {len(names)} fields ({' '.join(names)}), found "
                         f"{counts[wrong[0]]}", path, int(lines[wrong[0]]))
    try:
        table = pd.read_csv(io.BytesIO(data), sep=r"\s+", header=None, names=names,
                            skiprows=1, dtype=str, na_filter=False, quoting=3, engine="c")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"unreadable table ({exc})", path) from None
    for number, name in enumerate(names, start=1):
        if name not in _INTEGERS + _FLOATS:
            continue
        first_non_numeric(table[name], path, name, number, lines, allow_missing=False)
        values = pd.to_numeric(table[name]).to_numpy()
        if name in _INTEGERS:
            fractional = values != np.round(values)
            if fractional.any():
                row = int(np.flatnonzero(fractional)[0])
                raise InputError(f"{name} {table[name].iloc[row]!r} is not an integer", path,
                                 int(lines[row]), number)
            values = values.astype(np.int64)
        table[name] = values
    table["line"] = lines
    return table


def read_snp_info(path) -> pd.DataFrame:
    """A ``snp.info`` / ``block<ID>.snp.info`` file: GCTB's columns (Chrom, ID, A1, A2 and
    Block as text) and ``line``."""
    return _read_table(path, SNP_INFO)


def read_ldm_info(path) -> pd.DataFrame:
    """An ``ldm.info`` / ``block<ID>.ldm.info`` file: GCTB's columns (Block, Chrom and the
    SNP IDs as text) and ``line``."""
    return _read_table(path, LDM_INFO)


def _snp_info(snps: pd.DataFrame, index, block_ids, n) -> pd.DataFrame:
    """snp.info rows of a bayesmix SNP table (chr snp cm bp a1 a2 freq)."""
    from bayesmix.io.regions import chrom_code

    return pd.DataFrame({
        "Chrom": snps["chr"].astype(str).map(chrom_code).to_numpy(),
        "ID": snps["snp"].astype(str).to_numpy(), "Index": np.asarray(index),
        "GenPos": snps["cm"].to_numpy(np.float64),
        "PhysPos": snps["bp"].to_numpy(np.int64), "A1": snps["a1"].to_numpy(),
        "A2": snps["a2"].to_numpy(),
        "A1Freq": snps["freq"].to_numpy(np.float64),
        "N": np.broadcast_to(np.asarray(n), (len(snps),)),
        "Block": np.broadcast_to(np.asarray(block_ids, dtype=object), (len(snps),))})


def _ldm_info(snp_info: pd.DataFrame, ids, sizes) -> pd.DataFrame:
    """ldm.info rows of consecutive blocks (``sizes`` SNPs each) of ``snp_info`` rows."""
    last = np.cumsum(np.asarray(sizes, dtype=np.int64)) - 1
    first = last - np.asarray(sizes) + 1
    return pd.DataFrame({
        "Block": [str(i) for i in ids], "Chrom": snp_info["Chrom"].to_numpy()[first],
        "StartSnpIdx": snp_info["Index"].to_numpy()[first],
        "StartSnpID": snp_info["ID"].to_numpy()[first],
        "EndSnpIdx": snp_info["Index"].to_numpy()[last],
        "EndSnpID": snp_info["ID"].to_numpy()[last], "NumSnps": np.asarray(sizes)})


def _write_info(folder: Path, snp_info: pd.DataFrame, ids, sizes, prefix: str = "") -> list:
    """``{prefix}snp.info`` and ``{prefix}ldm.info`` in ``folder``; their names."""
    _write_table(snp_info, SNP_INFO, folder / f"{prefix}snp.info")
    _write_table(_ldm_info(snp_info, ids, sizes), LDM_INFO, folder / f"{prefix}ldm.info")
    return [f"{prefix}snp.info", f"{prefix}ldm.info"]


def _merged_info(folder: Path, parts: list) -> tuple[list, list]:
    """Write the merged snp.info/ldm.info of ``parts`` [(id, snp.info rows)], in GCTB's
    merge order (IDs ascending, integers by value), Index renumbered 0..M-1; returns the
    IDs and sizes in that order."""
    parts = sorted(parts, key=lambda part: _id_order(part[0]))
    table = pd.concat([rows for _, rows in parts], ignore_index=True)
    dup = table["ID"].duplicated().to_numpy()
    if dup.any():
        snp = table["ID"].iloc[int(np.flatnonzero(dup)[0])]
        blocks = table.loc[table["ID"] == snp, "Block"].tolist()
        raise InputError(f"SNP {snp} is in blocks {' and '.join(map(str, blocks))}; a SNP may "
                         "be in one block only (GCTB refuses the merged snp.info)", folder)
    table["Index"] = np.arange(len(table))
    ids, sizes = [i for i, _ in parts], [len(rows) for _, rows in parts]
    _write_info(folder, table, ids, sizes)
    return ids, sizes


def _id_order(block_id):
    text = str(block_id)
    return (0, int(text), "") if re.fullmatch(r"[+-]?\d+", text) else (1, 0, text)


# ------------------------------------------------------------------------- binary files
def write_ldm_bin(path, r) -> Path:
    """``block<ID>.ldm.bin``: the m x m LD as raw float32 (atomic)."""
    with atomic_open(path, "wb") as fh:
        fh.write(np.ascontiguousarray(r, dtype="<f4").tobytes())
    return Path(path)


def read_ldm_bin(path, m: int) -> np.ndarray:
    """The m x m float32 LD of ``block<ID>.ldm.bin`` (m from ldm.info's NumSnps)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found: the block's LD matrix (--make-block-ldm writes it)",
                         path)
    _check_ldm_bin(path, m)
    return np.fromfile(path, dtype="<f4").reshape(m, m)


def _check_ldm_bin(path: Path, m: int) -> None:
    size = path.stat().st_size
    if size != 4 * m * m:
        raise InputError(f"{size} bytes, but the info files list {m} SNPs for the block: an "
                         f"m x m float32 matrix is {4 * m * m} bytes (truncated, or another "
                         "build's file)", path)


def write_eigen_bin(path, values, vectors, positive_sum: float, cutoff: float) -> Path:
    """``block<ID>.eigen.bin`` (module docstring) from eigenvalues sorted descending (k,) and
    their eigenvectors as the columns of ``vectors`` (m, k); GCTB stores them ascending."""
    vectors = np.asarray(vectors)
    m, k = vectors.shape
    if len(values) != k:
        raise ValueError(f"{len(values)} eigenvalues for {k} eigenvectors")
    with atomic_open(path, "wb") as fh:
        fh.write(EIGEN_HEADER.pack(m, k, positive_sum, cutoff))
        fh.write(np.asarray(values[::-1], dtype="<f4").tobytes())
        fh.write(np.asarray(vectors[:, ::-1].T, dtype="<f4").tobytes())  # column-major
    return Path(path)


def _eigen_header(path: Path, m: int | None) -> tuple[int, int, float, float]:
    """(m, k, positive sum, cut-off) of an eigen.bin, its size checked."""
    if not path.is_file():
        raise InputError("file not found: the block's eigen-decomposition (make it with "
                         "--make-ldm-eigen)", path)
    size = path.stat().st_size
    if size < EIGEN_HEADER.size:
        raise InputError(f"{size} bytes: truncated (the header alone is 16 bytes)", path)
    with open(path, "rb") as fh:
        m_file, k, positive_sum, cutoff = EIGEN_HEADER.unpack(fh.read(EIGEN_HEADER.size))
    if m_file <= 0 or not 0 < k <= m_file:
        raise InputError(f"not a GCTB eigen file: m = {m_file}, k = {k} in its header", path)
    expected = 16 + 4 * k + 4 * m_file * k
    if size != expected:
        raise InputError(f"{size} bytes, but its header (m = {m_file} SNPs, k = {k} "
                         f"eigenvalues) implies 16 + 4k + 4mk = {expected}: truncated or "
                         "damaged; make it again (--make-ldm-eigen)", path)
    if m is not None and m_file != m:
        raise InputError(f"holds {m_file} SNPs, but ldm.info lists {m} for the block (the "
                         "folder mixes files of different builds)", path)
    return m_file, k, positive_sum, cutoff


def read_eigen_bin(path, m: int | None = None):
    """``(values, vectors, positive_sum, cutoff)`` of a ``block<ID>.eigen.bin``: eigenvalues
    descending (float64, k), eigenvectors as the columns of a C-ordered (m, k) float32
    array, the sum of positive eigenvalues and the cut-off stored. ``m``: the SNP count the
    folder's ldm.info gives (checked). A missing or truncated file is an InputError."""
    path = Path(path)
    m_file, k, positive_sum, cutoff = _eigen_header(path, m)
    vectors = np.fromfile(path, dtype="<f4", count=m_file * k, offset=16 + 4 * k)
    return (_eigenvalues(path, k), np.ascontiguousarray(vectors.reshape(k, m_file)[::-1].T),
            float(positive_sum), float(cutoff))


def _eigenvalues(path: Path, k: int) -> np.ndarray:
    """The k eigenvalues of an eigen.bin, descending (float64; stored ascending)."""
    return np.fromfile(path, dtype="<f4", count=k, offset=EIGEN_HEADER.size)[::-1].astype(
        np.float64)


def _float32_text(value: float) -> float:
    """A float32 read from a file as the decimal it was written from (0.995, not
    0.9950000047683716)."""
    return float(str(np.float32(value)))


# ------------------------------------------------------------------------- folders
@dataclass
class _Folder:
    """A merged GCTB block-LD folder: ldm.info rows and snp.info rows grouped by block in
    ldm.info order."""

    path: Path
    ldm: pd.DataFrame
    snps: pd.DataFrame

    @property
    def ids(self) -> list[str]:
        return self.ldm["Block"].tolist()

    @property
    def sizes(self) -> np.ndarray:
        return self.ldm["NumSnps"].to_numpy(np.int64)


def _read_folder(folder) -> _Folder:
    """ldm.info and snp.info of a merged folder, checked to describe the same blocks."""
    folder = Path(os.fspath(folder))
    if not folder.is_dir():
        raise InputError("not a folder: expected GCTB's block LD folder (--make-block-ldm "
                         "--out DIR)", folder)
    ldm_path = folder / "ldm.info"
    if not ldm_path.is_file():
        pending = sorted(p.name for p in folder.glob("block*.ldm.info"))
        if pending:
            raise InputError(f"ldm.info missing, but {len(pending)} per-block info files "
                             f"({pending[0]}, ...) are here: merge them first "
                             "(--ldm DIR --merge-block-ldm-info)", folder)
        raise InputError("ldm.info missing: not a GCTB block LD folder (make one with "
                         "--make-block-ldm, then --merge-block-ldm-info)", folder)
    ldm = read_ldm_info(ldm_path)
    dup = ldm["Block"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise InputError(f"block {ldm['Block'].iloc[row]} is listed twice", ldm_path,
                         int(ldm["line"].iloc[row]), 1)
    snp_path = folder / "snp.info"
    snps = read_snp_info(snp_path)
    position = pd.Series(np.arange(len(ldm)), index=ldm["Block"].to_numpy())
    which = snps["Block"].map(position)
    if which.isna().any():
        row = int(np.flatnonzero(which.isna().to_numpy())[0])
        raise InputError(f"SNP {snps['ID'].iloc[row]} is in block {snps['Block'].iloc[row]}, "
                         "which ldm.info does not list", snp_path, int(snps["line"].iloc[row]),
                         10)
    which = which.to_numpy(np.int64)
    counts = np.bincount(which, minlength=len(ldm))
    wrong = np.flatnonzero(counts != ldm["NumSnps"].to_numpy())
    if len(wrong):
        b = int(wrong[0])
        raise InputError(f"block {ldm['Block'].iloc[b]}: NumSnps {ldm['NumSnps'].iloc[b]}, but "
                         f"snp.info lists {counts[b]} SNPs of it", ldm_path,
                         int(ldm["line"].iloc[b]), 7)
    dup = snps["ID"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise InputError(f"SNP {snps['ID'].iloc[row]} is listed twice", snp_path,
                         int(snps["line"].iloc[row]), 2)
    snps = snps.iloc[np.argsort(which, kind="stable")].reset_index(drop=True)
    _check_block_rows(ldm, snps, ldm_path, snp_path)
    return _Folder(folder, ldm, snps)


def _check_block_rows(ldm: pd.DataFrame, snps: pd.DataFrame, ldm_path, snp_path) -> None:
    """The rows of each block in snp.info are its SNPs in matrix order (the eigenvector rows
    follow them, so a moved line would pair a SNP with another SNP's LD): their Index rises
    within the block (GCTB writes the block's SNPs in genome order; excluded SNPs may leave
    gaps) and its first and last IDs are ldm.info's StartSnpID and EndSnpID."""
    sizes = ldm["NumSnps"].to_numpy(np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    index = snps["Index"].to_numpy(np.int64)
    falls = np.flatnonzero(np.diff(index) <= 0) + 1  # rows whose Index is not above the last
    falls = falls[~np.isin(falls, starts)]  # (a block's first row may start anywhere)
    if len(falls):
        row = int(falls[0])
        raise InputError(f"SNP {snps['ID'].iloc[row]} has Index {index[row]}, not above the "
                         f"{index[row - 1]} of the line before it in block "
                         f"{snps['Block'].iloc[row]}: a block's SNPs are listed in matrix "
                         "order, so lines were moved (or the files come from different "
                         "builds); make the folder again", snp_path,
                         int(snps["line"].iloc[row]), 3)
    for b, (first, size) in enumerate(zip(starts, sizes)):
        for snp, row, column in ((ldm["StartSnpID"].iloc[b], first, 4),
                                 (ldm["EndSnpID"].iloc[b], first + size - 1, 6)):
            if size and snps["ID"].iloc[row] != snp:
                raise InputError(f"block {ldm['Block'].iloc[b]} starts or ends with SNP {snp}, "
                                 f"but snp.info lists {snps['ID'].iloc[row]} there", ldm_path,
                                 int(ldm["line"].iloc[b]), column)


class BlockFileEigenvectors:
    """The eigenvectors of a GCTB eigen folder, block after block row-major (float32), read
    from a block's ``eigen.bin`` when :meth:`EigenBlocks.block` slices that block: a run
    holds one block's file at a time, not the folder (1.2 GB at 1.1M SNPs). Any other use
    (``np.asarray``, other slices) reads every block."""

    dtype = np.dtype(np.float32)

    def __init__(self, paths, sizes, ranks):
        self.paths, self.sizes = list(paths), np.asarray(sizes, np.int64)
        self.ptr = np.concatenate([[0], np.cumsum(self.sizes * np.asarray(ranks, np.int64))])
        self._block_at = {int(start): b for b, start in enumerate(self.ptr[:-1])}

    def __len__(self) -> int:
        return int(self.ptr[-1])

    @property
    def shape(self) -> tuple[int]:
        return (len(self),)

    def read_block(self, b: int) -> np.ndarray:
        """Block b's eigenvectors (m_b, k_b), float32 C-ordered, eigenvalues descending."""
        return read_eigen_bin(self.paths[b], int(self.sizes[b]))[1]

    def __getitem__(self, key):
        if isinstance(key, slice) and key.step in (None, 1):
            b = self._block_at.get(int(key.start or 0))
            if b is not None and key.stop == self.ptr[b + 1]:
                return self.read_block(b).ravel()
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None):
        out = np.empty(len(self), np.float32)
        for b in range(len(self.paths)):
            out[self.ptr[b]:self.ptr[b + 1]] = self.read_block(b).ravel()
        return out if dtype is None else out.astype(dtype)


def read_gctb_eigen(folder) -> EigenBlocks:
    """GCTB's eigen LD folder (``ldm.info``, ``snp.info``, ``block<ID>.eigen.bin``) as
    :class:`~bayesmix.ld.eigen.EigenBlocks`: blocks in ldm.info order, eigenvalues
    descending, eigenvectors row-major per block, read block by block as they are used
    (:class:`BlockFileEigenvectors`).

    meta: ``prop`` the files' cut-off (the smallest when they differ), ``n_samples`` the
    snp.info N (the most frequent), ``blocks`` the IDs (integers when they are). Missing,
    truncated or inconsistent files raise :class:`InputError` naming the file: every
    eigen.bin must be 16 + 4k + 4mk bytes with m = the block's ldm.info NumSnps.
    """
    layout = _read_folder(folder)
    sizes = layout.sizes
    paths = [layout.path / f"block{i}.eigen.bin" for i in layout.ids]
    headers = [_eigen_header(path, int(m)) for path, m in zip(paths, sizes)]
    ranks = np.array([h[1] for h in headers], dtype=np.int64)
    values = np.concatenate([_eigenvalues(path, int(k)) for path, k in zip(paths, ranks)])
    vectors = BlockFileEigenvectors(paths, sizes, ranks)
    info = layout.snps
    snps = pd.DataFrame({"snp": info["ID"], "chr": info["Chrom"], "bp": info["PhysPos"],
                         "cm": info["GenPos"], "a1": info["A1"], "a2": info["A2"],
                         "freq": info["A1Freq"], "n": info["N"]})
    ids = [int(i) if _id_order(i)[0] == 0 else i for i in layout.ids]
    meta = {"kind": "eigen", "prop": min(_float32_text(h[3]) for h in headers),
            "n_samples": int(info["N"].mode().iloc[0]), "blocks": ids, "source": "gctb",
            "folder": str(layout.path)}
    return EigenBlocks(snps, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                       np.concatenate([[0], np.cumsum(ranks)]).astype(np.int64), values,
                       vectors, np.array([float(h[2]) for h in headers]), meta)


def write_gctb_eigen(eigen: EigenBlocks, folder) -> Path:
    """Write ``eigen`` as GCTB's eigen LD folder (``snp.info``, ``ldm.info`` and
    ``block<ID>.eigen.bin`` per block; IDs from ``meta["blocks"]``, else 1..B), readable by
    GCTB's ``--ldm-eigen``. The cut-off stored is ``meta["prop"]``. Chromosomes are written
    as PLINK codes (GCTB reads integers). The folder is created (its parent must exist)."""
    folder = _output_folder(folder)
    ids = _block_ids(eigen)
    sizes = np.diff(eigen.block_ptr)
    cutoff = float(eigen.meta.get("prop", 1.0))
    snps = eigen.snps
    for b, block_id in enumerate(ids):
        chroms = snps["chr"].iloc[eigen.block_ptr[b]:eigen.block_ptr[b + 1]].astype(str).unique()
        if len(chroms) != 1:
            raise InputError(f"block {block_id} spans chromosomes {', '.join(chroms)}; GCTB's "
                             "blocks lie on one chromosome")
        values, vectors = eigen.block(b)
        write_eigen_bin(folder / f"block{block_id}.eigen.bin", values, vectors,
                        float(eigen.positive_sum[b]), cutoff)
    snp_info = _snp_info(snps, np.arange(len(snps)), np.repeat([str(i) for i in ids], sizes),
                         snps["n"].to_numpy(np.int64))
    _write_info(folder, snp_info, ids, sizes)
    return folder


def _block_ids(eigen: EigenBlocks) -> list[str]:
    """File-name IDs of the blocks: ``meta["blocks"]`` when it names each block once with a
    token usable in a file name, else 1..B."""
    ids = [str(i) for i in eigen.meta.get("blocks") or []]
    usable = (len(ids) == eigen.n_blocks and len(set(ids)) == len(ids)
              and all(re.fullmatch(r"[^\s/\\]+", i) for i in ids))
    return ids if usable else [str(b + 1) for b in range(eigen.n_blocks)]


def _output_folder(path, *, create: bool = True) -> Path:
    """The output folder ``path``, created if needed (``create``; else only checked); its
    parent must exist (GCTB's mkdir)."""
    folder = Path(os.fspath(path))
    if folder.exists() and not folder.is_dir():
        raise InputError("exists and is not a folder (block LD is written into a folder)",
                         folder)
    if not folder.parent.is_dir():
        raise InputError(f"cannot create the output folder: its parent {folder.parent} does "
                         "not exist (create it first)", folder)
    if create:
        folder.mkdir(exist_ok=True)
    return folder


# ------------------------------------------------------------------------- text dumps
def _write_ldm_text(path, block_id, names, r, rows_per_chunk: int = 256) -> None:
    """GCTB's ``block<ID>.ldm.txt``: ``ID SNPi SNPj r`` (tab-separated) for every pair."""
    names = np.asarray(names, dtype=object)
    m = len(names)
    with atomic_open(path, "wt") as fh:
        for start in range(0, m, rows_per_chunk):
            stop = min(start + rows_per_chunk, m)
            pd.DataFrame({"block": block_id, "i": np.repeat(names[start:stop], m),
                          "j": np.tile(names, stop - start),
                          "r": np.asarray(r[start:stop], dtype=np.float32).ravel()}).to_csv(
                fh, sep="\t", header=False, index=False, float_format="%.6g")


def _write_eigen_text(path, block_id, values, vectors, positive_sum, cutoff) -> None:
    """GCTB's ``block<ID>.eigen.txt`` (eigenvalues and eigenvectors ascending, as stored)."""
    with atomic_open(path, "wt") as fh:
        fh.write(f"Block {block_id}\nnumSnps {vectors.shape[0]}\nnumEigenvalues {len(values)}"
                 f"\nSumPositiveEigenvalues {positive_sum:g}\nEigenCutoff {cutoff:g}"
                 "\nEigenvalues\n")
        np.savetxt(fh, np.asarray(values[::-1], dtype=np.float32)[None, :], fmt="%.6g")
        fh.write("Eigenvectors\n")
        np.savetxt(fh, np.asarray(vectors[:, ::-1], dtype=np.float32), fmt="%.6g")
        fh.write("\n")


# ------------------------------------------------------------------------- building
@dataclass
class BlockRun:
    """What a block-LD command did (for logs and callers).

    folder : where the files are.
    ids, sizes : the blocks built (or finished by the interrupted run resumed), with their
        SNP counts, in the order they ran.
    ranks : eigenvalues kept per block (eigen-decompositions), else None.
    resumed : blocks taken over from an interrupted run's checkpoint.
    n_samples : individuals behind the LD (genotype builds).
    outside : SNPs used that fall in no block of the block file (left out, as GCTB does).
    empty : IDs of the blocks run on that hold none of the SNPs (no files, as in GCTB).
    dropped : SNPs left out before the mapping, by reason (filters, monomorphic SNPs).
    written : names of the files written, ``<ID>`` standing for each block's ID.
    merged : the merged snp.info and ldm.info were written.
    """

    folder: Path
    ids: list = field(default_factory=list)
    sizes: list = field(default_factory=list)
    ranks: list | None = None
    resumed: int = 0
    n_samples: int | None = None
    outside: int = 0
    empty: list = field(default_factory=list)
    dropped: dict = field(default_factory=dict)
    written: list = field(default_factory=list)
    merged: bool = False


@dataclass
class _Mapping:
    genotypes: Genotypes
    use: np.ndarray                 # positions in genotypes.snps of the SNPs used
    units: list                     # (block ID, positions in ``use``) of the blocks to build
    outside: int
    empty: list
    dropped: dict
    all_members: np.ndarray         # positions in ``use`` of every block's SNPs, concatenated


def _map_blocks(bfile, blocks, block: int | None, filters: dict) -> _Mapping:
    """Open the genotypes with ``filters`` and find the SNPs of each block (of the
    ``block``-th only when given, 1-based in file order)."""
    table = blocks if isinstance(blocks, pd.DataFrame) else read_block_info(blocks)
    where = None if isinstance(blocks, pd.DataFrame) else blocks
    if block is not None and not 1 <= block <= len(table):
        raise InputError(f"--block {block}: the block file lists {len(table)} blocks", where)
    genotypes = Genotypes.open(bfile, **{k: v for k, v in filters.items() if v is not None})
    snps = genotypes.snps
    dropped = {reason: n for reason, n in genotypes.filter_counts.items() if n}
    polymorphic = ((snps["freq"] > 0) & (snps["freq"] < 1) & (snps["n_obs"] > 0)).to_numpy()
    if (~polymorphic).any():
        dropped["monomorphic SNPs (r undefined)"] = int((~polymorphic).sum())
    use = np.flatnonzero(polymorphic)
    members = block_members(snps.iloc[use], table)
    inside = np.concatenate(members)
    ids = snps["snp"].to_numpy()[use[inside]]
    _, first, copies = np.unique(ids, return_index=True, return_counts=True)
    if (copies > 1).any():
        i = inside[first[np.flatnonzero(copies > 1)[0]]]
        raise InputError(f"SNP {snps['snp'].iloc[use[i]]} appears twice in the blocks; SNP "
                         "IDs must be unique (GCTB refuses them in snp.info)",
                         f"{genotypes.prefix}.bim", int(snps["bed_index"].iloc[use[i]]) + 1, 2)
    if not len(inside):
        raise InputError("no SNP of the genotypes falls in a block (a block holds the SNPs of "
                         "its chromosome with StartBP <= bp < EndBP)", where)
    rows = range(len(table)) if block is None else [block - 1]
    ids = table["block"].tolist()
    units = [(ids[i], members[i]) for i in rows if len(members[i])]
    empty = [ids[i] for i in rows if not len(members[i])]
    return _Mapping(genotypes, use, units, len(use) - len(inside), empty, dropped, inside)


@contextlib.contextmanager
def _blas_threads(threads: int | None):
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def _each_block(folder: Path, units: list, work, *, kind: str, fingerprint: dict,
                resume: bool, progress, threads: int | None) -> tuple[list, int]:
    """``work(block_id, payload) -> summary`` (JSON; ``summary["files"]`` the names written
    in ``folder``) for every unit, in order, inside :func:`bayesmix.interrupt.deferred`: a
    signal stops after the running block with :class:`bayesmix.interrupt.Interrupted`. With
    several units, finished ones are recorded in a checkpoint folder in ``folder`` (removed
    at the end); ``resume`` takes them over (same fingerprint) when their files are still
    there. Returns the summaries and the number taken over."""
    from bayesmix.progress import Progress

    path = folder / _CHECKPOINTS[kind] if len(units) > 1 else None
    ckpt = Checkpoint.open(path, kind=kind, fingerprint=fingerprint, resume=resume)
    done = {}
    if ckpt is not None and ckpt.resumed:
        done = {block_id: summary for block_id, summary in ckpt.state.get("done", [])
                if all((folder / name).is_file() for name in summary["files"])}
    summaries, taken = [], 0
    with Progress(len(units), desc="LD blocks", unit="blocks", progress=progress,
                  initial=len(done)) as bar, interrupt.deferred(), _blas_threads(threads):
        for block_id, payload in units:
            if str(block_id) in done:
                summaries.append(done[str(block_id)])
                taken += 1
                continue
            summary = work(block_id, payload)
            summaries.append(summary)
            done[str(block_id)] = summary
            if ckpt is not None:
                ckpt.save({"done": list(done.items())})
            bar.update(1, note=f"block {block_id}: {summary['m']} SNPs")
            if interrupt.requested():
                raise interrupt.Interrupted(interrupt.requested_signal())
    if ckpt is not None:
        ckpt.remove()
    return summaries, taken


def _genotype_fingerprint(mapping: _Mapping, own: dict, fingerprint: dict | None) -> dict:
    from bayesmix.ld.compute import _table_digest

    snps = mapping.genotypes.snps
    own = {**own, "blocks": digest_arrays(np.array([str(i) for i, _ in mapping.units]),
                                          *[m for _, m in mapping.units]),
           "snps": _table_digest(snps.iloc[mapping.use]),
           "samples": _table_digest(mapping.genotypes.samples)}
    return {**{f"blocks.{k}": v for k, v in own.items()}, **(fingerprint or {})}


def _refuse_leftover(folder, kind: str, resume: bool) -> None:
    """The cheap check before any input is read: an unfinished run's checkpoint in the
    output folder needs ``resume``."""
    Checkpoint.refuse_without_resume(Path(os.fspath(folder)) / _CHECKPOINTS[kind], resume)


def _start_build(out_dir, kind: str, resume: bool, bfile, blocks, block, filters):
    """The output folder (checked, then created once the inputs are read: refused inputs
    leave no folder), the block mapping and the SNP table of the SNPs used."""
    folder = _output_folder(out_dir, create=False)
    _refuse_leftover(folder, kind, resume)
    mapping = _map_blocks(bfile, blocks, block, filters)
    _output_folder(folder)
    return folder, mapping, mapping.genotypes.snps.iloc[mapping.use].reset_index(drop=True)


def make_block_ldm(bfile, blocks, out_dir, *, block: int | None = None,
                   write_text: bool = False, missing: str = "mean", threads: int | None = None,
                   progress=True, resume: bool = False, fingerprint: dict | None = None,
                   **filters) -> BlockRun:
    """GCTB's ``--make-block-ldm``: the full LD of each block of ``blocks`` (a block file,
    :func:`read_block_info`, or its table) from the PLINK genotypes ``bfile``, written to
    ``out_dir`` (created; its parent must exist) as ``block<ID>.ldm.bin``, ``.snp.info``
    and ``.ldm.info`` (and ``.ldm.txt`` with ``write_text``).

    Parameters
    ----------
    block : only the ``block``-th block of the file (1-based, file order), so blocks can run
        as separate jobs; merge their info files afterwards (:func:`merge_block_ldm_info`).
    missing : "mean" (GCTB: missing calls at the SNP mean) or "pairwise".
    threads : BLAS threads (None: the library default).
    progress : as in :class:`bayesmix.progress.Progress`.
    resume, fingerprint : a run stopped by a signal keeps its finished blocks' files and a
        checkpoint in ``out_dir``; ``resume=True`` continues it (``fingerprint``: the
        caller's entries that must match, e.g. input digests and options).
    filters : keep, remove, extract, exclude, chrom, maf, exclude_mhc, exclude_regions of
        :meth:`bayesmix.io.plink.Genotypes.open`. SNPs are mapped to blocks after them (GCTB
        drops the last SNPs of a chromosome when any was excluded; bayesmix does not).

    Without ``block``, the info files are merged at the end when the SNPs cover 22 or more
    chromosomes (a genome-wide build), as GCTB does. Monomorphic SNPs are left out (r is
    undefined). Returns a :class:`BlockRun`.
    """
    folder, mapping, snps = _start_build(out_dir, "make_block_ldm", resume, bfile, blocks,
                                         block, filters)
    genotypes, use, n = mapping.genotypes, mapping.use, mapping.genotypes.n_samples

    def work(block_id, cols):
        name = f"block{block_id}"
        r = block_ld(genotypes, use[cols], missing)
        write_ldm_bin(folder / f"{name}.ldm.bin", r)
        files = [f"{name}.ldm.bin"]
        if write_text:
            _write_ldm_text(folder / f"{name}.ldm.txt", block_id, snps["snp"].iloc[cols], r)
            files.append(f"{name}.ldm.txt")
        info = _snp_info(snps.iloc[cols], cols, str(block_id), n)
        files += _write_info(folder, info, [block_id], [len(cols)], prefix=f"{name}.")
        return {"m": len(cols), "files": files}

    summaries, taken = _each_block(
        folder, mapping.units, work, kind="make_block_ldm", resume=resume, progress=progress,
        threads=threads, fingerprint=_genotype_fingerprint(mapping, {"missing": missing},
                                                           fingerprint))
    run = _run_of(folder, mapping, summaries, taken,
                  ["block<ID>.ldm.bin", "block<ID>.snp.info", "block<ID>.ldm.info"]
                  + (["block<ID>.ldm.txt"] if write_text else []))
    if block is None and snps["chr"].nunique() >= 22 and mapping.units:
        merge_block_ldm_info(folder)
        run.merged = True
        run.written += ["snp.info", "ldm.info"]
    return run


def _run_of(folder, mapping: _Mapping, summaries, taken, written) -> BlockRun:
    return BlockRun(folder, [i for i, _ in mapping.units], [s["m"] for s in summaries],
                    [s["k"] for s in summaries] if summaries and "k" in summaries[0] else None,
                    taken, mapping.genotypes.n_samples, mapping.outside, mapping.empty,
                    mapping.dropped, written)


def merge_block_ldm_info(folder) -> BlockRun:
    """GCTB's ``--merge-block-ldm-info``: concatenate the ``block<ID>.snp.info`` and
    ``block<ID>.ldm.info`` files of ``folder`` (IDs ascending, Index renumbered 0..M-1)
    into ``snp.info`` and ``ldm.info``, then delete the per-block ones (only once both merged
    files are written, atomically). Each pair is checked: one ldm.info row whose NumSnps,
    first and last SNP match the snp.info, and the block's ``.ldm.bin``, when present, of
    m x m float32. Returns a :class:`BlockRun`."""
    folder = Path(os.fspath(folder))
    if not folder.is_dir():
        raise InputError("not a folder: expected GCTB's block LD folder (--make-block-ldm "
                         "--out DIR)", folder)
    found: dict[str, dict] = {}
    for path in folder.iterdir():
        match = _INFO_NAME.fullmatch(path.name)
        if match:
            found.setdefault(match.group(1), {})[match.group(2)] = path
    if not found:
        merged = (folder / "snp.info").is_file() and (folder / "ldm.info").is_file()
        raise InputError("no per-block info files (block<ID>.snp.info, block<ID>.ldm.info) to "
                         "merge" + (": snp.info and ldm.info are here, the folder is already "
                                    "merged" if merged else ""), folder)
    parts = []
    for block_id, pair in found.items():
        for kind in ("snp", "ldm"):
            if kind not in pair:
                raise InputError(f"block{block_id}.{kind}.info is missing (its "
                                 f"block{block_id}.{'ldm' if kind == 'snp' else 'snp'}.info "
                                 "is here): rebuild the block", folder)
        parts.append((block_id, _checked_block_info(folder, block_id, pair)))
    with interrupt.deferred():
        ids, sizes = _merged_info(folder, parts)
        for pair in found.values():
            for path in pair.values():
                path.unlink()
    return BlockRun(folder, ids, sizes, written=["snp.info", "ldm.info"], merged=True)


def _checked_block_info(folder: Path, block_id: str, pair: dict) -> pd.DataFrame:
    """The snp.info rows of one block, after checking them against its ldm.info and
    ldm.bin."""
    snp, ldm = read_snp_info(pair["snp"]), read_ldm_info(pair["ldm"])
    if len(ldm) != 1 or ldm["Block"].iloc[0] != block_id:
        raise InputError(f"expected one row, of block {block_id}", pair["ldm"])
    row = ldm.iloc[0]
    others = snp["Block"].to_numpy() != block_id
    if others.any():
        i = int(np.flatnonzero(others)[0])
        raise InputError(f"SNP {snp['ID'].iloc[i]} is in block {snp['Block'].iloc[i]}, not "
                         f"{block_id}", pair["snp"], int(snp["line"].iloc[i]), 10)
    if (row["NumSnps"] != len(snp) or row["StartSnpID"] != snp["ID"].iloc[0]
            or row["EndSnpID"] != snp["ID"].iloc[-1]):
        raise InputError(f"NumSnps {row['NumSnps']} ({row['StartSnpID']} .. "
                         f"{row['EndSnpID']}), but block{block_id}.snp.info lists {len(snp)} "
                         f"SNPs ({snp['ID'].iloc[0]} .. {snp['ID'].iloc[-1]})", pair["ldm"],
                         int(row["line"]), 7)
    matrix = folder / f"block{block_id}.ldm.bin"
    if matrix.is_file():
        _check_ldm_bin(matrix, len(snp))
    return snp.drop(columns="line")


def make_ldm_eigen(folder, cutoff: float = 0.995, *, block: int | None = None,
                   write_text: bool = False, threads: int | None = None, progress=True,
                   resume: bool = False) -> BlockRun:
    """GCTB's ``--ldm DIR --make-ldm-eigen``: eigen-decompose each ``block<ID>.ldm.bin`` of a
    merged folder (float64, ``numpy.linalg.eigh``) and write ``block<ID>.eigen.bin`` next to
    it, keeping the fewest leading eigenpairs whose share of the positive eigenvalues'
    sum is greater than ``cutoff`` (:func:`bayesmix.ld.eigen.kept_rank`).

    block : only the ``block``-th block of ldm.info (1-based). write_text : also
        ``block<ID>.eigen.txt``. threads, progress, resume : as in :func:`make_block_ldm`
        (the checkpoint fingerprint is the cut-off, the blocks and the digests of ldm.info
        and snp.info). Returns a :class:`BlockRun`.
    """
    from bayesmix.io.digest import file_digest

    _check_cutoff(cutoff)
    layout = _read_folder(folder)
    _refuse_leftover(layout.path, "make_ldm_eigen", resume)
    units = list(zip(layout.ids, layout.sizes.tolist()))
    if block is not None:
        if not 1 <= block <= len(units):
            raise InputError(f"--block {block}: ldm.info lists {len(units)} blocks",
                             layout.path / "ldm.info")
        units = [units[block - 1]]
    fingerprint = {"eigen.cutoff": repr(float(cutoff)),
                   "eigen.blocks": ",".join(i for i, _ in units),
                   "ldm.info": file_digest(layout.path / "ldm.info"),
                   "snp.info": file_digest(layout.path / "snp.info")}

    def work(block_id, m):
        source = layout.path / f"block{block_id}.ldm.bin"
        return _write_eigen(layout.path, block_id, read_ldm_bin(source, m), cutoff, write_text,
                            source=source)

    summaries, taken = _each_block(layout.path, units, work, kind="make_ldm_eigen",
                                   fingerprint=fingerprint, resume=resume, progress=progress,
                                   threads=threads)
    return BlockRun(layout.path, [i for i, _ in units], [s["m"] for s in summaries],
                    [s["k"] for s in summaries], taken,
                    written=["block<ID>.eigen.bin"]
                    + (["block<ID>.eigen.txt"] if write_text else []))


def _check_cutoff(cutoff: float) -> None:
    if not 0 < cutoff <= 1:
        raise InputError(f"the eigen cut-off must be in (0, 1], not {cutoff}")


def _write_eigen(folder: Path, block_id, r, cutoff: float, write_text: bool, *,
                 source=None) -> dict:
    """Decompose one block's LD (read from ``source``, named in errors) and write its
    eigen.bin (and eigen.txt); the summary."""
    values, vectors, positive_sum = decompose_ld(r, cutoff, source=source)
    name = f"block{block_id}"
    write_eigen_bin(folder / f"{name}.eigen.bin", values, vectors, positive_sum, cutoff)
    files = [f"{name}.eigen.bin"]
    if write_text:
        _write_eigen_text(folder / f"{name}.eigen.txt", block_id, values, vectors,
                          positive_sum, cutoff)
        files.append(f"{name}.eigen.txt")
    return {"m": int(vectors.shape[0]), "k": len(values), "files": files}


def make_ldm_eigen_from_genotypes(bfile, blocks, out_dir, cutoff: float = 0.995, *,
                                  block: int | None = None, write_text: bool = False,
                                  missing: str = "mean", threads: int | None = None,
                                  progress=True, resume: bool = False,
                                  fingerprint: dict | None = None, **filters) -> BlockRun:
    """:func:`make_block_ldm`, :func:`merge_block_ldm_info` and :func:`make_ldm_eigen` in
    one pass, without writing the m x m matrices: each block's LD (rounded to float32, as
    the two-step build stores it, so both give the same eigen files bit for bit) is
    decomposed and written as ``block<ID>.eigen.bin``, then ``snp.info`` and ``ldm.info``
    (IDs ascending, as merged). With ``block``, the block's ``block<ID>.snp.info`` and
    ``.ldm.info`` instead, to merge with :func:`merge_block_ldm_info` once every block has
    run. The block file may span several chromosomes (GCTB's is genome-wide). Arguments as
    in :func:`make_block_ldm` and :func:`make_ldm_eigen`; returns a :class:`BlockRun`.
    """
    _check_cutoff(cutoff)
    folder, mapping, snps = _start_build(out_dir, "make_ldm_eigen_bfile", resume, bfile,
                                         blocks, block, filters)
    genotypes, use = mapping.genotypes, mapping.use

    def work(block_id, cols):
        r = block_ld(genotypes, use[cols], missing).astype(np.float32)
        return _write_eigen(folder, block_id, r, cutoff, write_text)

    summaries, taken = _each_block(
        folder, mapping.units, work, kind="make_ldm_eigen_bfile", resume=resume,
        progress=progress, threads=threads,
        fingerprint=_genotype_fingerprint(mapping, {"missing": missing,
                                                    "cutoff": repr(float(cutoff))},
                                          fingerprint))
    parts = [(str(i), _snp_info(snps.iloc[cols], cols, str(i), genotypes.n_samples))
             for i, cols in mapping.units]
    run = _run_of(folder, mapping, summaries, taken,
                  ["block<ID>.eigen.bin"] + (["block<ID>.eigen.txt"] if write_text else []))
    if block is not None:
        for block_id, info in parts:
            run.written += _write_info(folder, info, [block_id], [len(info)],
                                       prefix=f"block{block_id}.")
    elif parts:
        _merged_info(folder, parts)
        run.written += ["snp.info", "ldm.info"]
        run.merged = True
    return run
