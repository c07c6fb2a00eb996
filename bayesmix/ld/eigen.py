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


def read_ld_blocks(path) -> pd.DataFrame:
    """Read an LD block file: a header line, then ``Block Chrom StartBP EndBP`` per block.

    Returns columns block (str), chr (str), start, stop (int, bp, inclusive).
    """
    rows = []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if lineno == 1 or not fields:
                continue
            if len(fields) < 4:
                raise InputError("expected 4 fields: Block Chrom StartBP EndBP", path, lineno)
            try:
                start, stop = int(fields[2]), int(fields[3])
            except ValueError:
                raise InputError("StartBP and EndBP must be integers", path, lineno, 3) from None
            if stop < start:
                raise InputError(f"EndBP {stop} is before StartBP {start}", path, lineno, 4)
            rows.append((fields[0], fields[1], start, stop))
    if not rows:
        raise InputError("no LD blocks listed", path)
    return pd.DataFrame(rows, columns=["block", "chr", "start", "stop"])


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

    def __post_init__(self):
        self.snps = normalize_snp_table(self.snps)

    @property
    def n_blocks(self) -> int:
        return len(self.block_ptr) - 1

    def block(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """``(lambda_k, U_k)`` of block b: eigenvalues (k,) and eigenvectors (m_b, k)."""
        m_b = int(self.block_ptr[b + 1] - self.block_ptr[b])
        k0, k1 = int(self.rank_ptr[b]), int(self.rank_ptr[b + 1])
        start = int(np.sum((np.diff(self.block_ptr)[:b]) * np.diff(self.rank_ptr)[:b]))
        vectors = np.asarray(self.eigenvectors[start:start + m_b * (k1 - k0)]).reshape(m_b, k1 - k0)
        return np.asarray(self.eigenvalues[k0:k1]), vectors

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
        return cls(snps, meta=meta, **arrays)


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
    blocks : LD block table (:func:`read_ld_blocks`) or its path; SNPs outside every block
        are dropped and counted. Alternatively ``block_snps``: consecutive blocks of that many
        SNPs.
    prop : share of the sum of positive eigenvalues to keep per block (0 < prop <= 1).
    missing : "mean" or "pairwise", as in :func:`bayesmix.ld.build_ld`.
    progress : True (a bar on a terminal, log lines elsewhere), False, "bar" or "lines".
    checkpoint, resume, fingerprint : as in :func:`bayesmix.ld.build_ld` (the function adds
        prop, missing, the block ranges and the digests of the SNP and sample tables).
    """
    from bayesmix.ld.compute import _Counts, _read_raw_counts, _table_digest, correlation_block
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
    bp = snps["bp"].to_numpy()[use]
    if blocks is not None:
        table = blocks if isinstance(blocks, pd.DataFrame) else read_ld_blocks(blocks)
        table = table[table["chr"].astype(str) == str(chroms[0])].sort_values("start")
        starts = np.searchsorted(bp, table["start"].to_numpy(), side="left")
        stops = np.searchsorted(bp, table["stop"].to_numpy(), side="right")
        keep = stops > starts
        ids = list(table["block"].to_numpy()[keep])
        ranges = list(zip(starts[keep], stops[keep]))
        if any(b[0] < a[1] for a, b in zip(ranges, ranges[1:])):
            raise InputError("LD blocks overlap", blocks if not isinstance(blocks, pd.DataFrame) else None)
    else:
        ranges = [(a, min(a + block_snps, len(use))) for a in range(0, len(use), block_snps)]
        ids = [f"{chroms[0]}_{k + 1}" for k in range(len(ranges))]
    if not ranges:
        raise InputError("no SNP falls inside the LD blocks")
    covered = np.concatenate([np.arange(a, b) for a, b in ranges])
    if len(covered) < len(use):
        dropped["SNPs outside the LD blocks"] = len(use) - len(covered)
    block_ptr = np.concatenate([[0], np.cumsum([b - a for a, b in ranges])]).astype(np.int64)
    own = {"prop": repr(float(prop)), "missing": missing,
           "ranges": digest_arrays(np.asarray(ranges, dtype=np.int64), use),
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
    with Progress(len(ranges), desc="LD eigen blocks", unit="blocks", progress=progress,
                  initial=first) as bar, interrupt.deferred():
        for a, b in ranges[first:]:
            counts = _Counts.from_raw(_read_raw_counts(genotypes, use[a:b]))
            r = correlation_block(counts, counts, n, missing)
            np.fill_diagonal(r, 1.0)
            values, vectors = np.linalg.eigh(r)
            values, vectors = values[::-1], vectors[:, ::-1]
            pos_sum = float(values[values > 0].sum())
            k = int(np.searchsorted(np.cumsum(values), prop * pos_sum * (1 - 1e-12)) + 1)
            k = min(k, int((values > 0).sum()))
            values_all.append(np.ascontiguousarray(values[:k]))
            vectors_all.append(np.ascontiguousarray(vectors[:, :k], dtype=np.float32).ravel())
            positive.append(pos_sum)
            rank_ptr.append(rank_ptr[-1] + k)
            if ckpt is not None:
                ckpt.append({"eigenvalues": values_all[-1], "eigenvectors": vectors_all[-1]},
                            {"rank_ptr": rank_ptr, "positive_sum": positive})
            bar.update(1, note=f"{b - a} SNPs, rank {k}")
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
