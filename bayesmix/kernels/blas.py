"""BLAS on one thread, cheaply enough to be entered per chain or per LD block.

The order of a threaded BLAS sum, and so the last bits of a dot product, depends on the
thread count; small problems are also slower threaded on a busy machine. Building a
threadpoolctl controller inspects every loaded shared library (5-40 ms), which dominated
short chains (the eigen cut-off tuning runs four per analysis) and per-block work, so one
controller is kept per process and rebuilt only after new Python modules were imported (an
import may have loaded another BLAS, e.g. SciPy's own).
"""

from __future__ import annotations

import sys

_controller = None
_modules_seen = -1


def single_threaded_blas():
    """Context manager limiting every loaded BLAS to one thread (threadpoolctl's ``limit``).

    SciPy's wheels bring their own OpenBLAS next to numpy's; it is loaded here first, so that
    SciPy's LAPACK called inside the context (``scipy.linalg.eigh`` in the LD repair, imported
    there) is limited too: a library loaded after the limit was set would run on every core
    under ``--thread 1``."""
    global _controller, _modules_seen
    import scipy.linalg  # noqa: F401 - loads SciPy's BLAS before the controller looks

    if _controller is None or len(sys.modules) != _modules_seen:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
        _modules_seen = len(sys.modules)
    return _controller.limit(limits=1, user_api="blas")
