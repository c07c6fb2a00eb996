"""bayesmix: Bayesian mixture models of complex-trait genetic architecture.

One package for MiXeR-style causal mixture models of GWAS z-scores and the GCTB Bayesian
alphabet (BayesB/C/S/N/NS/R, SBayesC/R/S). See ``docs/`` and docs/design.md for the map.

Subpackages are imported lazily so that ``import bayesmix`` stays cheap (no numba
compilation, no PyMC import) until a model or kernel is used.

Importing bayesmix gives PyTensor a directory for the Python source it generates for each
compiled function (``generated_src_dir``), unless the user chose one: left unset, PyTensor's
numba backend writes every function to a new ``tmpXXXXXXXX`` file in the system temporary
directory and never removes it (a few per MiXeR fit; thousands after a test run). In the
directory, :func:`pytensor_source_dir`, the files are named by their content, so a function
compiled again reuses its file, and PyTensor removes the ones unused for weeks.
"""

import os as _os
import sys as _sys
import tempfile as _tempfile
from importlib import metadata as _metadata

from bayesmix.errors import BayesmixError, InputError

try:
    __version__ = _metadata.version("bayesmix")
except _metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["BayesmixError", "InputError", "__version__", "pytensor_default",
           "pytensor_source_dir"]


def pytensor_source_dir() -> str:
    """Where bayesmix has PyTensor keep generated source: ``bayesmix-pytensor-<user id>``
    in the system temporary directory (always writable, unlike some home directories)."""
    user = f"-{_os.getuid()}" if hasattr(_os, "getuid") else ""  # Windows: a per-user temp
    return _os.path.join(_tempfile.gettempdir(), f"bayesmix-pytensor{user}")


def pytensor_default(name: str, value, *, replace_live=lambda current: True) -> None:
    """Set PyTensor's config flag ``name`` to ``value`` unless the user set it in
    ``PYTENSOR_FLAGS``: through ``PYTENSOR_FLAGS`` before PyTensor is imported (child
    processes inherit it), else on the live config when ``replace_live(current value)``."""
    flags = _os.environ.get("PYTENSOR_FLAGS", "")
    if name in flags:
        return
    pytensor = _sys.modules.get("pytensor")
    if pytensor is None:
        _os.environ["PYTENSOR_FLAGS"] = ",".join(
            part for part in (flags, f"{name}={value}") if part)
    elif hasattr(pytensor, "config") and replace_live(getattr(pytensor.config, name)):
        setattr(pytensor.config, name, value)


pytensor_default("generated_src_dir", pytensor_source_dir(),
                 replace_live=lambda current: not current)
