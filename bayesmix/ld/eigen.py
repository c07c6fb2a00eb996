"""Eigen-decomposed LD blocks (as used by newer SBayes methods, e.g. SBayesRC).

The chromosome is cut into LD blocks (a block file, or consecutive blocks of SNPs); within
block b the correlation matrix R_b (exact, see :func:`bayesmix.ld.compute.correlation_block`)
is decomposed as R_b = U diag(lambda) U' and only the leading eigenpairs whose eigenvalues add
up to a share ``prop`` of the sum of positive eigenvalues are kept, so R_b ~ U_k diag(lambda_k)
U_k'. Storage per block is m_b x k float32 instead of m_b^2.

Folder layout (format ``bayesmix-ld-eigen``, version 1)::

    meta.json          format, version, prop, n_samples, block ids
    snps.tsv           snp chr bp cm a1 a2 freq n
    block_ptr.npy      int64, SNP ranges of the blocks (n_blocks + 1)
    rank_ptr.npy       int64, ranges of kept eigenvalues per block (n_blocks + 1)
    eigenvalues.npy    float64, kept eigenvalues, descending within a block
    eigenvectors.npy   float32, block b's U_k stored row-major (m_b x k_b) one after another
    positive_sum.npy   float64, per block the sum of its positive eigenvalues
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix import __version__, interrupt
from bayesmix.checkpoint import Checkpoint, digest_arrays
from bayesmix.errors import InputError
from bayesmix.io.files import atomic_path, json_types, open_text
from bayesmix.io.plink import Genotypes
from bayesmix.ld.store import (LDMatrix, _read_snp_table, load_array,
                                 normalize_snp_table, read_meta)

FORMAT_NAME = "bayesmix-ld-eigen"
FORMAT_VERSION = 1


#: eigenvalues above this count as positive (GCTB's ``eigenDecomposition``, eigen.cpp:61)
POSITIVE_EIGENVALUE = 1e-10


def read_block_info(path, *, integer_ids: bool = True) -> pd.DataFrame:
    """Read an LD block file (GCTB's ``--block-info``, ``bayesmix ld eigen --ld-blocks``).

    The first line is a header and is skipped whatever it holds (as GCTB does); then one
    block per line, exactly 4 whitespace-separated fields ``ID Chrom StartBP EndBP``. A block
    holds the SNPs of its chromosome with **StartBP <= bp < EndBP** (half-open, GCTB's
    ``mapSnpsToBlocks``): a SNP at bp == EndBP belongs to the next block when one starts
    there, else to no block. Chromosomes match the ``.bim``'s with a ``chr`` prefix ignored
    (:func:`block_members`).

    ``integer_ids``: IDs must be integers (GCTB names its files ``block<ID>.*`` and the merge
    step reads the ID back as an integer); otherwise any text.

    Returns columns block (int, or str), chr (str, as written), start, end (int64, bp) and
    line (1-based line of the file), in file order. Raises :class:`InputError` naming the
    file, line and column for: a line without exactly 4 fields, a non-integer ID (with
    ``integer_ids``) or StartBP/EndBP, EndBP <= StartBP, a negative StartBP, an ID listed
    twice, blocks overlapping on a chromosome, or no block at all.
    """
    rows, first_line = [], {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if lineno == 1 or not fields:
                continue
            if len(fields) != 4:
                raise InputError(f"expected 4 fields (ID Chrom StartBP EndBP), found "
                                 f"{len(fields)}", path, lineno)
            block = fields[0]
            if integer_ids:
                try:
                    block = int(block)
                except ValueError:
                    raise InputError(f"block ID {fields[0]!r} is not an integer (GCTB names "
                                     "the files of block ID block<ID>.* and reads the ID back "
                                     "as an integer)", path, lineno, 1) from None
            for column in (3, 4):
                try:
                    int(fields[column - 1])
                except ValueError:
                    raise InputError(f"{'StartBP' if column == 3 else 'EndBP'} "
                                     f"{fields[column - 1]!r} is not an integer", path,
                                     lineno, column) from None
            start, end = int(fields[2]), int(fields[3])
            if start < 0:
                raise InputError(f"StartBP {start} is negative", path, lineno, 3)
            if end <= start:
                raise InputError(f"EndBP {end} is not after StartBP {start} (a block holds "
                                 "StartBP <= bp < EndBP)", path, lineno, 4)
            if block in first_line:
                raise InputError(f"block ID {block} is listed twice (first on line "
                                 f"{first_line[block]})", path, lineno, 1)
            first_line[block] = lineno
            rows.append((block, fields[1], start, end, lineno))
    if not rows:
        raise InputError("no LD blocks listed (a header line, then ID Chrom StartBP EndBP "
                         "per block)", path)
    table = pd.DataFrame(rows, columns=["block", "chr", "start", "end", "line"])
    _refuse_overlaps(table, path)
    return table


def read_ld_blocks(path) -> pd.DataFrame:
    """:func:`read_block_info` with IDs of any text (``bayesmix ld eigen --ld-blocks``)."""
    return read_block_info(path, integer_ids=False)


def _chrom_codes(labels) -> np.ndarray:
    from bayesmix.io.regions import chrom_code
    from bayesmix.io.sumstats import map_distinct

    return map_distinct(labels, chrom_code)


def _refuse_overlaps(table: pd.DataFrame, path) -> None:
    """InputError at the first block that starts before the end of another block of its
    chromosome (blocks of a chromosome sorted by StartBP)."""
    order = table.assign(code=_chrom_codes(table["chr"])).sort_values(["code", "start"],
                                                                       kind="stable")
    same = order["code"].to_numpy()[1:] == order["code"].to_numpy()[:-1]
    overlap = same & (order["start"].to_numpy()[1:] < order["end"].to_numpy()[:-1])
    if overlap.any():
        i = int(np.flatnonzero(overlap)[0])
        earlier, later = order.iloc[i], order.iloc[i + 1]
        first, second = sorted([earlier, later], key=lambda row: row["line"])
        raise InputError(f"block {second['block']} ({second['chr']}:{second['start']}-"
                         f"{second['end']}) overlaps block {first['block']} "
                         f"({first['chr']}:{first['start']}-{first['end']}, line "
                         f"{first['line']}); blocks must not overlap", path,
                         int(second["line"]))


def block_members(snps: pd.DataFrame, blocks: pd.DataFrame) -> list[np.ndarray]:
    """The SNPs of each block: positions (rows of ``snps``, ascending), in the order of
    ``blocks`` (a :func:`read_block_info` table).

    A SNP is in a block when its chromosome is the block's (``chr`` prefixes ignored, X/Y/
    XY/MT as PLINK codes them) and StartBP <= bp < EndBP. Unlike GCTB's single forward sweep
    (which loses the last SNPs of a chromosome when any SNP was excluded, and needs sorted
    blocks), every block is found by its own search, so filters and block order do not
    matter.
    """
    chrom = _chrom_codes(snps["chr"])
    bp = snps["bp"].to_numpy(dtype=np.int64)
    block_chrom = _chrom_codes(blocks["chr"])
    starts, ends = blocks["start"].to_numpy(np.int64), blocks["end"].to_numpy(np.int64)
    members = [np.zeros(0, dtype=np.int64)] * len(blocks)
    for code in pd.unique(block_chrom):
        rows = np.flatnonzero(block_chrom == code)
        on = np.flatnonzero(chrom == code)
        order = on[np.argsort(bp[on], kind="stable")]
        lo = np.searchsorted(bp[order], starts[rows], side="left")
        hi = np.searchsorted(bp[order], ends[rows], side="left")
        for row, a, b in zip(rows, lo, hi):
            members[row] = np.sort(order[a:b])
    return members


def block_ld(genotypes: Genotypes, columns: np.ndarray, missing: str = "mean") -> np.ndarray:
    """The exact LD (float64, m x m, unit diagonal) of the SNPs at ``columns`` (positions in
    ``genotypes.snps``): Pearson r of the A1 counts, missing calls at the SNP mean
    (``missing="mean"``, GCTB's rule; see :func:`bayesmix.ld.compute.correlation_block`)."""
    from bayesmix.ld.compute import _Counts, _read_raw_counts, correlation_block

    counts = _Counts.from_raw(_read_raw_counts(genotypes, np.asarray(columns)))
    r = correlation_block(counts, counts, genotypes.n_samples, missing)
    np.fill_diagonal(r, 1.0)
    return r


def kept_rank(values: np.ndarray, prop: float, total: float | None = None) -> tuple[int, float]:
    """GCTB's truncation rule on eigenvalues sorted descending: ``(k, positive_sum)``.

    positive_sum is the sum of the eigenvalues above :data:`POSITIVE_EIGENVALUE` (or
    ``total``: a block's full sum when ``values`` are only its kept ones); k is the fewest
    leading eigenvalues whose sum is a share of it strictly greater than ``prop`` (all positive
    ones when no share exceeds ``prop``, e.g. ``prop`` = 1).
    """
    values = np.asarray(values, dtype=np.float64)
    positive = values[values > POSITIVE_EIGENVALUE]
    total = float(positive.sum()) if total is None else float(total)
    if not len(positive) or not total > 0:
        return 0, total
    share = np.cumsum(positive) / total
    k = int(np.searchsorted(share, prop, side="right")) + 1
    return min(k, len(positive)), total


def decompose_ld(r: np.ndarray, prop: float, *,
                 source=None) -> tuple[np.ndarray, np.ndarray, float]:
    """Truncated eigen-decomposition of one block's LD, in float64 (``numpy.linalg.eigh``).

    Returns ``(values, vectors, positive_sum)``: the kept eigenvalues, descending (k,), their
    eigenvectors as the columns of an (m, k) float64 array, and the sum of all positive
    eigenvalues (the rule is :func:`kept_rank`'s). An LD matrix with values that are not
    finite (NaN from a SNP without variation, a damaged file) raises :class:`InputError`:
    LAPACK would return NaN eigenpairs, written as a one-eigenvector decomposition.
    ``source``: the file the matrix was read from, named in that error.
    """
    r = np.asarray(r, dtype=np.float64)
    finite = np.isfinite(r)
    if not finite.all():
        i, j = (int(x) for x in np.argwhere(~finite)[0])
        raise InputError(f"the block's LD matrix ({r.shape[0]} SNPs) has "
                         f"{int((~finite).sum())} values that are not finite numbers (the "
                         f"first at row {i + 1}, column {j + 1} of the block): a damaged or "
                         "foreign LD file, or a SNP without variation; build the block LD "
                         "again", source)
    values, vectors = np.linalg.eigh(r)
    values, vectors = values[::-1], vectors[:, ::-1]
    k, positive_sum = kept_rank(values, prop)
    return np.ascontiguousarray(values[:k]), np.ascontiguousarray(vectors[:, :k]), positive_sum


@dataclass
class EigenBlocks:
    """Per-block truncated eigen-decompositions of LD (see the module docstring)."""

    snps: pd.DataFrame
    block_ptr: np.ndarray
    rank_ptr: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    positive_sum: np.ndarray
    meta: dict = field(default_factory=dict)
    #: the folder read (:meth:`load`), for messages; None when built in memory
    path: Path | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self.snps = normalize_snp_table(self.snps)

    @property
    def n_blocks(self) -> int:
        return len(self.block_ptr) - 1

    @cached_property
    def vector_ptr(self) -> np.ndarray:
        """Start of each block's eigenvectors in ``eigenvectors`` (n_blocks + 1)."""
        sizes = np.diff(np.asarray(self.block_ptr, np.int64)) * np.diff(
            np.asarray(self.rank_ptr, np.int64))
        return np.concatenate([[0], np.cumsum(sizes)])

    def block(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """``(lambda_k, U_k)`` of block b: eigenvalues (k,) and eigenvectors (m_b, k)."""
        m_b = int(self.block_ptr[b + 1] - self.block_ptr[b])
        k0, k1 = int(self.rank_ptr[b]), int(self.rank_ptr[b + 1])
        start = int(self.vector_ptr[b])
        vectors = np.asarray(self.eigenvectors[start:start + m_b * (k1 - k0)]).reshape(m_b, k1 - k0)
        return np.asarray(self.eigenvalues[k0:k1]), vectors

    @classmethod
    def concatenate(cls, parts) -> "EigenBlocks":
        """The blocks of several decompositions (e.g. one per chromosome) as one, in order;
        meta from the first, with every part's block ids."""
        parts = list(parts)
        snp_offsets = np.cumsum([0] + [int(p.block_ptr[-1]) for p in parts])
        rank_offsets = np.cumsum([0] + [int(p.rank_ptr[-1]) for p in parts])
        return cls(pd.concat([p.snps for p in parts], ignore_index=True),
                   np.concatenate([[0]] + [np.asarray(p.block_ptr[1:]) + o
                                           for p, o in zip(parts, snp_offsets)]),
                   np.concatenate([[0]] + [np.asarray(p.rank_ptr[1:]) + o
                                           for p, o in zip(parts, rank_offsets)]),
                   *(np.concatenate([np.asarray(getattr(p, name)) for p in parts])
                     for name in ("eigenvalues", "eigenvectors", "positive_sum")),
                   meta=dict(parts[0].meta, blocks=[b for p in parts for b in p.meta["blocks"]]))

    def kept(self, b: int, cutoff: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Block b's eigenvalues (descending) and eigenvectors (m_b, k) as float64, truncated
        at ``cutoff`` by :func:`kept_rank` against the block's full positive sum (GCTB's
        ``--ldm-eigen-cutoff``); all the folder keeps when ``cutoff`` is None or not below the
        share it was built with (GCTB folders store it as float32: 0.995 reads 0.99500000477).

        Eigenpairs stored with an eigenvalue not above :data:`POSITIVE_EIGENVALUE` (a folder
        made with a cut-off of 1 by a tool that keeps them) are left out: they hold no LD
        and the rotated statistics divide by sqrt(lambda). Values that are not finite (an
        eigenvalue, an eigenvector entry, the block's positive sum) raise
        :class:`InputError` naming the block and its file."""
        values, vectors = self.block(b)
        values = np.asarray(values, np.float64)
        self._check_finite(b, values, vectors)
        k = int(np.sum(values > POSITIVE_EIGENVALUE))  # descending: the positive ones lead
        built = float(self.meta.get("prop", 1.0))
        if cutoff is not None and cutoff < built * (1 - 1e-6) and k:
            k = min(k, kept_rank(values, cutoff, self.positive_sum[b])[0])
        return values[:k], np.asarray(vectors[:, :k], np.float64)

    def block_name(self, b: int) -> str:
        """Block b's ID (``meta["blocks"]``), else its 1-based position."""
        names = self.meta.get("blocks") or []
        return str(names[b]) if b < len(names) else str(b + 1)

    def block_file(self, b: int, name: str = "eigenvectors") -> Path | None:
        """The file holding block b's eigenpairs: ``block<ID>.eigen.bin`` of a GCTB folder,
        ``name``.npy of a bayesmix folder; None when not read from a folder."""
        if self.meta.get("source") == "gctb" and self.meta.get("folder"):
            return Path(self.meta["folder"]) / f"block{self.block_name(b)}.eigen.bin"
        return None if self.path is None else Path(self.path) / f"{name}.npy"

    def _check_finite(self, b: int, values, vectors) -> None:
        """InputError naming block b and its file when its eigenpairs or positive sum are not
        all finite numbers."""
        checks = (("eigenvalues", values, "eigenvalues"), ("eigenvectors", vectors,
                                                            "eigenvectors"),
                  ("sum of positive eigenvalues",
                   np.asarray([self.positive_sum[b]], np.float64), "positive_sum"))
        for what, array, name in checks:
            bad = ~np.isfinite(array)
            if bad.any():
                raise InputError(f"block {self.block_name(b)} ({b + 1} of {self.n_blocks}): "
                                 f"{int(bad.sum())} of its {what} are not finite numbers (NaN "
                                 "or infinite): a damaged file, or LD with NaN decomposed; "
                                 "build the eigen-decomposition again",
                                 self.block_file(b, name))

    def approximate_ld(self, b: int) -> np.ndarray:
        """U_k diag(lambda_k) U_k' of block b (dense float64), the LD the decomposition keeps."""
        values, vectors = self.block(b)
        u = vectors.astype(np.float64)
        return (u * values) @ u.T

    def explained_share(self) -> np.ndarray:
        """Per block, kept eigenvalue sum / sum of positive eigenvalues."""
        kept = np.add.reduceat(self.eigenvalues, self.rank_ptr[:-1]) if len(self.eigenvalues) else 0
        kept = np.where(np.diff(self.rank_ptr) > 0, kept, 0.0)
        return kept / self.positive_sum

    def save(self, path) -> Path:
        path = Path(path)
        meta = dict(self.meta, format=FORMAT_NAME, version=FORMAT_VERSION)
        with atomic_path(path) as tmp:
            tmp.mkdir()
            for name in ("block_ptr", "rank_ptr", "eigenvalues", "eigenvectors", "positive_sum"):
                np.save(tmp / f"{name}.npy", np.asarray(getattr(self, name)))
            self.snps.to_csv(tmp / "snps.tsv", sep="\t", index=False)
            (tmp / "meta.json").write_text(json.dumps(json_types(meta), indent=1, sort_keys=True))
        return path

    @classmethod
    def load(cls, path, *, mmap: bool = True) -> "EigenBlocks":
        """Open a saved folder (arrays memory-mapped with ``mmap``).

        Missing, truncated or mutually inconsistent files raise :class:`InputError` naming
        the file.
        """
        path = Path(os.fspath(path))
        meta = read_meta(path, FORMAT_NAME, FORMAT_VERSION)
        arrays = {name: load_array(path / f"{name}.npy", "r" if mmap else None)
                  for name in ("block_ptr", "rank_ptr", "eigenvalues", "eigenvectors",
                               "positive_sum")}
        snps = _read_snp_table(path / "snps.tsv")
        _check_layout(path, arrays, len(snps))
        return cls(snps, meta=meta, path=path, **arrays)


def _check_layout(path: Path, arrays: dict, n_snps: int) -> None:
    """The arrays of an eigen folder describe the same blocks and SNPs (else InputError)."""
    block_ptr = np.asarray(arrays["block_ptr"], dtype=np.int64)
    rank_ptr = np.asarray(arrays["rank_ptr"], dtype=np.int64)
    if (len(block_ptr) < 1 or len(rank_ptr) != len(block_ptr) or block_ptr[0] != 0
            or rank_ptr[0] != 0 or (np.diff(block_ptr) < 0).any() or (np.diff(rank_ptr) < 0).any()):
        raise InputError("block_ptr.npy and rank_ptr.npy are not matching block boundaries",
                         path / "rank_ptr.npy")
    checks = [("block_ptr", "SNPs covered by the blocks", int(block_ptr[-1]), n_snps,
               "the rows of snps.tsv"),
              ("eigenvalues", "eigenvalues", len(arrays["eigenvalues"]), int(rank_ptr[-1]),
               "rank_ptr.npy"),
              ("eigenvectors", "eigenvector entries", len(arrays["eigenvectors"]),
               int(np.sum(np.diff(block_ptr) * np.diff(rank_ptr))),
               "block sizes x ranks of block_ptr.npy and rank_ptr.npy"),
              ("positive_sum", "blocks", len(arrays["positive_sum"]), len(block_ptr) - 1,
               "block_ptr.npy")]
    for name, what, found, expected, source in checks:
        if found != expected:
            raise InputError(f"{found} {what}, but {source} implies {expected}; the folder "
                             "mixes files of different builds: build it again",
                             path / f"{name}.npy")


def eigen_decompose_blocks(source, *, blocks=None, block_snps: int | None = None,
                           prop: float = 0.995, chrom=None, missing: str = "mean",
                           progress=True, checkpoint=None, resume: bool = False,
                           fingerprint: dict[str, str] | None = None,
                           **open_options) -> EigenBlocks:
    """Eigen-decompose the exact in-sample LD of each block of one chromosome.

    The blocks run inside :func:`bayesmix.interrupt.deferred`: a signal stops the work after
    the running block and raises :class:`bayesmix.interrupt.Interrupted`; with
    ``checkpoint`` the finished blocks are kept there and ``resume=True`` continues after
    them, with a result identical bit for bit to an uninterrupted run (as in
    :func:`bayesmix.ld.build_ld`).

    Parameters
    ----------
    source : PLINK prefix or an opened :class:`Genotypes` (one chromosome).
    blocks : LD block table (:func:`read_block_info`) or the path of a block file (IDs of
        any text); a block holds StartBP <= bp < EndBP of its chromosome (:func:`block_members`)
        and SNPs outside every block are dropped and counted. Alternatively ``block_snps``:
        consecutive blocks of that many SNPs.
    prop : share of the sum of positive eigenvalues to keep per block (0 < prop <= 1): the
        fewest leading eigenvalues whose share is greater than ``prop`` (:func:`kept_rank`).
    missing : "mean" or "pairwise", as in :func:`bayesmix.ld.build_ld`.
    progress : True (a bar on a terminal, log lines elsewhere), False, "bar" or "lines".
    checkpoint, resume, fingerprint : as in :func:`bayesmix.ld.build_ld` (the function adds
        prop, missing, the block ranges and the digests of the SNP and sample tables).
    """
    from bayesmix.ld.compute import _table_digest
    from bayesmix.progress import Progress

    if not 0 < prop <= 1:
        raise InputError(f"prop must be in (0, 1], not {prop}")
    if (blocks is None) == (block_snps is None):
        raise InputError("give LD blocks (--ld-blocks FILE) or a block size in SNPs, one of them")
    Checkpoint.refuse_without_resume(checkpoint, resume)
    genotypes = source if isinstance(source, Genotypes) else Genotypes.open(
        source, chrom=chrom, **open_options)
    snps = genotypes.snps
    polymorphic = ((snps["freq"] > 0) & (snps["freq"] < 1)).to_numpy()
    chroms = snps["chr"].unique()
    if len(chroms) > 1:
        raise InputError("eigen-decomposed LD is built per chromosome; choose one with --chr",
                         f"{genotypes.prefix}.bim")
    dropped = {}
    if (~polymorphic).any():
        dropped["monomorphic SNPs (r undefined)"] = int((~polymorphic).sum())
    use = np.flatnonzero(polymorphic)
    if blocks is not None:
        table = blocks if isinstance(blocks, pd.DataFrame) else read_ld_blocks(blocks)
        table = table.sort_values("start", kind="stable").reset_index(drop=True)
        members = block_members(snps.iloc[use], table)
        groups = [m for m in members if len(m)]
        ids = [b for b, m in zip(table["block"], members) if len(m)]
    else:
        groups = [np.arange(a, min(a + block_snps, len(use))) for a in range(0, len(use), block_snps)]
        ids = [f"{chroms[0]}_{k + 1}" for k in range(len(groups))]
    if not groups:
        raise InputError("no SNP falls inside the LD blocks (a block holds StartBP <= bp < "
                         "EndBP of its chromosome)")
    covered = np.concatenate(groups)
    if len(covered) < len(use):
        dropped["SNPs outside the LD blocks"] = len(use) - len(covered)
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    block_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    own = {"prop": repr(float(prop)), "missing": missing,
           "ranges": digest_arrays(covered, sizes, use),
           "snps": _table_digest(snps), "samples": _table_digest(genotypes.samples)}
    ckpt = Checkpoint.open(checkpoint, kind="eigen_decompose_blocks", resume=resume,
                           fingerprint={**{f"eigen.{k}": v for k, v in own.items()},
                                        **(fingerprint or {})})
    rank_ptr = [0]
    values_all, vectors_all, positive = [], [], []
    if ckpt is not None and ckpt.resumed:
        rank_ptr = [int(k) for k in ckpt.state["rank_ptr"]]
        positive = [float(x) for x in ckpt.state["positive_sum"]]
        values_all.append(ckpt.array("eigenvalues"))
        vectors_all.append(ckpt.array("eigenvectors"))
    first = len(positive)
    n = genotypes.n_samples
    with Progress(len(groups), desc="LD eigen blocks", unit="blocks", progress=progress,
                  initial=first) as bar, interrupt.deferred():
        for group in groups[first:]:
            values, vectors, pos_sum = decompose_ld(block_ld(genotypes, use[group], missing),
                                                    prop)
            k = len(values)
            values_all.append(values)
            vectors_all.append(vectors.astype(np.float32).ravel())
            positive.append(pos_sum)
            rank_ptr.append(rank_ptr[-1] + k)
            if ckpt is not None:
                ckpt.append({"eigenvalues": values_all[-1], "eigenvectors": vectors_all[-1]},
                            {"rank_ptr": rank_ptr, "positive_sum": positive})
            bar.update(1, note=f"{len(group)} SNPs, rank {k}")
            if interrupt.requested():
                raise interrupt.Interrupted(interrupt.requested_signal())
    table = snps.iloc[use[covered]].assign(n=snps["n_obs"].to_numpy()[use[covered]])
    meta = {"kind": "eigen", "prop": prop, "n_samples": n, "missing": missing, "blocks": ids,
            "dropped": dropped, "bfile": str(genotypes.prefix),
            "created_by": f"bayesmix {__version__}"}
    result = EigenBlocks(table, block_ptr, np.asarray(rank_ptr, dtype=np.int64),
                         np.concatenate(values_all), np.concatenate(vectors_all),
                         np.asarray(positive), meta)
    if ckpt is not None:
        ckpt.remove()
    return result


def ld_from_eigen_blocks(eigen, *, dtype: str = "int16") -> LDMatrix:
    """The LD an eigen-decomposition keeps, U_k diag(lambda_k) U_k' per block, as a
    block-diagonal LDMatrix the SBayes sweeps can use.

    ``eigen`` is an :class:`EigenBlocks`. The result is positive
    semi-definite by construction (its diagonal is slightly below 1 when eigenvalues were
    truncated; the model uses the stored diagonal). Memory: the square of each block size.
    """
    import scipy.sparse as sp

    blocks = [sp.csr_array(eigen.approximate_ld(b)) for b in range(eigen.n_blocks)]
    matrix = sp.block_diag(blocks, format="csr")
    meta = dict(eigen.meta, kind="eigen", n_samples=eigen.meta.get("n_samples"))
    for key in ("format", "version"):
        meta.pop(key, None)
    return LDMatrix.from_scipy(matrix, eigen.snps, meta=meta, dtype=dtype)
