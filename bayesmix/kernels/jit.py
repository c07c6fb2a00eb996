"""The one place where numba compilation options are decided.

- ``cache=True`` (set ``BAYESMIX_NUMBA_CACHE=0`` to disable, e.g. on a read-only install;
  or set ``NUMBA_CACHE_DIR``).
- ``error_model="numpy"``: a division by zero gives inf/nan instead of raising
  ZeroDivisionError inside a sampler (which would kill a chain).
- fastmath without ``nnan``/``ninf``: plain ``fastmath=True`` lets LLVM assume no NaN/inf, so
  ``np.isfinite`` and ``x != x`` checks silently stop working (verified: under it
  ``np.isfinite(math.log(0.0))`` is True). We keep contraction, reassociation and approximate
  functions. The option is always passed, also as False: a kernel that leaves it unset
  inherits the fastmath flags of the jitted caller that first compiles it, and that version
  is then cached for every caller (seen: a ``fastmath=False`` kernel then divided by a
  reciprocal).

numba's cache key ignores jit options, so never compile one Python function under two
option sets: give each variant its own ``def``. Its index also checks only the file of the
cached function itself: after editing a helper that kernels of other modules call
(:mod:`bayesmix.kernels.vector_math`, :mod:`bayesmix.kernels.random`), clear the stale
entries (``find bayesmix -name '*.nb[ic]' -delete``); an installed release changes every file.

Parallel kernels use numba's ``workqueue`` threading layer unless ``NUMBA_THREADING_LAYER``
says otherwise: chains run in forked processes, and a process that forks after an OpenMP
parallel region (numba's default layer) aborts in the child. It is set at import, before any
parallel kernel can run.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numba  # noqa: E402 - the threading layer must be chosen before numba starts threads

SAFE_FASTMATH = frozenset({"contract", "arcp", "reassoc", "afn", "nsz"})
CACHE = os.environ.get("BAYESMIX_NUMBA_CACHE", "1") != "0"


def njit(func=None, *, parallel: bool = False, fastmath: bool | set = True, **options):
    """``numba.njit`` with the project's defaults; usable as ``@njit`` or ``@njit(...)``.

    ``fastmath``: True for :data:`SAFE_FASTMATH`, False for none, or a subset of it (e.g.
    ``{"contract"}`` for code whose rounding must not be reassociated)."""
    opts = dict(cache=CACHE, error_model="numpy", nogil=True, parallel=parallel)
    if isinstance(fastmath, (set, frozenset)):
        if not fastmath <= SAFE_FASTMATH:
            raise ValueError(f"fastmath flags {sorted(fastmath - SAFE_FASTMATH)} are unsafe")
        opts["fastmath"] = set(fastmath)
    else:  # always given: numba lets a kernel that leaves it unset inherit its caller's
        opts["fastmath"] = set(SAFE_FASTMATH) if fastmath else False
    opts.update(options)
    if func is None:
        return lambda f: numba.njit(**opts)(f)
    return numba.njit(**opts)(func)
