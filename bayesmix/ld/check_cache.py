"""The robust setting's LD eigenvalue check, remembered across runs on the same LD.

SBayes users run one LD reference for many traits. The check
(:func:`bayesmix.ld.spectrum.ld_min_eigenvalue`, at least 20 products per LD block) costs
0.5 s of CPU on 2 x 10,000 SNPs of shrunk LD, and 20 passes over the whole matrix genome-wide,
in every run. Its result depends only on the matrix the sweeps see (after QC and alignment:
which SNPs, allele flips, values) and on the check's settings, so it is stored under a digest
of both and read back by a later run on the same matrix instead of being computed again.

The digest (SHA-256) covers the check's code (the source of the modules that compute it,
:data:`CHECK_MODULES`: any edit there, even of a comment, makes every earlier value unused) and
settings, the matrix's shape, layout, dtype and int16 scale, and every byte of its arrays
(``indptr``, the band's ``row_first`` or the CSR ``indices``, ``data``). Not covered: the
versions of numpy's LAPACK (exact eigenvalues of blocks under 2,000 SNPs) and of numba; after
an upgrade a value read back may differ from a fresh check in its last bits (delete the folder
to check afresh). The large arrays are read through
:func:`bayesmix.kernels.ld_spectrum.word_lanes` (about 0.03 s for 360 MB, against 0.5 s for
SHA-256 itself), whose lanes change whenever one 8-byte word does; their states, the arrays'
lengths and the bytes after the last whole word go into the SHA-256. So any change of the
matrix or of the settings misses the cache, and a hit returns the value the check computed
for exactly this matrix (the check is deterministic: its start vector comes from ``seed``).

Where: the folder ``BAYESMIX_LD_CHECK_CACHE`` names; ``off`` (or ``0`` or empty) turns the
memo off. Unset: ``$XDG_CACHE_HOME/bayesmix/ld-check``, else ``~/.cache/bayesmix/ld-check``.
One small JSON file per matrix and settings. A cache that cannot be read or written is
passed over with a log line; it never stops a run.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import logging
import math
import os
from pathlib import Path

import numpy as np

from bayesmix.ld import spectrum
from bayesmix.ld.store import LDMatrix

log = logging.getLogger("bayesmix")

#: the modules whose code decides what the check returns for a matrix
CHECK_MODULES = ("bayesmix.ld.spectrum", "bayesmix.kernels.ld_spectrum",
                 "bayesmix.kernels.ld_band", "bayesmix.kernels.sbayes")
#: environment variable naming the cache folder, or turning it off
ENVIRONMENT = "BAYESMIX_LD_CHECK_CACHE"
OFF = ("", "0", "off")


def cache_folder() -> Path | None:
    """The folder of remembered checks, or None when the memo is off (module docstring)."""
    setting = os.environ.get(ENVIRONMENT)
    if setting is not None:
        return None if setting.strip().lower() in OFF else Path(setting).expanduser()
    try:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    except RuntimeError:  # no home folder (some containers): no memo
        return None
    return Path(base) / "bayesmix" / "ld-check"


@functools.cache
def check_code_digest() -> str:
    """Hex SHA-256 of the source files of :data:`CHECK_MODULES`."""
    h = hashlib.sha256()
    for name in CHECK_MODULES:
        h.update(Path(importlib.import_module(name).__file__).read_bytes())
    return h.hexdigest()


def _add_array(h, array: np.ndarray) -> None:
    """Every byte of ``array`` into the SHA-256 ``h``: its dtype and length, the lane states
    of its whole 8-byte words and its remaining bytes."""
    from bayesmix.kernels.ld_spectrum import word_lanes

    raw = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    whole = len(raw) // 8 * 8
    words = raw[:whole]
    if words.ctypes.data % 8:
        words = words.copy()
    h.update(f"{array.dtype.str} {len(raw)}\0".encode())
    h.update(word_lanes(words.view(np.uint64)).tobytes())
    h.update(raw[whole:].tobytes())


def check_key(ld: LDMatrix, settings: dict) -> str:
    """Hex SHA-256 of the check's code and ``settings`` and of the matrix (module docstring)."""
    h = hashlib.sha256(f"bayesmix ld check\0{check_code_digest()}\0".encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update(f"\0{ld.shape} {ld.is_band} {float(ld.scale)!r}\0".encode())
    columns = ld.row_first if ld.is_band else ld.indices
    for array in (ld.indptr, columns, ld.data):
        _add_array(h, np.asarray(array))
    return h.hexdigest()


def remembered_min_eigenvalue(ld: LDMatrix, *, stop_above: float | None) -> float:
    """:func:`~bayesmix.ld.spectrum.ld_min_eigenvalue` of ``ld`` with the check's default
    settings and ``stop_above``, read from the cache when a run already computed it for this
    matrix, else computed and stored there."""
    settings = {"dense_below": spectrum.DENSE_BELOW, "rtol": spectrum.RTOL,
                "atol": spectrum.ATOL, "stop_above": stop_above,
                "max_iter": spectrum.MAX_ITER, "seed": 0}
    folder = cache_folder()
    if folder is None:
        return spectrum.ld_min_eigenvalue(ld, **settings)
    path = folder / f"{check_key(ld, settings)}.json"
    value = _read(path)
    if value is not None:
        log.info("LD check: read back from an earlier run on the same matrix with the same "
                 "settings (%s)", path)
        return value
    value = spectrum.ld_min_eigenvalue(ld, **settings)
    _write(path, value, ld, settings)
    return value


def _read(path: Path) -> float | None:
    try:
        record = json.loads(path.read_text())
        value = float(record["value"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("LD check cache: %s not used (%s)", path, exc)
        return None
    if not math.isfinite(value):
        log.info("LD check cache: %s not used (no finite value)", path)
        return None
    return value


def _write(path: Path, value: float, ld: LDMatrix, settings: dict) -> None:
    from bayesmix.io.files import atomic_open

    record = {"value": value, "code": check_code_digest(), "settings": settings,
              "n_snps": int(ld.shape[0]), "nonzeros": int(len(ld.data))}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path) as fh:
            json.dump(record, fh)
    except OSError as exc:
        log.info("LD check cache: could not write %s (%s); the next run checks again",
                 path, exc)
