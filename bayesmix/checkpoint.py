"""Checkpoint folders of interruptible computations (LD builds, MiXeR fits).

A long computation made of units (LD row blocks, eigen-decomposed LD blocks, the stages of a
fit sequence) keeps its finished units in a folder, so that an interrupted run can continue
where it stopped and end with exactly the result of an uninterrupted run.

Layout (format ``bayesmix-checkpoint``, version 1)::

    state.json    format, version, kind (what computation), fingerprint, the caller's state
                  (JSON: counts of finished units, stage results) and the length of each
                  array file
    NAME.bin      raw arrays appended unit by unit (dtype and length in state.json)

Writes are atomic: array bytes are appended first, then ``state.json`` is replaced
atomically, so the state never names bytes that are not there; bytes past the recorded
length (a run stopped between the two writes) are ignored and overwritten by the next
append. The folder is created with the first finished unit, so a run stopped before any unit
finished leaves nothing.

Resuming is explicit (:meth:`Checkpoint.open`): an existing checkpoint without ``resume``
is an error telling the user to pass ``--resume`` or delete it; with ``resume`` the
fingerprint (what determines the result: settings, input digests, shapes) must match entry
for entry, else an error names every entry that differs with its old and new value.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bayesmix import __version__, interrupt
from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open, atomic_path, json_types

log = logging.getLogger("bayesmix")

FORMAT_NAME = "bayesmix-checkpoint"
FORMAT_VERSION = 1
#: arrays above this many bytes are digested from sampled pieces (:func:`digest_arrays`)
DIGEST_FULL_BYTES = 64 * 2**20
DIGEST_PIECES = 64
DIGEST_PIECE_BYTES = 2**16


class Checkpoint:
    """The checkpoint folder of one computation (see the module docstring).

    Attributes
    ----------
    path : the folder.
    kind : name of the computation, e.g. "build_ld" (a checkpoint of another kind is refused).
    fingerprint : dict[str, str] that must match for a resume.
    state : the caller's JSON state, as last saved (empty for a new run).
    resumed : True when the state was read from an existing checkpoint.
    """

    def __init__(self, path, kind: str, fingerprint: dict):
        self.path = Path(os.fspath(path))
        self.kind = kind
        self.fingerprint = {str(k): str(v) for k, v in fingerprint.items()}
        self.state: dict = {}
        self.lengths: dict[str, list] = {}    # name -> [dtype str, number of elements]
        self.resumed = False

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @classmethod
    def open(cls, path, *, kind: str, fingerprint: dict, resume: bool) -> "Checkpoint | None":
        """The checkpoint at ``path`` (None when ``path`` is None).

        An existing checkpoint is read when ``resume`` is true and its kind and fingerprint
        match; otherwise :class:`InputError`. Without a checkpoint, ``resume`` only logs (at
        DEBUG: a plan of many fits opens each one's with ``resume``) that the run starts from
        the beginning; command lines warn about a ``--resume`` with nothing to resume up
        front (:meth:`check_resume`).
        """
        if path is None:
            return None
        ckpt = cls(path, kind, fingerprint)
        if not ckpt.path.exists():
            if resume:
                log.debug("no checkpoint at %s: starting from the beginning", ckpt.path)
            return ckpt
        if not ckpt.state_file.is_file():
            raise InputError("exists but is not a bayesmix checkpoint (no state.json); delete "
                             "it or choose another output prefix", ckpt.path)
        try:
            doc = json.loads(ckpt.state_file.read_text())
            ok = doc.get("format") == FORMAT_NAME
        except (ValueError, AttributeError):
            ok = False
        if not ok or doc.get("version", 0) > FORMAT_VERSION:
            raise InputError("is not a checkpoint this bayesmix can read; delete it to start "
                             "over", ckpt.state_file)
        if doc.get("kind") != kind:
            raise InputError(f"holds a checkpoint of {doc.get('kind')}, not of {kind}; delete it "
                             "or choose another output prefix", ckpt.path)
        cls.refuse_without_resume(ckpt.path, resume)
        differences = fingerprint_differences(doc.get("fingerprint", {}), ckpt.fingerprint)
        if differences:
            raise InputError("cannot resume: the checkpoint was made with other inputs or "
                             f"settings ({'; '.join(differences)}); delete it to start over",
                             ckpt.path)
        ckpt.state = doc.get("state", {})
        ckpt.lengths = {k: list(v) for k, v in doc.get("arrays", {}).items()}
        ckpt.resumed = True
        log.info("resuming from the checkpoint %s", ckpt.path)
        return ckpt

    @staticmethod
    def refuse_without_resume(path, resume: bool) -> None:
        """InputError when something exists at ``path`` and ``resume`` is false: a cheap
        check to make before loading inputs (:meth:`open` makes it again)."""
        if path is not None and not resume and os.path.lexists(path):
            raise InputError("a checkpoint of an unfinished run exists here: give --resume "
                             "(resume=True) to continue it, or delete it to start over", path)

    @classmethod
    def check_resume(cls, path, resume: bool) -> None:
        """The check of a command line before loading inputs: a checkpoint at ``path``
        without ``resume`` is refused (:meth:`refuse_without_resume`); ``resume`` with no
        checkpoint there is warned about (stderr and the run's log), once."""
        cls.refuse_without_resume(path, resume)
        if resume and not os.path.lexists(path):
            log.warning(nothing_to_resume(path))

    # ------------------------------------------------------------------ writing
    def save(self, state: dict) -> None:
        """Replace the state atomically. JSON types, numpy scalars and arrays (stored as
        lists); floats round-trip exactly, NaN and infinities included."""
        self.state = json_types(state)
        self._ensure_folder()
        self._write_state()

    def append(self, arrays: dict, state: dict) -> None:
        """Append ``arrays`` (name -> 1-D array) to their files, then save ``state``."""
        self._ensure_folder()
        for name, values in arrays.items():
            values = np.ascontiguousarray(values).ravel()
            dtype, length = self.lengths.get(name, [values.dtype.str, 0])
            if np.dtype(dtype) != values.dtype:
                raise TypeError(f"checkpoint array {name} holds {dtype}, not {values.dtype.str}")
            file = self.path / f"{name}.bin"
            with open(file, "r+b" if file.exists() else "wb") as fh:
                fh.truncate(length * values.dtype.itemsize)
                fh.seek(0, os.SEEK_END)
                fh.write(values.tobytes())
            self.lengths[name] = [dtype, length + values.size]
        self.state = json_types(state)
        self._write_state()

    def _ensure_folder(self) -> None:
        if not self.state_file.exists():
            with atomic_path(self.path) as tmp:
                tmp.mkdir()
                self._write_state(tmp / "state.json")

    def _write_state(self, file=None) -> None:
        doc = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "kind": self.kind,
               "created_by": f"bayesmix {__version__}", "fingerprint": self.fingerprint,
               "arrays": self.lengths, "state": self.state}
        with atomic_open(file or self.state_file) as fh:
            json.dump(doc, fh)

    # ------------------------------------------------------------------ reading
    def array(self, name: str) -> np.ndarray:
        """The recorded part of array ``name`` (empty when nothing was appended)."""
        if name not in self.lengths:
            return np.zeros(0)
        dtype, length = self.lengths[name]
        dtype = np.dtype(dtype)
        file = self.path / f"{name}.bin"
        size = file.stat().st_size if file.exists() else 0
        if size < length * dtype.itemsize:
            raise InputError(f"holds {size} bytes where state.json records "
                             f"{length * dtype.itemsize}: the checkpoint is damaged; delete it "
                             "to start over", file)
        return np.fromfile(file, dtype=dtype, count=length)

    def remove(self) -> None:
        """Delete the folder (the computation finished): renamed away in one step, then
        deleted, with signals deferred (:func:`bayesmix.interrupt.deferred`), so neither a
        signal nor a crash can leave a torn checkpoint under the name."""
        if not self.path.exists():
            return
        with interrupt.deferred():
            trash = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.removed-",
                                          dir=self.path.parent))
            os.replace(self.path, trash / self.path.name)
            shutil.rmtree(trash)


_DIGEST = re.compile(r"\b([0-9a-f]{12})[0-9a-f]{52}\b")


def _shown(value) -> str:
    """A fingerprint value for a message: SHA-256 digests shortened to 12 hex digits."""
    return "(absent)" if value is None else _DIGEST.sub(r"\1", str(value))


def nothing_to_resume(what, start: str = "the beginning") -> str:
    """The warning of a ``--resume`` that finds no checkpoint ``what`` (the run starts from
    ``start``)."""
    return (f"warning: --resume: no checkpoint {what} to continue; starting from {start} "
            "(resuming needs the interrupted command's --out)")


def fingerprint_differences(old: dict, new: dict) -> list[str]:
    """'NAME: VALUE in the checkpoint, now VALUE' for every entry that differs."""
    return [f"{name}: {_shown(old.get(name))} in the checkpoint, now {_shown(new.get(name))}"
            for name in list(new) + [k for k in old if k not in new]
            if old.get(name) != new.get(name)]


def digest_arrays(*arrays) -> str:
    """sha256 (hex) of arrays' dtypes, shapes and contents: in full up to
    :data:`DIGEST_FULL_BYTES` each, else the first and last pieces and
    :data:`DIGEST_PIECES` evenly spaced pieces of :data:`DIGEST_PIECE_BYTES` (so a
    10 GB LD store costs milliseconds; callers digest their input files separately)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        raw = a.reshape(-1).view(np.uint8)
        if raw.size <= DIGEST_FULL_BYTES:
            h.update(raw.data)
            continue
        starts = np.linspace(0, raw.size - DIGEST_PIECE_BYTES, DIGEST_PIECES + 2).astype(np.int64)
        for s in starts:
            h.update(raw[s:s + DIGEST_PIECE_BYTES].data)
    return h.hexdigest()
