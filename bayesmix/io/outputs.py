"""The output guard: check where a run will write before it does any work, and keep a second
run off the same output prefix.

:func:`claim_outputs` is entered by every command before reading its inputs. It checks that
the directory of PREFIX exists (it is never created: a typo should not scatter outputs),
is a directory, is writable (a temporary file is created and removed there; permission bits
alone say nothing when running as root or on network file systems) and has at least
``expected_bytes`` free; then it takes an exclusive, non-blocking ``flock`` on
``PREFIX.lock``, recording the holder's pid, host, start time and command line in it. A
second run on the same prefix is refused with the holder's details while the first is alive.
The lock is released and ``PREFIX.lock`` removed when the block exits, also on exceptions;
a run killed outright (SIGKILL) leaves the file but not the lock (the kernel releases it),
so the next run goes ahead.

:func:`check_output_files` refuses, also before any work, an output file of the run whose
path holds a directory or a read-only file (it would fail only when written, at the end).

:func:`mcmc_output_bytes` estimates the bytes an MCMC run writes (outputs and checkpoints),
for ``expected_bytes``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from bayesmix.errors import InputError


def _size_text(n: int) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def check_output_directory(prefix, expected_bytes: int = 0) -> Path:
    """The directory of ``prefix`` after checking it exists, is writable and has at least
    ``expected_bytes`` free; :class:`~bayesmix.errors.InputError` otherwise."""
    if str(prefix).endswith(("/", os.sep)):
        raise InputError("the output prefix ends with a directory separator: outputs are "
                         "PREFIX.EXT, here hidden files .EXT inside the directory; give a "
                         f"prefix such as {os.path.join(str(prefix), 'run1')}", prefix)
    directory = Path(prefix).parent
    shown = str(directory) if str(directory) != "." else "the current directory"
    if not directory.exists():
        raise InputError(f"the output directory {shown} does not exist (create it first)",
                         prefix)
    if not directory.is_dir():
        raise InputError(f"the output directory {shown} is not a directory", prefix)
    try:
        fd, probe = tempfile.mkstemp(prefix=".bayesmix-write-test-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"cannot write to the output directory {shown} "
                         f"({exc.strerror or exc})", prefix) from None
    if expected_bytes > 0:
        free = shutil.disk_usage(directory).free
        if free < expected_bytes:
            raise InputError(f"not enough free space in {shown}: the outputs need about "
                             f"{_size_text(expected_bytes)} ({expected_bytes} bytes), "
                             f"{_size_text(free)} ({free} bytes) are free", prefix)
    return directory


def check_output_files(paths, option: str = "--out") -> None:
    """Refuse, before any work, an output file of the run that could not be written at the
    end: a directory at its path (a file written atomically replaces the path, and a
    directory there failed only after all the sampling) or an existing read-only file (left
    as the user protected it). :class:`~bayesmix.errors.InputError` names the path and
    ``option`` (the command's output prefix option); their folder is checked by
    :func:`check_output_directory`."""
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            raise InputError(f"is a directory, where this run writes an output file: move or "
                             f"delete it, or choose another {option}", path)
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise InputError(f"is an output file of this run and is read-only: make it "
                             f"writable, move it, or choose another {option}", path)


def _lock_holder(path) -> str:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return "another process"
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if not fields:
        return "another process"
    return (f"pid {fields.get('pid', '?')} on {fields.get('host', '?')}, started "
            f"{fields.get('started', '?')}, command: {fields.get('command', '?') or '?'}")


def _acquire(lock_path: Path, prefix) -> int:
    """An fd of ``lock_path`` holding its exclusive flock (retried when the file was replaced
    between open and lock by a run that just ended)."""
    for _ in range(20):
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise InputError(f"cannot lock {lock_path} ({exc.strerror})", prefix) from None
            raise InputError(f"another bayesmix run is writing outputs with this prefix "
                             f"({_lock_holder(lock_path)}); wait for it to end, stop it, or "
                             f"choose another --out", prefix) from None
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file after we opened it: lock the new one
    raise InputError(f"cannot lock {lock_path}: it keeps being replaced", prefix)


@contextlib.contextmanager
def claim_outputs(prefix, *, expected_bytes: int = 0, command: str = ""):
    """Check the output location of ``prefix`` and hold ``PREFIX.lock`` for the block.

    Parameters
    ----------
    prefix : the output prefix (``--out``); outputs are ``PREFIX.*``.
    expected_bytes : free bytes needed in its directory (0 = no check); see
        :func:`mcmc_output_bytes`.
    command : the command line, recorded in the lock file for the message a second run gets.

    Raises :class:`~bayesmix.errors.InputError` (before any work is done) for a missing or
    unwritable directory, too little space, or a live run holding the same prefix. Yields
    the lock file's path.
    """
    directory = check_output_directory(prefix, expected_bytes)
    lock_path = directory / f"{Path(prefix).name}.lock"
    fd = _acquire(lock_path, prefix)
    try:
        info = (f"pid={os.getpid()}\nhost={socket.gethostname()}\n"
                f"started={time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n"
                f"command={' '.join(str(command).split())}\n")
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        yield lock_path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)  # removed while still locked: no one can claim a dead file
        os.close(fd)


def mcmc_output_bytes(n_snps: int, n_components: int, kept_draws: int, chains: int = 1, *,
                      store_snp_draws: bool = True, nonzero_snps: int | None = None,
                      n_monitored: int = 16, checkpoints: bool = True) -> int:
    """An estimate (bytes, on the high side) of what an MCMC run writes.

    Parameters
    ----------
    n_snps, n_components : M and K of the model.
    kept_draws : kept (thinned, post burn-in) draws per chain.
    chains : number of chains.
    store_snp_draws : whether ``.mcmcsamples.SnpEffects`` is written (and draws are kept in
        the checkpoints).
    nonzero_snps : expected non-zero effects per kept draw (default: every SNP, an upper
        bound; M x (1 - pi_0) of the starting --pi is a closer guess).
    n_monitored : monitored quantities per draw (.mcmcsamples.Par columns).
    checkpoints : include the chains' checkpoints (each written next to its previous version).

    Per SNP: ~(100 + 10 K) bytes of ``.snpRes`` text and ~(120 + 8 K) of netCDF; per kept
    draw and chain: ~13 bytes per monitored value (text and netCDF), and 12 + 8 x non-zero
    effects in ``.mcmcsamples.SnpEffects``; a checkpoint holds the SNP sums (28 + 4 K bytes
    per SNP), the state (~40 bytes per SNP) and the draws kept so far.
    """
    nonzero = n_snps if nonzero_snps is None else min(int(nonzero_snps), n_snps)
    per_snp = (100 + 10 * n_components) + (120 + 8 * n_components)
    draws = kept_draws * chains
    total = n_snps * per_snp + draws * 13 * (n_monitored + 2)
    snp_draws = draws * (12 + 8 * nonzero) if store_snp_draws else 0
    total += snp_draws
    if checkpoints:
        per_chain = n_snps * (28 + 4 * n_components + 40) + kept_draws * 13 * n_monitored
        total += 2 * (chains * per_chain + snp_draws)
    return int(total + (1 << 20))
