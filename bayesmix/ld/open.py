"""Open LD matrices by path, whatever their on-disk format, for every front end and Python user.

Formats recognised (a folder's ``meta.json`` decides; otherwise the name):

- a GCTB matrix ``PREFIX.ldm.TYPE`` (``.bin`` + ``.info``; TYPE full, band, sparse, shrunk),
  given as the prefix with or without ``.bin``/``.info``;
- a bayesmix LD folder (:class:`~bayesmix.ld.store.LDMatrix`, ``meta.json`` format
  ``bayesmix-ld``);
- an eigen-decomposed LD folder (:class:`~bayesmix.ld.eigen.EigenBlocks`, format
  ``bayesmix-ld-eigen``), opened as the block-diagonal LD it keeps.

A list file (GCTB's ``--mldm``) holds one such path per line; :func:`open_reference_ld`
combines per-chromosome matrices into one block-diagonal matrix.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from bayesmix.errors import InputError
from bayesmix.io.files import open_text
from bayesmix.ld.store import LDMatrix, combine_ld

_GCTB_NAME = re.compile(r"\.ldm\.(full|band|sparse|shrunk)(\.bin|\.info)?$")


def _folder_format(path: Path) -> str:
    meta_path = path / "meta.json"
    if not meta_path.exists():
        raise InputError("not an LD matrix: a folder without meta.json (expected a bayesmix LD "
                         "folder, an eigen LD folder or GCTB PREFIX.ldm.TYPE files)", path)
    try:
        return str(json.loads(meta_path.read_text()).get("format"))
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise InputError(f"unreadable meta.json ({exc})", meta_path) from None


def open_ld(path, *, eigen_dtype: str = "int16", dtype: str | None = None,
            band: bool = False) -> LDMatrix:
    """The LD matrix at ``path`` (see the module docstring for the formats); an eigen folder
    becomes the block-diagonal LD it keeps, stored as ``eigen_dtype``.

    ``dtype`` ("float32" or "int16"; None = as stored, float32 for GCTB files): the values
    held in memory. GCTB files are decoded straight into it; a bayesmix folder stored in the
    other dtype is converted after loading. ``band``: GCTB's full, band and shrunk files are
    decoded into the band layout (:func:`bayesmix.ld.gctb.read_gctb_ldm`); other sources stay
    CSR.
    """
    from bayesmix.ld.eigen import FORMAT_NAME as EIGEN_FORMAT

    text = os.fspath(path)
    folder = Path(text)
    if _GCTB_NAME.search(text) and not folder.is_dir():
        from bayesmix.ld.gctb import read_gctb_ldm

        return read_gctb_ldm(text, dtype=dtype or "float32", band=band)
    if not folder.exists():
        raise InputError("LD matrix not found (expected PREFIX.ldm.TYPE .bin/.info files, a "
                         "bayesmix LD folder or an eigen LD folder)", text)
    if not folder.is_dir():
        raise InputError("not an LD matrix: a file, not a folder (GCTB matrices are named "
                         "PREFIX.ldm.TYPE.bin)", text)
    if _folder_format(folder) == EIGEN_FORMAT:
        from bayesmix.ld.eigen import EigenBlocks, ld_from_eigen_blocks

        return ld_from_eigen_blocks(EigenBlocks.load(folder), dtype=dtype or eigen_dtype)
    ld = LDMatrix.load(folder)
    return ld if dtype is None else ld.astype(dtype)


def open_eigen(path):
    """The eigen-decomposed block LD at ``path`` (:class:`~bayesmix.ld.eigen.EigenBlocks`):
    a bayesmix eigen LD folder (``bayesmix ld eigen``) or GCTB's ``--make-ldm-eigen`` folder
    (``ldm.info``, ``snp.info`` and ``block<ID>.eigen.bin`` files)."""
    from bayesmix.ld.eigen import FORMAT_NAME as EIGEN_FORMAT
    from bayesmix.ld.eigen import EigenBlocks

    folder = Path(os.fspath(path))
    if not folder.is_dir():
        raise InputError("eigen-decomposed LD not found: expected a folder (GCTB's "
                         "--make-ldm-eigen output, or bayesmix ld eigen's)", folder)
    if (folder / "meta.json").exists():
        found = _folder_format(folder)
        if found != EIGEN_FORMAT:
            raise InputError(f"not eigen-decomposed LD: a {found} folder (use --ldm for it, "
                             "or decompose it with --make-ldm-eigen)", folder)
        return EigenBlocks.load(folder)
    from bayesmix.ld.gctb_eigen import read_gctb_eigen

    return read_gctb_eigen(folder)


def read_ld_list(path) -> list[str]:
    """The LD paths of a list file (one per line, blank lines skipped); an entry that names
    nothing (no file, folder, or GCTB prefix with its ``.info``) is an error at its line."""
    entries = []
    with open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            entry = line.strip()
            if not entry:
                continue
            if not any(Path(candidate).exists() for candidate in (entry, f"{entry}.info")):
                raise InputError(f"{entry}: no such file, folder or GCTB LD prefix "
                                 "(PREFIX.info and PREFIX.bin)", path, number, 1)
            entries.append(entry)
    if not entries:
        raise InputError("lists no LD matrix", path)
    return entries


def open_ld_list(path, *, dtype: str | None = None, band: bool = False) -> LDMatrix:
    """The matrices of a list file (GCTB's ``--mldm``) as one matrix, as GCTB reads a list:
    row pieces of one matrix (``--snp i-j``) are merged, whole matrices (one per chromosome
    or block) are combined block-diagonally. Entries are GCTB files or bayesmix folders, not
    a mix of both. ``dtype`` and ``band`` as in :func:`open_ld`."""
    from bayesmix.ld.gctb import read_gctb_list
    from bayesmix.ld.store import merge

    entries = read_ld_list(path)
    gctb = [bool(_GCTB_NAME.search(e)) and not Path(e).is_dir() for e in entries]
    if all(gctb):
        return read_gctb_list(entries, dtype=dtype or "float32", band=band)
    if any(gctb):
        raise InputError("the list mixes GCTB files and bayesmix LD folders; convert them to "
                         "one format (bayesmix ld convert)", path)
    matrices = [open_ld(e, dtype=dtype) for e in entries]
    if any(not m.is_square for m in matrices):
        return merge(matrices)
    return combine_ld(matrices)


def open_reference_ld(ldm=None, mldm=None, *, dtype: str | None = None,
                      band: bool = False) -> LDMatrix:
    """The reference LD of a summary-data analysis: one matrix (``ldm``) or the matrices of a
    list file (``mldm``, :func:`open_ld_list`). Exactly one must be given; ``dtype`` and
    ``band`` as in :func:`open_ld`."""
    if (ldm is None) == (mldm is None):
        raise InputError("give exactly one LD source: one matrix (--ldm) or a list of them "
                         "(--mldm)")
    if ldm is not None:
        return open_ld(ldm, dtype=dtype, band=band)
    return open_ld_list(mldm, dtype=dtype, band=band)


def thin_to_sparse(ld: LDMatrix, chisq: float) -> LDMatrix:
    """GCTB's sparse rule on an existing matrix: keep the diagonal and every r_ij with
    n r_ij^2 >= ``chisq`` (n = the row SNP's panel size)."""
    import scipy.sparse as sp

    n = ld.snps["n"].to_numpy(dtype=np.float64)
    coo = ld.to_scipy().tocoo()
    keep = (coo.row == coo.col) | (coo.data.astype(np.float64) ** 2 * n[coo.row] >= chisq)
    thinned = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=ld.shape)
    return LDMatrix.from_scipy(thinned, ld.snps, meta=dict(ld.meta, kind="sparse", chisq=chisq))
