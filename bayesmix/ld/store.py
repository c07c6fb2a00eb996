"""The LD matrix store: :class:`LDMatrix`, a CSR matrix of signed allelic correlations r.

Rows are tag (GWAS) SNPs, columns are reference SNPs; the matrix is square when they coincide
(SBayes) and rectangular for MiXeR's tag x reference LD (docs/design.md). One matrix covers one
chromosome or a contiguous range of its rows (a *piece*, see :func:`merge`).

On-disk layout (a folder; format ``bayesmix-ld``, version :data:`FORMAT_VERSION`)::

    PATH/meta.json      format, version, kind, build parameters, dtype, scale, shape, nnz
    PATH/snps.tsv       row SNPs:    snp chr bp cm a1 a2 freq n   (tab-separated, header)
    PATH/ref_snps.tsv   column SNPs (only when rows and columns differ)
    PATH/indptr.npy     int32 (int64 if nnz >= 2**31), n_rows + 1
    PATH/indices.npy    int32 column indices, ascending within a row
    PATH/data.npy       float32 r, or int16 q with r = q * scale
    PATH/weak_ld.npy    float64 per row SNP, the weak-LD sum of an r2-kind matrix (optional)
    PATH/weak_ld_halves.npy  float64 (rows, 2), the same sums from each half of the panel
                        (optional)
    PATH/weak_ld4.npy   float64 per row SNP, the sum of H_i^2 r~^4 over the same pairs
                        (optional)

The compact ``upper`` layout (``save(path, layout="upper")``, square matrices) replaces the
three arrays by ``row_counts.npy`` (strict-upper entries per row), ``offsets.npy`` (j - i,
uint16 when < 65,536), ``data.npy`` (their values) and ``diagonal.npy`` (only when not all
1): with int16 values that is ~2 bytes per nonzero; it is expanded to full CSR on load.

``freq`` is the A1 frequency and ``n`` the number of genotyped samples behind it. int16
values use ``scale = max(1, max|r|) / 32767``, i.e. 1/32767 for correlations (|r| <= 1), so the
rounding error is at most ``scale / 2`` (1.53e-5 for |r| <= 1); shrunk matrices whose diagonal
exceeds 1 get a proportionally larger scale. :meth:`LDMatrix.load` memory-maps the arrays.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import atomic_path, json_types, first_non_numeric, read_bytes
from bayesmix.kernels.ld import symmetrize_upper

FORMAT_NAME = "bayesmix-ld"
FORMAT_VERSION = 1
INT16_MAX = 32767
SNP_COLUMNS = ["snp", "chr", "bp", "cm", "a1", "a2", "freq", "n"]
_SNP_DTYPES = {"snp": str, "chr": str, "bp": np.int64, "cm": np.float64, "a1": str, "a2": str,
               "freq": np.float64, "n": np.int64}


#: the band layout (:attr:`LDMatrix.row_first`) is taken for a matrix whose rows' runs, from
#: their first to their last stored column, hold at most this many values per stored entry
#: (window, band, shrunk and full LD, and sparse LD without gaps; SBayes's ``ld_layout="auto"``)
BAND_PADDING_LIMIT = 1.1

#: the optional per-row weak-LD arrays of an r2-kind matrix (:class:`LDMatrix` attributes and
#: files NAME.npy): name -> columns after the row axis
WEAK_ARRAYS = {"weak_ld": (), "weak_ld_halves": (2,), "weak_ld4": ()}


def int16_scale(max_abs: float) -> float:
    """Quantisation step for values of magnitude up to ``max_abs`` (1/32767 when <= 1)."""
    return max(1.0, float(max_abs)) / INT16_MAX


def quantize_int16(values: np.ndarray, scale: float) -> np.ndarray:
    """Round float values to int16 codes q = round(r / scale); |r - q scale| <= scale / 2."""
    q = np.asarray(values, dtype=np.float64) / scale  # the one temporary, changed in place
    np.rint(q, out=q)
    np.clip(q, -INT16_MAX, INT16_MAX, out=q)
    return q.astype(np.int16)


def normalize_snp_table(table: pd.DataFrame) -> pd.DataFrame:
    """Return the SNP table with exactly :data:`SNP_COLUMNS` (cm defaults to 0, n to 0)."""
    table = table.copy()
    if "cm" not in table:
        table["cm"] = 0.0
    if "n" not in table:
        table["n"] = table["n_obs"] if "n_obs" in table else 0
    missing = [c for c in SNP_COLUMNS if c not in table]
    if missing:
        raise ValueError(f"SNP table lacks columns {missing}")
    table = table[SNP_COLUMNS].reset_index(drop=True)
    return table.astype(_SNP_DTYPES)


@dataclass
class LDMatrix:
    """Sparse LD matrix of signed correlations r (CSR), with its SNP tables and metadata.

    Attributes
    ----------
    indptr, indices : CSR structure (int32 indices, ascending columns within each row).
    data : float32 r, or int16 codes (r = code * ``scale``); use :meth:`values` to decode.
    snps : row SNPs (snp chr bp cm a1 a2 freq n), ``freq`` = A1 frequency.
    ref_snps : column SNPs; the same object as ``snps`` when the matrix is square.
    meta : kind and build parameters (window, threshold, n_samples, ...).
    scale : int16 quantisation step (1.0 for float32 data).
    weak_ld : (n_rows,) float64 or None: per row SNP j, sum_i H_i r~_ij^2 over the pairs of
        its window the threshold left out, r~^2 = r^2 - (1 - r^2) / (n - 2) (noise-corrected),
        H_i = 2 p_i (1 - p_i) of the column SNP (:mod:`bayesmix.ld.compute`, r2 kind).
    weak_ld_halves : (n_rows, 2) float64 or None: the same sums over the same pairs, each from
        one half of the panel (its own r and n); their independent noise calibrates
        ``weak_ld`` for the panel's sampling noise (:mod:`bayesmix.ld.weak_ld`).
    weak_ld4 : (n_rows,) float64 or None: per row SNP j, sum_i H_i^2 r~_ij^4 over the same
        pairs (r~^4 unbiased for rho^4, :func:`bayesmix.kernels.ld.unbiased_r4`): the spread of
        the weak LD's signal, which a sparse trait concentrates on few SNPs
        (:func:`bayesmix.kernels.mixer.weak_pseudo_snps`).
    row_first : None for CSR. For the *band* layout of a square matrix (decoded from GCTB's
        full, band or shrunk files for SBayes, :func:`bayesmix.ld.gctb.read_gctb_list`), the
        first column of each row's run: ``indptr`` then delimits runs of consecutive columns,
        ``indices`` is None and zeros inside a run are entries not stored
        (:mod:`bayesmix.kernels.ld_band`), so the matrix takes 2 bytes per value (int16).
        Code that needs column indices calls :meth:`to_csr`.
    gctb_window : None, or for a square matrix read from whole GCTB dense-row files (full,
        band, shrunk) an (n_rows, 2) int64 array: each row's stored window [WindStart,
        WindEnd] of the .info, in this matrix's column numbering (kept through
        :meth:`subset`, as GCTB's Data::resizeWindow). GCTB counts every SNP of the window in
        the LD sampling variance, whatever its value, while entries whose int16 code is 0
        (|r| < 1.5e-5) are not held here (bayesmix.prepare.summary_data).
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    snps: pd.DataFrame
    ref_snps: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)
    scale: float = 1.0
    weak_ld: np.ndarray | None = None
    weak_ld_halves: np.ndarray | None = None
    row_first: np.ndarray | None = None
    weak_ld4: np.ndarray | None = None
    gctb_window: np.ndarray | None = None

    def __post_init__(self):
        self.snps = normalize_snp_table(self.snps)
        if self.ref_snps is None or self.ref_snps is self.snps:
            self.ref_snps = self.snps
        else:
            self.ref_snps = normalize_snp_table(self.ref_snps)
            if _same_snps(self.snps, self.ref_snps):
                self.ref_snps = self.snps
        n_rows = len(self.snps)
        if len(self.indptr) != n_rows + 1:
            raise ValueError(f"indptr has {len(self.indptr)} entries for {n_rows} rows")
        if (self.indices is None) != (self.row_first is not None):
            raise ValueError("give exactly one of column indices (CSR) and row_first (band)")
        if self.row_first is not None and (len(self.row_first) != n_rows
                                           or not self.is_square):
            raise ValueError("the band layout needs a square matrix and one row_first per row")
        stored = len(self.data) if self.indices is None else len(self.indices)
        if stored != len(self.data) or int(self.indptr[-1]) != len(self.data):
            raise ValueError("indices, data and indptr[-1] disagree on the number of nonzeros")
        if self.data.dtype not in (np.float32, np.int16):
            raise ValueError(f"data must be float32 or int16, not {self.data.dtype}")
        for name, columns in WEAK_ARRAYS.items():
            array = getattr(self, name)
            if array is not None and (array.shape != (n_rows, *columns) or (
                    name != "weak_ld" and self.weak_ld is None)):
                raise ValueError(f"{name} must be {(n_rows, *columns)} next to weak_ld, not "
                                 f"{array.shape}")

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_csr(cls, indptr, indices, values, snps, ref_snps=None, *, meta=None,
                 dtype: str = "float32", **weak) -> "LDMatrix":
        """Build from CSR arrays of float r, stored as ``dtype`` ("float32" or "int16");
        ``weak``: the weak-LD arrays by name (:data:`WEAK_ARRAYS`)."""
        values = np.asarray(values)
        nnz = len(values)
        indptr = np.asarray(indptr, dtype=np.int32 if nnz < 2**31 else np.int64)
        indices = np.asarray(indices, dtype=np.int32)
        if dtype == "float32":
            data, scale = np.asarray(values, dtype=np.float32), 1.0
        elif dtype == "int16":
            scale = int16_scale(max(values.max(), -values.min()) if nnz else 1.0)
            data = quantize_int16(values, scale)
        else:
            raise ValueError(f"dtype must be 'float32' or 'int16', not {dtype!r}")
        return cls(indptr, indices, data, snps, ref_snps, dict(meta or {}), scale, **weak)

    @classmethod
    def from_scipy(cls, matrix, snps, ref_snps=None, *, meta=None, dtype="float32") -> "LDMatrix":
        """Build from any scipy sparse matrix of r (converted to sorted CSR)."""
        import scipy.sparse as sp

        csr = sp.csr_matrix(matrix)
        csr.sort_indices()
        return cls.from_csr(csr.indptr, csr.indices, csr.data, snps, ref_snps, meta=meta,
                            dtype=dtype)

    def astype(self, dtype: str) -> "LDMatrix":
        """The same matrix stored as "float32" or "int16" (int16 -> float32 is exact)."""
        if dtype == self.dtype:
            return self
        csr = self.to_csr()
        return LDMatrix.from_csr(csr.indptr, csr.indices, csr.values(), self.snps,
                                 self.ref_snps, meta=self.meta, dtype=dtype,
                                 **self.weak_sums())

    # ----------------------------------------------------------------- description
    @property
    def shape(self) -> tuple[int, int]:
        return len(self.snps), len(self.ref_snps)

    @property
    def nnz(self) -> int:
        """Values held (for the band layout, zeros inside runs included)."""
        return int(self.indptr[-1])

    @property
    def is_band(self) -> bool:
        return self.row_first is not None

    def to_csr(self) -> "LDMatrix":
        """The matrix in CSR (itself when it is): a band matrix's stored entries."""
        if not self.is_band:
            return self
        from bayesmix.kernels.ld_band import band_to_csr

        indptr, indices, data = band_to_csr(np.asarray(self.indptr), self.row_first,
                                            np.asarray(self.data))
        if indptr[-1] < 2**31:
            indptr = indptr.astype(np.int32)
        return LDMatrix(indptr, indices, data, self.snps, None, dict(self.meta), self.scale,
                        gctb_window=self.gctb_window, **self.weak_sums())

    def weak_sums(self, rows=None) -> dict:
        """The weak-LD arrays by name (:data:`WEAK_ARRAYS`), of the ``rows`` given (all by
        default)."""
        arrays = {name: getattr(self, name) for name in WEAK_ARRAYS}
        return {k: v if v is None or rows is None else v[rows] for k, v in arrays.items()}

    @property
    def dtype(self) -> str:
        return "int16" if self.data.dtype == np.int16 else "float32"

    @property
    def kind(self) -> str:
        return self.meta.get("kind", "unknown")

    def refuse_upper_triangle(self, use: str) -> None:
        """InputError when this holds only the entries on and right of the diagonal
        (``build_ld(..., upper_piece=True)``), which ``use`` (e.g. "SBayes") needs whole."""
        if self.meta.get("upper_piece"):
            raise InputError(f"{use} needs the whole LD matrix; this one holds only its upper "
                             f"triangle (built with upper_piece=True): mirror it with "
                             f"bayesmix.ld.store.merge([ld]) (or write it with write_gctb_ldm)")

    @property
    def is_square(self) -> bool:
        """True when rows and columns are the same SNPs (the matrix is then symmetric)."""
        return self.ref_snps is self.snps

    @property
    def n_samples(self) -> int | None:
        """Size of the LD reference panel, if known."""
        return self.meta.get("n_samples")

    def __repr__(self) -> str:
        return (f"LDMatrix(kind={self.kind!r}, shape={self.shape}, nnz={self.nnz}, "
                f"dtype={self.dtype}{', band' if self.is_band else ''})")

    # ----------------------------------------------------------------- access
    def values(self) -> np.ndarray:
        """Nonzero r values decoded to float32 (a view for float32 storage)."""
        if self.data.dtype == np.int16:
            return self.data.astype(np.float32) * np.float32(self.scale)
        return np.asarray(self.data)

    def csr_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, indices, r)`` as plain arrays for numba kernels (r float32)."""
        csr = self.to_csr()
        return np.asarray(csr.indptr), np.asarray(csr.indices), csr.values()

    def to_scipy(self):
        """``scipy.sparse.csr_matrix`` of r (float32)."""
        import scipy.sparse as sp

        indptr, indices, values = self.csr_arrays()
        return sp.csr_matrix((values, indices, indptr), shape=self.shape)

    def r2(self):
        """``scipy.sparse.csr_matrix`` of r^2 (float32) on the stored pattern."""
        m = self.to_scipy()
        m.data = m.data * m.data
        return m

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and r values (float32) of row ``i``."""
        if self.is_band:
            return self.to_csr().row(i)
        start, stop = int(self.indptr[i]), int(self.indptr[i + 1])
        values = self.data[start:stop]
        if values.dtype == np.int16:
            values = values.astype(np.float32) * np.float32(self.scale)
        return np.asarray(self.indices[start:stop]), np.asarray(values)

    def iter_columns(self):
        """Yield ``(j, row_indices, r_values)`` for every column j, in order.

        For a square (symmetric) matrix, column j is row j, so no copy is made; this is the
        access pattern of single-site Gibbs sweeps (r -= R[:, j] * delta).
        """
        if self.is_square:
            csr = self.to_csr()
            for j in range(self.shape[1]):
                rows, values = csr.row(j)
                yield j, rows, values
            return
        csc = self.to_scipy().tocsc()
        csc.sort_indices()
        for j in range(self.shape[1]):
            start, stop = csc.indptr[j], csc.indptr[j + 1]
            yield j, csc.indices[start:stop], csc.data[start:stop]

    def diagonal(self) -> np.ndarray:
        """Stored diagonal r_jj (float32; 0 where absent). Square matrices only."""
        from bayesmix.kernels.ld import csr_diagonal
        from bayesmix.kernels.ld_band import band_diagonal

        if not self.is_square:
            raise ValueError("diagonal() needs a square matrix")
        if self.is_band:
            return band_diagonal(np.asarray(self.indptr), self.row_first, np.asarray(self.data),
                                 np.float32(self.scale))
        return csr_diagonal(np.asarray(self.indptr), np.asarray(self.indices),
                            np.asarray(self.data), np.float32(self.scale))

    def index_of(self, snp_ids) -> np.ndarray:
        """Row positions of ``snp_ids``; raises KeyError naming the first unknown SNP."""
        lookup = pd.Index(self.snps["snp"])
        pos = lookup.get_indexer(pd.Index(list(snp_ids)))
        if (pos < 0).any():
            missing = np.asarray(list(snp_ids))[pos < 0]
            raise KeyError(f"{len(missing)} SNPs not in the LD matrix, e.g. {missing[0]}")
        return pos

    def subset(self, snp_ids) -> "LDMatrix":
        """The matrix restricted to the SNPs in ``snp_ids`` (kept in matrix order).

        Square matrices keep rows and columns of those SNPs (and lose their weak-LD sums,
        which were over the dropped columns too); rectangular ones keep rows (tags) only, with
        all reference columns.
        """
        from bayesmix.kernels.ld import subset_csr

        wanted = set(snp_ids)
        rows = np.flatnonzero(self.snps["snp"].isin(wanted).to_numpy())
        snps = self.snps.iloc[rows]
        if self.is_square:
            col_map = np.full(self.shape[1], -1, dtype=np.int64)
            col_map[rows] = np.arange(len(rows))
        else:
            col_map = np.arange(self.shape[1], dtype=np.int64)
        meta = dict(self.meta, subset=True)
        window = None
        if self.gctb_window is not None and self.is_square:
            window = np.stack([np.searchsorted(rows, self.gctb_window[rows, 0], "left"),
                               np.searchsorted(rows, self.gctb_window[rows, 1], "right") - 1],
                              axis=1).astype(np.int64)
        if self.is_band:
            from bayesmix.kernels.ld_band import subset_band

            indptr, first, values = subset_band(np.asarray(self.indptr), self.row_first,
                                                np.asarray(self.data), rows, col_map)
            return LDMatrix(indptr, None, values, snps, None, meta, self.scale,
                            row_first=first, gctb_window=window)
        indptr, indices, values = subset_csr(np.asarray(self.indptr), np.asarray(self.indices),
                                             np.asarray(self.data), rows, col_map)
        if indptr[-1] < 2**31:
            indptr = indptr.astype(np.int32)
        weak = {} if self.is_square else self.weak_sums(rows)
        return LDMatrix(indptr, indices, values, snps, None if self.is_square else self.ref_snps,
                        meta, self.scale, gctb_window=window, **weak)

    # ----------------------------------------------------------------- files
    def save(self, path, *, layout: str = "csr") -> Path:
        """Write the matrix folder atomically (see the module docstring for the layouts).

        ``layout="csr"`` (default) stores the full CSR arrays, memory-mapped by :meth:`load`.
        ``layout="upper"`` (square matrices) stores the strict upper triangle with column
        offsets j - i as uint16 when they fit, the diagonal only if it is not all 1, and row
        counts: with int16 values that is about 2 bytes per nonzero of the full matrix.
        :meth:`load` expands it back to full CSR in memory.
        """
        if layout not in ("csr", "upper"):
            raise ValueError(f"layout must be 'csr' or 'upper', not {layout!r}")
        if self.is_band:
            return self.to_csr().save(path, layout=layout)
        if layout == "upper" and not self.is_square:
            raise InputError("the 'upper' layout needs a square (symmetric) matrix: this one "
                             f"is {self.shape[0]} x {self.shape[1]} (tags or a --snp piece); "
                             "use --layout csr")
        path = Path(path)
        meta = dict(self.meta)
        meta.update(format=FORMAT_NAME, version=FORMAT_VERSION, dtype=self.dtype,
                    scale=self.scale, shape=list(self.shape), nnz=self.nnz,
                    square=self.is_square, layout=layout)
        with atomic_path(path) as tmp:
            tmp.mkdir()
            if layout == "csr":
                np.save(tmp / "indptr.npy", np.asarray(self.indptr))
                np.save(tmp / "indices.npy", np.asarray(self.indices))
                np.save(tmp / "data.npy", np.asarray(self.data))
            else:
                for name, array in _upper_arrays(self).items():
                    np.save(tmp / f"{name}.npy", array)
            for name, array in self.weak_sums().items():
                if array is not None:
                    np.save(tmp / f"{name}.npy", np.asarray(array, dtype=np.float64))
            self.snps.to_csv(tmp / "snps.tsv", sep="\t", index=False)
            if not self.is_square:
                self.ref_snps.to_csv(tmp / "ref_snps.tsv", sep="\t", index=False)
            with open(tmp / "meta.json", "wt") as fh:
                json.dump(json_types(meta), fh, indent=1, sort_keys=True)
        return path

    @classmethod
    def load(cls, path, *, mmap: bool = True) -> "LDMatrix":
        """Open a saved matrix folder; with ``mmap`` the arrays are memory-mapped read-only."""
        path = Path(os.fspath(path))
        meta = read_meta(path, FORMAT_NAME, FORMAT_VERSION)
        meta_path = path / "meta.json"
        mode = "r" if mmap else None
        layout = meta.pop("layout", "csr")
        if layout == "upper":
            arrays = _expand_upper(path, mode)
            snps = _read_snp_table(path / "snps.tsv")
            if len(arrays["indptr"]) != len(snps) + 1:
                raise InputError(f"row_counts.npy has {len(arrays['indptr']) - 1} entries but "
                                 f"snps.tsv lists {len(snps)} SNPs", path / "row_counts.npy")
            for key in ("format", "version", "dtype", "shape", "nnz", "square"):
                meta.pop(key, None)
            scale = float(meta.pop("scale", 1.0))
            return cls(arrays["indptr"], arrays["indices"], arrays["data"], snps, None, meta,
                       scale, **_load_weak_ld(path, len(snps)))
        if layout != "csr":
            raise InputError(f"unknown layout {layout!r}", meta_path)
        arrays = {name: load_array(path / f"{name}.npy", mode)
                  for name in ("indptr", "indices", "data")}
        if arrays["data"].dtype not in (np.float32, np.int16):
            raise InputError(f"values are {arrays['data'].dtype}, expected float32 or int16",
                             path / "data.npy")
        snps = _read_snp_table(path / "snps.tsv")
        ref_path = path / "ref_snps.tsv"
        ref_snps = _read_snp_table(ref_path) if ref_path.exists() else None
        if len(arrays["indptr"]) != len(snps) + 1:
            raise InputError(f"indptr.npy has {len(arrays['indptr'])} entries but snps.tsv "
                             f"lists {len(snps)} SNPs", path / "indptr.npy")
        nnz = int(arrays["indptr"][-1])
        if len(arrays["indices"]) != nnz or len(arrays["data"]) != nnz:
            raise InputError("indices.npy, data.npy and indptr.npy disagree on nnz", path)
        for key in ("format", "version", "dtype", "shape", "nnz", "square"):
            meta.pop(key, None)
        scale = float(meta.pop("scale", 1.0))
        return cls(arrays["indptr"], arrays["indices"], arrays["data"], snps, ref_snps, meta,
                   scale, **_load_weak_ld(path, len(snps)))


def _load_weak_ld(folder: Path, n_rows: int) -> dict:
    """The optional weak-LD arrays of an LD folder (``NAME.npy`` for each NAME of
    :data:`WEAK_ARRAYS`, all after ``weak_ld.npy``), checked (shape; finite; the sums of one
    column >= 0), as :class:`LDMatrix` keywords; missing files are left out."""
    if not (folder / "weak_ld.npy").exists():
        return {}
    arrays = {}
    for name, columns in WEAK_ARRAYS.items():
        file = folder / f"{name}.npy"
        if not file.exists():
            continue
        array = load_array(file)
        if array.shape != (n_rows, *columns):
            raise InputError(f"holds {array.shape} values, expected {(n_rows, *columns)} "
                             f"({n_rows} row SNPs)", file)
        if not np.all(np.isfinite(array) & ((array >= 0) | bool(columns))):
            raise InputError("weak-LD sums must be finite" + ("" if columns else " and >= 0"),
                             file)
        arrays[name] = np.asarray(array, dtype=np.float64)
    return arrays


def merge(pieces, *, mirror: bool = True) -> LDMatrix:
    """Concatenate row pieces that share the same column SNPs into one matrix.

    Pieces are what ``--snp i-j`` builds produce (rows i..j against all reference columns);
    they are ordered by where their first row sits among the columns, must not overlap, and
    the result is square when the merged rows equal the columns. Pieces of the upper
    triangle (``build_ld(upper_piece=True)``, a build on Dask) must cover every row and are
    mirrored into the square matrix (``mirror=False``: kept as the upper triangle of the
    square matrix, ``meta["upper_piece"]`` True, for :func:`~bayesmix.ld.gctb.write_gctb_ldm`).
    """
    pieces = list(pieces)
    if not pieces:
        raise ValueError("nothing to merge")
    ref = pieces[0].ref_snps
    for k, piece in enumerate(pieces[1:], start=2):
        if not _same_snps(piece.ref_snps, ref):
            raise InputError(f"piece {k} has different column SNPs from piece 1; only pieces "
                             f"of the same chromosome and SNP set can be merged")
    col_pos = pd.Index(ref["snp"])

    def first_row(piece):
        return int(col_pos.get_indexer(piece.snps["snp"].iloc[:1])[0]) if len(piece.snps) else -1

    pieces.sort(key=first_row)
    snps = pd.concat([p.snps for p in pieces], ignore_index=True)
    if snps["snp"].duplicated().any():
        dup = snps.loc[snps["snp"].duplicated(), "snp"].iloc[0]
        raise InputError(f"pieces overlap: SNP {dup} appears in more than one piece")
    indptr = [np.zeros(1, dtype=np.int64)]
    offset = 0
    for p in pieces:
        indptr.append(np.asarray(p.indptr[1:], dtype=np.int64) + offset)
        offset += p.nnz
    upper = {bool(p.meta.get("upper_piece")) for p in pieces}
    if len(upper) > 1:
        raise InputError("upper-triangle pieces (of a build on Dask) and full-row pieces "
                         "cannot be merged together")
    upper = upper.pop()
    indices = np.concatenate([np.asarray(p.indices) for p in pieces])
    meta = dict(pieces[0].meta)
    for key in ("snp_range", "upper_piece"):
        meta.pop(key, None)
    if upper and not mirror:
        meta["upper_piece"] = True
    mirror = upper and mirror
    meta["merged_pieces"] = len(pieces)
    ref = None if _same_snps(snps, ref) else ref
    if upper and ref is not None:
        raise InputError("the upper-triangle pieces do not cover every row of the matrix; "
                         "merge all the pieces of the build")
    indptr = np.concatenate(indptr)
    weak = {}   # each weak-LD array that every piece has (the others need weak_ld)
    for name in WEAK_ARRAYS:
        arrays = [getattr(p, name) for p in pieces]
        if all(a is not None for a in arrays) and (name == "weak_ld" or "weak_ld" in weak):
            weak[name] = np.concatenate(arrays)
    if all(p.dtype == "int16" for p in pieces) and len({p.scale for p in pieces}) == 1:
        # one int16 code for all pieces (a diagonal of 1 in each): keep the codes as they are
        data = np.concatenate([np.asarray(p.data) for p in pieces])
        if mirror:  # as the serial build mirrors its upper triangle
            indptr, indices, data = symmetrize_upper(indptr, indices, data)
        indptr = indptr.astype(np.int32 if len(data) < 2**31 else np.int64)
        return LDMatrix(indptr, indices, data, snps, ref, meta, pieces[0].scale, **weak)
    dtype = "int16" if all(p.dtype == "int16" for p in pieces) else "float32"
    values = np.concatenate([p.values() for p in pieces])
    if mirror:
        indptr, indices, values = symmetrize_upper(indptr, indices, values)
    return LDMatrix.from_csr(indptr, indices, values, snps, ref, meta=meta, dtype=dtype,
                             **weak)


def _upper_arrays(ld: LDMatrix) -> dict:
    """Arrays of the compact 'upper' layout: row_counts, offsets (j - i > 0), data, [diagonal]."""
    indptr = np.asarray(ld.indptr, dtype=np.int64)
    rows = np.repeat(np.arange(ld.shape[0]), np.diff(indptr))
    cols = np.asarray(ld.indices, dtype=np.int64)
    data = np.asarray(ld.data)
    upper = cols > rows
    offsets = cols[upper] - rows[upper]
    counts = np.bincount(rows[upper], minlength=ld.shape[0])
    arrays = {
        "row_counts": counts.astype(np.uint16 if counts.max(initial=0) < 2**16 else np.uint32),
        "offsets": offsets.astype(np.uint16 if offsets.max(initial=0) < 2**16 else np.uint32),
        "data": data[upper],
    }
    on_diagonal = cols == rows
    diagonal = np.zeros(ld.shape[0], dtype=data.dtype)
    diagonal[rows[on_diagonal]] = data[on_diagonal]
    one = np.int16(INT16_MAX) if data.dtype == np.int16 else np.float32(1.0)
    if on_diagonal.sum() != ld.shape[0] or np.any(diagonal != one):
        if on_diagonal.sum() != ld.shape[0]:
            raise ValueError("the 'upper' layout needs every diagonal entry stored")
        arrays["diagonal"] = diagonal
    return arrays


def _expand_upper(path: Path, mode) -> dict:
    """Full CSR arrays (indptr, indices, data) from a folder in the 'upper' layout."""
    from bayesmix.kernels.ld import symmetrize_upper

    parts = {name: load_array(path / f"{name}.npy", mode)
             for name in ("row_counts", "offsets", "data", "diagonal")
             if name != "diagonal" or (path / "diagonal.npy").exists()}
    if parts["data"].dtype not in (np.float32, np.int16):
        raise InputError(f"values are {parts['data'].dtype}, expected float32 or int16",
                         path / "data.npy")
    counts = np.asarray(parts["row_counts"], dtype=np.int64)
    m = len(counts)
    if int(counts.sum()) != len(parts["offsets"]) or len(parts["data"]) != len(parts["offsets"]):
        raise InputError("row_counts.npy, offsets.npy and data.npy disagree on nnz", path)
    data = parts["data"]
    if "diagonal" in parts:
        diagonal = np.asarray(parts["diagonal"], dtype=data.dtype)
    else:
        one = INT16_MAX if data.dtype == np.int16 else 1.0
        diagonal = np.full(m, one, dtype=data.dtype)
    # upper triangle with the diagonal first in every row
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(counts + 1, out=indptr[1:])
    is_diag = np.zeros(indptr[-1], dtype=bool)
    is_diag[indptr[:-1]] = True
    rows = np.repeat(np.arange(m), counts)
    indices = np.empty(indptr[-1], dtype=np.int32)
    values = np.empty(indptr[-1], dtype=data.dtype)
    indices[is_diag] = np.arange(m)
    values[is_diag] = diagonal
    indices[~is_diag] = rows + np.asarray(parts["offsets"], dtype=np.int64)
    values[~is_diag] = data
    if m and indices.max() >= m:
        raise InputError("offsets.npy points beyond the last SNP", path / "offsets.npy")
    full_indptr, full_indices, full_values = symmetrize_upper(indptr, indices, values)
    nnz = int(full_indptr[-1])
    return {"indptr": full_indptr.astype(np.int32 if nnz < 2**31 else np.int64),
            "indices": full_indices, "data": full_values}


def _same_snps(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return len(a) == len(b) and bool((a["snp"].to_numpy() == b["snp"].to_numpy()).all())


def read_meta(folder: Path, format_name: str, format_version: int) -> dict:
    """``meta.json`` of an LD folder, checked to be of ``format_name`` and a readable version.

    Raises :class:`InputError` naming the folder or file (and the line and column of invalid
    JSON).
    """
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise InputError(f"not an LD folder of format {format_name} (meta.json missing)", folder)
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", meta_path, exc.lineno, exc.colno) from None
    except UnicodeDecodeError:
        raise InputError("not a text file (invalid JSON)", meta_path) from None
    if not isinstance(meta, dict) or meta.get("format") != format_name:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise InputError(f"format is {found!r}, expected {format_name!r}", meta_path)
    version = meta.get("version")
    if not isinstance(version, int) or version > format_version:
        raise InputError(f"store version {version!r} is newer than this bayesmix reads "
                         f"({format_version}); upgrade bayesmix", meta_path)
    return meta


def load_array(file: Path, mmap_mode=None) -> np.ndarray:
    """One ``.npy`` array of an LD folder, its size checked against its header first.

    A missing, truncated (an interrupted copy or write) or otherwise damaged file raises
    :class:`InputError` naming it, instead of numpy's mmap or reshape errors.
    """
    if not file.is_file():
        raise InputError("file missing from the LD folder", file)
    try:
        with open(file, "rb") as fh:
            major, _ = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if major == 1
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(fh)
            offset = fh.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"not a readable .npy array ({exc}); copy or build the LD folder "
                         "again", file) from None
    if dtype.hasobject:
        raise InputError(f"holds Python objects ({dtype}), not numbers", file)
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = file.stat().st_size
    if size != expected:
        raise InputError(f"{'truncated' if size < expected else 'too long'}: {size} bytes, "
                         f"expected {expected} for {dtype} values of shape {shape}; the file was "
                         "copied or written incompletely: copy or build the LD folder again",
                         file)
    return np.load(file, mmap_mode=mmap_mode)


_NUMERIC_SNP_COLUMNS = {"bp": False, "cm": True, "freq": True, "n": False}  # -> NaN allowed


def _read_snp_table(path: Path) -> pd.DataFrame:
    """The SNP table of an LD folder (``snps.tsv``), values checked (line, column)."""
    if not path.exists():
        raise InputError("file missing from the LD folder", path)
    data = read_bytes(path)
    try:
        table = pd.read_csv(io.BytesIO(data), sep="\t", dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"unreadable SNP table ({type(exc).__name__}: {exc})", path) from None
    missing = [c for c in SNP_COLUMNS if c not in table]
    if missing:
        raise InputError(f"missing columns {missing}", path, 1)
    lines = np.arange(2, len(table) + 2)
    for column, allow_missing in _NUMERIC_SNP_COLUMNS.items():
        values = table[column].fillna("")
        first_non_numeric(values, path, column, table.columns.get_loc(column) + 1, lines,
                          allow_missing=allow_missing)
        table[column] = pd.to_numeric(values, errors="coerce")
    return table


def combine_snp_tables(tables) -> pd.DataFrame:
    """SNP tables of matrices combined block-diagonally, one after the other; a SNP in more
    than one of them raises :class:`InputError`."""
    snps = pd.concat(list(tables), ignore_index=True)
    duplicated = snps["snp"].duplicated()
    if duplicated.any():
        raise InputError(f"SNP {snps.loc[duplicated, 'snp'].iloc[0]} is in more than one LD "
                         "matrix")
    return snps


def combine_ld(matrices) -> LDMatrix:
    """Square LD matrices of different chromosomes (or LD blocks) as one block-diagonal matrix.

    Entries between matrices are 0 (no LD across chromosomes). Values are stored in the first
    matrix's dtype: int16 codes are copied as they are when a matrix already has the combined
    scale (the largest), float32 values likewise; only other matrices are decoded and
    quantised again. ``n_samples`` is the largest panel size.
    """
    matrices = list(matrices)
    if not matrices:
        raise InputError("no LD matrix to combine")
    if len(matrices) == 1:
        return matrices[0]
    for ld in matrices:
        if not ld.is_square:
            raise InputError(f"SBayes needs square LD matrices; got {ld.shape}")
    snps = combine_snp_tables(ld.snps for ld in matrices)
    nnz = np.cumsum([0] + [ld.nnz for ld in matrices])
    dtype = matrices[0].dtype
    scale = 1.0
    if dtype == "int16":
        scale = int16_scale(max(ld.scale * INT16_MAX if ld.dtype == "int16"
                                else float(np.abs(ld.values()).max(initial=0.0))
                                for ld in matrices))
    indptr = np.zeros(len(snps) + 1, dtype=np.int32 if nnz[-1] < 2**31 else np.int64)
    indices = np.empty(nnz[-1], dtype=np.int32)
    values = np.empty(nnz[-1], dtype=np.dtype(dtype))
    first_row = 0
    for k, ld in enumerate(matrices):
        lo, hi = nnz[k], nnz[k + 1]
        indptr[first_row + 1:first_row + ld.shape[0] + 1] = np.asarray(ld.indptr[1:]) + lo
        np.add(ld.indices, first_row, out=indices[lo:hi], casting="unsafe")
        if ld.dtype == dtype and ld.scale == scale:
            values[lo:hi] = ld.data
        elif dtype == "int16":
            values[lo:hi] = quantize_int16(ld.values(), scale)
        else:
            values[lo:hi] = ld.values()
        first_row += ld.shape[0]
    panel = [ld.n_samples or 0 for ld in matrices]
    meta = dict(matrices[0].meta, n_samples=max(panel), combined=len(matrices))
    return LDMatrix(indptr, indices, values, snps, None, meta, scale)
