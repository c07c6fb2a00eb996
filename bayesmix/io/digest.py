"""Content digests of input files, so a checkpoint is resumed only with the inputs it was made
from (:class:`~bayesmix.inference.chain.ChainSettings` ``fingerprint``).

All digests are SHA-256 hex strings of file contents (plain bytes as stored: a gzip file is
hashed compressed), never of names or modification times, so a copied or touched file keeps
its digest and an edited one does not.

Large files are sampled instead of read whole (:func:`sampled_digest`): the file size, the
first and last MiB, and :data:`SAMPLED_BLOCKS` blocks of :data:`BLOCK_BYTES` at evenly
spaced offsets ``k * (size - BLOCK_BYTES) // (SAMPLED_BLOCKS - 1)``, k = 0..63; about
6 MiB read whatever the size. This applies to every file above :data:`FULL_READ_LIMIT`
(64 MiB: binary LD and genotype files, which are rewritten whole rather than edited in
place; hashing a 20,000-SNP run's 800 MB of LD took 0.45 s of its 6 s start-up) and to
every PLINK ``.bed`` (whose .bim and .fam are read in full: a changed SNP or
sample list always changes the digest; a change to genotypes outside the sampled blocks of a
.bed does not, the price of not reading a 100 GB file).

:func:`input_digest` recognises what a path names: a file, a folder (a bayesmix LD store:
every file in it, by sorted relative name), a PLINK prefix (PREFIX.bed/.bim/.fam) or a GCTB
LD prefix (PREFIX.info and PREFIX.bin, e.g. ``chr22.ldm.sparse``). :func:`options_fingerprint`
turns a command line's options into fingerprint entries, files by their digests.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bayesmix.errors import InputError

#: files above this size are sampled (bytes)
FULL_READ_LIMIT = 64 << 20
#: the head and the tail read of a sampled file (bytes each)
EDGE_BYTES = 1 << 20
#: number and size of the evenly spaced blocks read of a sampled file
SAMPLED_BLOCKS = 64
BLOCK_BYTES = 1 << 16


def _full_digest(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def sampled_digest(path) -> str:
    """SHA-256 of a file's size, first and last MiB and 64 evenly spaced 64 KiB blocks.

    Files no larger than what would be sampled are hashed the same way, reading every byte.
    """
    size = os.path.getsize(path)
    h = hashlib.sha256(b"bayesmix sampled v1\0" + size.to_bytes(8, "little"))
    spans = [(0, min(EDGE_BYTES, size)), (max(size - EDGE_BYTES, 0), size)]
    last = max(size - BLOCK_BYTES, 0)
    spans += [(k * last // (SAMPLED_BLOCKS - 1), min(k * last // (SAMPLED_BLOCKS - 1)
                                                      + BLOCK_BYTES, size))
              for k in range(SAMPLED_BLOCKS)]
    with open(path, "rb") as fh:
        for start, stop in spans:
            fh.seek(start)
            h.update(fh.read(stop - start))
    return h.hexdigest()


def file_digest(path) -> str:
    """SHA-256 of a file's bytes; above :data:`FULL_READ_LIMIT`, :func:`sampled_digest`."""
    if os.path.getsize(path) > FULL_READ_LIMIT:
        return sampled_digest(path)
    return _full_digest(path)


def _combine(parts) -> str:
    """One digest of (label, digest) pairs."""
    h = hashlib.sha256()
    for label, digest in parts:
        h.update(f"{label}\0{digest}\n".encode())
    return h.hexdigest()


def folder_digest(path) -> str:
    """Every regular file under ``path`` by sorted relative name (names starting with a dot,
    such as the temporary files of interrupted atomic writes, are skipped)."""
    root = Path(path)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and not any(part.startswith(".")
                                              for part in p.relative_to(root).parts))
    return _combine((name, file_digest(root / name)) for name in files)


def plink_digest(prefix) -> str:
    """PREFIX.bim and PREFIX.fam in full, PREFIX.bed sampled (:func:`sampled_digest`)."""
    prefix = str(prefix)
    return _combine([("bim", file_digest(f"{prefix}.bim")), ("fam", file_digest(f"{prefix}.fam")),
                     ("bed", sampled_digest(f"{prefix}.bed"))])


def gctb_ld_digest(prefix) -> str:
    """A GCTB LD matrix PREFIX (e.g. ``chr22.ldm.sparse``): PREFIX.info and PREFIX.bin."""
    prefix = str(prefix)
    return _combine([("info", file_digest(f"{prefix}.info")),
                     ("bin", file_digest(f"{prefix}.bin"))])


def input_digest(path_or_prefix) -> str:
    """The digest of whatever ``path_or_prefix`` names: a file, a folder, a PLINK prefix
    (.bed/.bim/.fam) or a GCTB LD prefix (.info/.bin). A path that is both a file and a
    prefix is taken as the file.

    Raises :class:`~bayesmix.errors.InputError` when nothing of that name exists, or a
    prefix lacks one of its files.
    """
    path = Path(path_or_prefix)
    if path.is_dir():
        return folder_digest(path)
    if path.is_file():
        return file_digest(path)
    text = str(path_or_prefix)
    for kind, suffixes, digest in (("PLINK", (".bed", ".bim", ".fam"), plink_digest),
                                   ("GCTB LD", (".info", ".bin"), gctb_ld_digest)):
        present = [s for s in suffixes if os.path.isfile(text + s)]
        if len(present) == len(suffixes):
            return digest(text)
        if present:
            missing = [text + s for s in suffixes if s not in present]
            raise InputError(f"{', '.join(missing)} not found: a {kind} prefix needs "
                             f"{', '.join(suffixes)}", text)
    raise InputError("no such file, folder, PLINK prefix (.bed/.bim/.fam) or GCTB LD prefix "
                     "(.info/.bin)", text)


def options_fingerprint(options, *, files=()) -> dict[str, str]:
    """Fingerprint entries (:class:`~bayesmix.inference.chain.ChainSettings` ``fingerprint``)
    for a command line's options.

    Parameters
    ----------
    options : mapping of option name (e.g. ``"--hsq"``) to value; None values are left out
        (an option not given), sequences are joined with commas.
    files : the names in ``options`` whose values are paths (or sequences of paths): each
        is replaced by its :func:`input_digest`.

    Returns name -> text, in the order of ``options``.
    """
    files = set(files)
    entries = {}
    for name, value in options.items():
        if value is None:
            continue
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if name in files:
            values = [input_digest(v) for v in values]
        entries[name] = ",".join(str(v) for v in values)
    return entries
