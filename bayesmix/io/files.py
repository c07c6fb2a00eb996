"""File helpers shared by every reader and writer: checked opening of plain or gzip text
(damaged files become one-line errors naming the file and line), atomic writes, fast
field-count and number checks that name the offending line."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError

# What gzip raises on damaged data: EOFError (truncated stream), gzip.BadGzipFile (an OSError:
# bad header, CRC or length check failed), zlib.error (invalid deflate data).
_GZIP_ERRORS = (EOFError, OSError, zlib.error)


def input_file(path) -> Path:
    """``path`` as a :class:`~pathlib.Path` after checking it is an existing, readable file.

    Raises :class:`InputError` naming the path when it does not exist, is a directory or
    cannot be read.
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("is a directory, not a file", path)
    if not os.access(path, os.R_OK):
        raise InputError("permission denied: the file cannot be read", path)
    return path


def is_gzip(path) -> bool:
    """True if ``path`` starts with the gzip magic bytes (whatever its extension)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _gzip_break_line(path) -> int:
    """1-based line in which the readable data of a damaged gzip file ends.

    Decompresses member by member (bgzip files are many members) with zlib, which, unlike
    :mod:`gzip`, hands out every byte it could decode before the damage: the piece in which
    zlib fails is fed again a byte at a time from a copy of the state before it.
    """
    raw = Path(path).read_bytes()
    newlines, start, piece = 0, 0, 1 << 16
    while start < len(raw):
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pos = start
        while pos < len(raw) and not member.eof:
            end = min(pos + piece, len(raw))
            before = member.copy()
            try:
                newlines += member.decompress(raw[pos:end]).count(b"\n")
            except zlib.error:
                for byte in range(pos, end):
                    try:
                        newlines += before.decompress(raw[byte:byte + 1]).count(b"\n")
                    except zlib.error:
                        return newlines + 1
                member = before
            pos = end
        if not member.eof:
            break
        start = pos - len(member.unused_data)  # the next member begins there
    return newlines + 1


def _damaged(path, line: int, exc: BaseException, compressed: bool) -> InputError:
    """The one-line error for a read of ``path`` that failed (``line``: where, 1-based)."""
    if isinstance(exc, UnicodeDecodeError):
        return InputError(f"not a text file (byte 0x{exc.object[exc.start]:02x} is not UTF-8 "
                          "text); expected plain or gzip-compressed text", path, line)
    if compressed:
        return InputError(f"truncated or corrupt gzip file, readable up to this line "
                          f"({type(exc).__name__}: {exc}); download or compress it again",
                          path, _gzip_break_line(path))
    return InputError(f"cannot be read ({type(exc).__name__}: {exc})", path, line)


class TextInput:
    """Lines of a plain or gzip-compressed text file (see :func:`open_text`).

    Iterating yields lines (with their newline) and counts them in :attr:`lineno`; a
    truncated or corrupt gzip stream, or bytes that are not UTF-8 text, raise
    :class:`InputError` naming the file and the line where reading stopped.
    """

    def __init__(self, path: Path, handle, compressed: bool):
        self.path = path
        self.lineno = 0
        self._handle = handle
        self._compressed = compressed

    def __iter__(self):
        while True:
            try:
                line = self._handle.readline()
            except UnicodeDecodeError as exc:  # decoded ahead by blocks: find the byte's line
                check_utf8(read_bytes(self.path), self.path)
                raise _damaged(self.path, self.lineno + 1, exc, False) from None
            except _GZIP_ERRORS as exc:
                raise _damaged(self.path, self.lineno + 1, exc, self._compressed) from None
            if not line:
                return
            self.lineno += 1
            yield line

    def read(self) -> str:
        """The rest of the file as one string."""
        return "".join(self)


@contextlib.contextmanager
def open_text(path):
    """Open a plain or gzip-compressed text file (gzip recognised by its magic bytes) for
    reading; yields a :class:`TextInput`. A UTF-8 byte-order mark at the start (some Windows
    editors write one) is dropped. Missing files, directories and damaged data raise
    :class:`InputError` naming the file (and the line where reading stopped)."""
    path = input_file(path)
    compressed = is_gzip(path)
    handle = (gzip.open(path, "rt", encoding="utf-8-sig") if compressed
              else open(path, "rt", encoding="utf-8-sig"))
    try:
        yield TextInput(path, handle, compressed)
    finally:
        handle.close()


# Tokens read as a missing value (case-insensitive) rather than as a malformed number.
MISSING_TOKENS = frozenset({"", "na", "nan", ".", "-", "null", "none"})


def missing_token_spellings() -> list[str]:
    """Every upper/lower-case spelling of :data:`MISSING_TOKENS` (``NaN``, ``nAn``, ``NULL``
    ...), for parsers whose missing-value lists are case-sensitive (pandas' ``na_values``)."""
    import itertools

    return sorted({"".join(chars) for token in MISSING_TOKENS
                   for chars in itertools.product(*({c.lower(), c.upper()} for c in token))})


def read_bytes(path) -> bytes:
    """Whole content of a plain or gzip-compressed file, decompressed.

    Raises :class:`InputError` for a missing file or a truncated or corrupt gzip stream, naming
    the line where the readable data stops.
    """
    path = input_file(path)
    if not is_gzip(path):
        with open(path, "rb") as fh:
            return fh.read()
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except _GZIP_ERRORS as exc:
        raise _damaged(path, 0, exc, True) from None


def check_utf8(data: bytes, path) -> None:
    """Raise :class:`InputError` at the line of the first byte that is not UTF-8 text."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _damaged(path, data.count(b"\n", 0, exc.start) + 1, exc, False) from None


def count_fields(data: bytes, sep: str, chunk_bytes: int = 1 << 24) -> tuple[np.ndarray, np.ndarray]:
    """Fields per non-blank line and their 1-based line numbers.

    Vectorised over the bytes in chunks of whole lines (memory stays ~5 x ``chunk_bytes``).
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == ord("\n")) + 1  # one past each line's newline
    if len(buf) and buf[-1] != ord("\n"):
        ends = np.append(ends, len(buf))
    counts = np.empty(len(ends), dtype=np.int64)
    content = np.empty(len(ends), dtype=bool)
    first_line, start = 0, 0
    while first_line < len(ends):
        last_line = max(int(np.searchsorted(ends, start + chunk_bytes, side="right")), first_line + 1)
        stop = int(ends[last_line - 1])
        chunk = buf[start:stop]
        space = ((chunk == ord(" ")) | (chunk == ord("\t")) | (chunk == ord("\r"))
                 | (chunk == ord("\n")))
        if sep == r"\s+":
            marks = ~space
            marks[1:] &= space[:-1]  # first byte of each whitespace-separated field
        else:
            marks = chunk == ord(sep)
        local_starts = np.concatenate([[0], ends[first_line:last_line - 1] - start])
        per_line = np.add.reduceat(marks.view(np.uint8), local_starts, dtype=np.int64)
        counts[first_line:last_line] = per_line + (0 if sep == r"\s+" else 1)
        content[first_line:last_line] = np.add.reduceat(
            (~space).view(np.uint8), local_starts, dtype=np.int64) > 0
        first_line, start = last_line, stop
    return counts[content], np.flatnonzero(content) + 1


def first_non_numeric(values, path, column_name, column_number, lines, *,
                      allow_missing: bool = True) -> None:
    """Raise :class:`InputError` at the first value that is not a number (nor, with
    ``allow_missing``, one of :data:`MISSING_TOKENS`).

    ``values`` are the column's strings in data-row order and ``lines`` the 1-based file line
    of each data row (from :func:`count_fields`).
    """
    values = pd.Series(values).reset_index(drop=True).astype(str)
    parsed = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(parsed)
    if allow_missing:
        bad &= ~values.str.strip().str.lower().isin(MISSING_TOKENS).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"non-numeric value {values.iloc[row]!r} in column {column_name}",
                         path, int(lines[row]), column_number)


def json_types(value, *, finite: bool = False):
    """``value`` with numpy arrays and scalars, tuples and paths turned into JSON types
    (recursively through dicts and lists). ``finite``: NaN and infinities become None
    (strict JSON); otherwise floats are kept exactly, non-finite ones included (Python's
    json writes and reads them back)."""
    if isinstance(value, dict):
        return {str(k): json_types(v, finite=finite) for k, v in value.items()}
    if isinstance(value, np.ndarray):  # 0-d arrays become scalars
        return json_types(value.tolist(), finite=finite)
    if isinstance(value, (list, tuple)):
        return [json_types(v, finite=finite) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if finite and isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; move it onto ``path`` only on success.

    An interrupted or failed write never leaves a truncated file under the final name. Works
    for files and directories (the caller creates whatever it needs at the temporary path).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    tmp = Path(tmp)
    try:
        yield tmp
        if path.is_dir() and tmp.is_dir():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink()


@contextlib.contextmanager
def atomic_open(path, mode: str = "wt"):
    """Open ``path`` for writing atomically; ``.gz`` paths are gzip-compressed."""
    with atomic_path(path) as tmp:
        if str(path).endswith(".gz"):
            # level 6 (gzip's default): ~2x faster than Python's 9 for a few % in size
            with gzip.open(tmp, "wb" if "b" in mode else "wt", compresslevel=6) as fh:
                yield fh
        else:
            with open(tmp, mode) as fh:
                yield fh
